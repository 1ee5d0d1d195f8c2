"""End to end, as a user would: set up through the flows, save a clip, browse it, play it.

Everything is real: the GStreamer RTSP camera (tests/sim), PyAV's probe and demuxer, the
writer thread, the clip on disk, HA's media source and HTTP server. The served bytes are
decoded to prove the clip plays and starts with its pre-roll.
"""

from __future__ import annotations

import io
from pathlib import Path
import threading
from typing import Any

import av
from homeassistant.components import media_source
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lookback.const import DOMAIN, EVENT_CLIP_SAVED, SUBENTRY_CAMERA
from tests.ha_helpers import (
    async_next_bus_event,
    async_wait_camera,
    async_wait_connected,
    async_wait_for,
)
from tests.sim.camera import CameraFactory

PRE_ROLL = 2.0
POST_ROLL = 1.0
FPS = 10


async def _browse(hass: HomeAssistant, media_content_id: str) -> list[Any]:
    item = await media_source.async_browse_media(hass, media_content_id)
    return list(item.children or [])


def _decode(body: bytes) -> tuple[int, bool, float]:
    """Frames, whether the first is a keyframe, and the video's duration in seconds."""
    with av.open(io.BytesIO(body), mode="r") as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    first, last = frames[0], frames[-1]
    assert first.time is not None
    assert last.time is not None
    return len(frames), first.key_frame, last.time - first.time


async def test_flow_save_clip_browse_and_play(
    hass: HomeAssistant,
    tmp_path: Path,
    rtsp_camera: CameraFactory,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    sim = rtsp_camera(
        mode="live", codec="h264", width=640, height=360, fps=FPS, seconds=30, gop_seconds=1
    )
    assert await async_setup_component(hass, "media_source", {})

    # 1. The NVR entry, from the user step.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "storage_path": str(tmp_path / "clips"),
            "storage_max_gb": 0,
            "pre_roll": PRE_ROLL,
            "post_roll": POST_ROLL,
            "smtp_enabled": False,
            "smtp_host": "0.0.0.0",
            "smtp_port": 2525,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # 2. A camera, probed and confirmed; adding it reloads the entry with the camera running.
    camera_flow = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_CAMERA), context={"source": SOURCE_USER}
    )
    camera_flow = await hass.config_entries.subentries.async_configure(
        camera_flow["flow_id"],
        {
            "name": "Front door",
            "url": sim.url,
            "transport": "tcp",
            "pre_roll": PRE_ROLL,
            "post_roll": POST_ROLL,
            "max_clip_seconds": 600,
            "retention_days": 14,
            "retention_gb": 0,
        },
    )
    assert camera_flow["step_id"] == "confirm"
    found = camera_flow["description_placeholders"]
    assert found is not None
    assert found["resolution"] == "640x360"
    camera_flow = await hass.config_entries.subentries.async_configure(camera_flow["flow_id"], {})
    assert camera_flow["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    camera = entry.runtime_data.hub.cameras["front_door"]
    await async_wait_connected(camera)
    pipeline = camera.pipeline
    assert pipeline is not None
    await async_wait_camera(
        camera, lambda: pipeline.ring.duration >= PRE_ROLL + 1, "the pre-roll in the ring"
    )

    # 3. The service saves a clip; its bus event names the clip and signed URLs.
    saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)
    response = await hass.services.async_call(
        DOMAIN,
        "save_clip",
        {"entity_id": "camera.front_door", "pre_roll": PRE_ROLL, "post_roll": POST_ROLL},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    event_id = response["event_id"]
    clip_event = (await async_wait_for(saved, "lookback_clip_saved")).data
    assert clip_event["event_id"] == event_id
    assert clip_event["camera_entity_id"] == "camera.front_door"

    # 4. The media browser: camera -> day -> the clip, which resolves to the file view.
    root = await _browse(hass, f"media-source://{DOMAIN}")
    folder = next(child for child in root if child.title == "Front door")
    days = await _browse(hass, folder.media_content_id)
    clips = await _browse(hass, days[0].media_content_id)
    assert [clip.media_content_id for clip in clips] == [clip_event["media_content_id"]]
    assert clips[0].can_play
    assert clips[0].thumbnail
    played = await media_source.async_resolve_media(hass, clips[0].media_content_id, None)
    assert played.mime_type == "video/mp4"

    # 5. HTTP: the whole clip (200), a range for seeking (206), the signed URL without login.
    client = await hass_client()
    whole = await client.get(played.url)
    assert whole.status == 200
    assert whole.headers["Content-Type"] == "video/mp4"
    body = await whole.read()
    ranged = await client.get(played.url, headers={"Range": "bytes=100-1099"})
    assert ranged.status == 206
    assert await ranged.read() == body[100:1100]
    anonymous = await hass_client_no_auth()
    assert (await anonymous.get(played.url)).status == 401
    signed = await anonymous.get(clip_event["clip_url"])
    assert signed.status == 200
    assert await signed.read() == body

    # 6. What was served plays: a keyframe first, the pre-roll and post-roll all there.
    frames, starts_with_keyframe, seconds = _decode(body)
    assert starts_with_keyframe
    assert seconds >= PRE_ROLL + POST_ROLL - 0.2
    assert frames >= (PRE_ROLL + POST_ROLL) * FPS - 2

    # 7. Unloading stops every thread Lookback started.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not [t for t in threading.enumerate() if "front_door" in t.name]
