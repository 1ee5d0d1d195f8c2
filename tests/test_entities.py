"""HA tests: a camera's entities follow the core, against the real RTSP simulator.

The core calls the hub from its threads through the loop; these tests watch what reaches HA:
states, attributes, bus events and repair issues.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import io
from pathlib import Path
import threading
import time
from types import MappingProxyType

from homeassistant.components.camera import async_get_image, async_get_stream_source
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed, mock_restore_cache

from custom_components.lookback.camera_hub import CameraHub
from custom_components.lookback.const import (
    DOMAIN,
    EVENT_CLIP_SAVED,
    EVENT_EVENT_ENDED,
    EVENT_EVENT_STARTED,
)
from custom_components.lookback.core.models import Trigger
from custom_components.lookback.repairs import ISSUE_SOURCE_DOWN, ISSUE_WRITE_FAILED
from tests.ha_helpers import (
    CAMERA_MEDIA,
    UNREACHABLE_URL,
    async_next_bus_event,
    async_setup_lookback,
    async_unload_lookback,
    async_wait_camera,
    async_wait_connected,
    async_wait_for,
    camera_subentry,
)
from tests.sim.camera import CameraFactory, SimulatedCamera

CAMERA = "camera.front"


@pytest.fixture
async def front(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> AsyncIterator[tuple[SimulatedCamera, CameraHub]]:
    """A live simulated camera configured as "Front", connected; unloaded at the end."""
    sim = rtsp_camera(mode="live", **CAMERA_MEDIA)
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[camera_subentry("front", "Front", sim.url, pre_roll=2, post_roll=1)],
    )
    camera = entry.runtime_data.hub.cameras["front"]
    await async_wait_connected(camera)  # connected: a keyframe is in the ring
    yield sim, camera
    await async_unload_lookback(hass, entry)


def state(hass: HomeAssistant, entity_id: str) -> State:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current


async def test_connected_camera_entities(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    sim, camera = front
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.front_connectivity").state == STATE_ON
    assert state(hass, "binary_sensor.front_recording").state == STATE_OFF
    assert state(hass, "switch.front_recording_enabled").state == STATE_ON
    # The static picture has no motion, and no alert came in.
    motion = state(hass, "binary_sensor.front_motion")
    assert motion.state == STATE_OFF
    assert motion.attributes["zones"] == []
    assert state(hass, "switch.front_motion_detection").state == STATE_ON
    alert = state(hass, "binary_sensor.front_camera_alert")
    assert alert.state == STATE_OFF
    assert alert.attributes["source"] is None

    assert await async_get_stream_source(hass, CAMERA) == sim.url
    image = await async_get_image(hass, CAMERA)
    assert image.content_type == "image/jpeg"
    with Image.open(io.BytesIO(image.content)) as picture:
        assert picture.size == (640, 360)  # the ring's keyframe, decoded; no second connection
    small = await async_get_image(hass, CAMERA, width=320)
    with Image.open(io.BytesIO(small.content)) as picture:
        assert picture.size[0] <= 320

    # Statistics are read from memory on a timer and pushed when they change.
    pipeline = camera.pipeline
    assert pipeline is not None
    await async_wait_camera(camera, lambda: pipeline.stats.fps is not None, "a GOP of statistics")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()
    fps = float(state(hass, "sensor.front_frame_rate").state)
    assert 8 <= fps <= 12
    assert float(state(hass, "sensor.front_keyframe_interval").state) == pytest.approx(1.0, 0.2)
    assert float(state(hass, "sensor.front_bitrate").state) > 0
    assert float(state(hass, "sensor.front_pre_roll_memory").state) > 0
    assert state(hass, "sensor.front_reconnects").state == "0"

    entry = er.async_get(hass).async_get(CAMERA)
    assert entry is not None
    assert entry.unique_id == "front_camera"
    assert entry.config_subentry_id == camera.subentry_id


async def test_trigger_makes_event_clip_and_bus_events(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    _sim, camera = front
    started = async_next_bus_event(hass, EVENT_EVENT_STARTED)
    ended = async_next_bus_event(hass, EVENT_EVENT_ENDED)
    saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)

    pipeline = camera.pipeline
    assert pipeline is not None
    await async_wait_camera(camera, lambda: pipeline.ring.duration >= 2.5, "2.5 s in the ring")
    event = camera.async_trigger(Trigger("front", "test", time.time(), "person", 0.9))
    assert event is not None
    data = (await async_wait_for(started, "event started")).data
    assert state(hass, "binary_sensor.front_recording").state == STATE_ON
    assert data["camera_entity_id"] == CAMERA
    assert data["event_id"] == event.event_id
    assert data["labels"] == {"person": 0.9}
    assert data["media_content_id"] == f"media-source://lookback/clip/front/{event.event_id}"
    event_state = state(hass, "event.front_event")
    assert event_state.attributes["event_type"] == "event_started"
    assert event_state.attributes["event_id"] == event.event_id

    assert (await async_wait_for(ended, "event ended")).data["event_id"] == event.event_id
    clip = (await async_wait_for(saved, "clip saved")).data
    assert clip["event_id"] == event.event_id
    assert clip["duration"] >= 2.8  # pre-roll 2 s (from a keyframe) + post-roll 1 s
    assert clip["clip_url"].startswith("/api/lookback/file/front/")
    assert "authSig=" in clip["clip_url"]
    assert clip["thumbnail_url"] is not None
    assert "authSig=" in clip["thumbnail_url"]
    await hass.async_block_till_done(wait_background_tasks=True)  # storage recount
    assert state(hass, "binary_sensor.front_recording").state == STATE_OFF
    assert state(hass, "event.front_event").attributes["event_type"] == "clip_saved"
    assert state(hass, "sensor.front_clips_stored").state == "1"
    assert state(hass, "sensor.front_last_event").state != "unknown"
    assert camera.bytes_stored > 0


async def test_recording_switch_off_makes_no_clip(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    _sim, camera = front
    started: list[Event] = []
    hass.bus.async_listen(EVENT_EVENT_STARTED, started.append)
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.front_recording_enabled"}, blocking=True
    )
    assert state(hass, "switch.front_recording_enabled").state == STATE_OFF
    assert camera.async_trigger(Trigger("front", "test", time.time())) is None
    await hass.async_block_till_done()
    assert started == []
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.front_recording_enabled"}, blocking=True
    )
    assert camera.recording_enabled


async def test_recording_switch_state_survives_restart(hass: HomeAssistant, tmp_path: Path) -> None:
    mock_restore_cache(hass, [State("switch.front_recording_enabled", STATE_OFF)])
    entry = await async_setup_lookback(hass, tmp_path, cameras={"front": UNREACHABLE_URL})
    assert not entry.runtime_data.hub.cameras["front"].recording_enabled
    assert state(hass, "switch.front_recording_enabled").state == STATE_OFF
    await async_unload_lookback(hass, entry)


async def test_camera_down_goes_unavailable_then_repair_then_recovers(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    sim, camera = front
    await hass.async_block_till_done()
    sim.stop()
    await async_wait_camera(camera, lambda: not camera.connected, "stream down")
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.front_connectivity").state == STATE_OFF
    assert state(hass, CAMERA).state == STATE_UNAVAILABLE
    assert state(hass, "sensor.front_frame_rate").state == STATE_UNAVAILABLE
    assert state(hass, "switch.front_recording_enabled").state == STATE_ON
    # The ring forgot the video from before the outage: no stale "pre-roll" for a new event.
    assert camera.pipeline is not None
    assert camera.pipeline.ring.latest_keyframe() is None
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(DOMAIN, "save_clip", {"entity_id": CAMERA}, blocking=True)
    assert raised.value.translation_key == "camera_unavailable"

    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"{ISSUE_SOURCE_DOWN}_front") is None
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=6))
    await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, f"{ISSUE_SOURCE_DOWN}_front")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["camera"] == "Front"

    sim.start()  # same port: the source's back-off reconnects
    await async_wait_connected(camera)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, f"{ISSUE_SOURCE_DOWN}_front") is None
    assert state(hass, "binary_sensor.front_connectivity").state == STATE_ON


async def test_write_failure_raises_a_repair_that_the_next_clip_clears(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    _sim, camera = front
    camera.write_failed("No space left on device")  # the core's call, as from the writer
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"{ISSUE_WRITE_FAILED}_front")
    assert issue is not None
    assert issue.translation_placeholders == {
        "camera": "Front",
        "reason": "No space left on device",
    }
    saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)
    camera.async_trigger(Trigger("front", "test", time.time()), post_roll=0.5)
    await async_wait_for(saved, "clip saved")
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{ISSUE_WRITE_FAILED}_front") is None


async def test_wrong_password_starts_reauth_once(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> None:
    sim = rtsp_camera(user="admin", password="right", **(CAMERA_MEDIA | {"seconds": 4}))
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "front", "Front", sim.url_for(auth=False), username="admin", password="wrong"
            )
        ],
    )
    camera = entry.runtime_data.hub.cameras["front"]
    await async_wait_camera(camera, lambda: camera.last_error is not None, "auth failure")
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    reauth = [flow for flow in flows if flow["context"].get("source") == "reauth"]
    assert len(reauth) == 1
    assert "wrong" not in str(camera.last_error)  # credentials never reach logs or states
    await async_unload_lookback(hass, entry)


async def test_shutdown_closes_the_open_clip(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    # HA does not unload entries when it stops: the open clip must still be finished.
    _sim, camera = front
    saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)
    event = camera.async_trigger(Trigger("front", "test", time.time()), post_roll=600)
    assert event is not None
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    clip = (await async_wait_for(saved, "the clip closed at shutdown")).data
    assert clip["event_id"] == event.event_id
    await hass.async_block_till_done()  # the stop handler joins the threads after the clip
    assert not [t for t in threading.enumerate() if t.name.endswith("-front")]


async def test_removing_the_entry_removes_its_issues(
    hass: HomeAssistant, front: tuple[SimulatedCamera, CameraHub]
) -> None:
    _sim, camera = front
    camera.write_failed("disk on fire")
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{ISSUE_WRITE_FAILED}_front") is not None
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not [key for key in ir.async_get(hass).issues if key[0] == DOMAIN]


async def test_cameras_are_added_changed_and_removed_without_restarting_the_others(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await async_setup_lookback(hass, tmp_path, cameras={"front": UNREACHABLE_URL})
    hub = entry.runtime_data.hub
    front_pipeline = hub.cameras["front"].pipeline
    assert front_pipeline is not None

    # Added: the new camera gets its entities; the running one is not restarted.
    back = camera_subentry("back", "Back", UNREACHABLE_URL)
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType(dict(back["data"])),
            subentry_type=back["subentry_type"],
            title=back["title"],
            unique_id=back["unique_id"],
        ),
    )
    await hass.async_block_till_done()
    assert set(hub.cameras) == {"front", "back"}
    assert hub.cameras["front"].pipeline is front_pipeline
    assert hass.states.get("camera.back") is not None
    assert entry.state is ConfigEntryState.LOADED

    # Changed: only that camera restarts, with the new settings; its entities stay.
    back_id = hub.cameras["back"].subentry_id
    subentry = entry.subentries[back_id]
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, "post_roll": 7}
    )
    await hass.async_block_till_done()
    assert hub.cameras["back"].config.post_roll == 7
    assert hub.cameras["front"].pipeline is front_pipeline
    assert hass.states.get("camera.back") is not None
    assert len(hass.states.async_entity_ids("camera")) == 4  # each with its motion view

    # Removed: its entities and its threads go.
    hass.config_entries.async_remove_subentry(entry, back_id)
    await hass.async_block_till_done()
    assert set(hub.cameras) == {"front"}
    assert hass.states.get("camera.back") is None
    assert not [t for t in threading.enumerate() if t.name.endswith("-back")]
    assert hub.cameras["front"].pipeline is front_pipeline

    # The NVR's own settings: the whole entry reloads.
    hass.config_entries.async_update_entry(entry, data={**entry.data, "post_roll": 3})
    await hass.async_block_till_done()
    assert entry.runtime_data.hub is not hub
    await async_unload_lookback(hass, entry)
