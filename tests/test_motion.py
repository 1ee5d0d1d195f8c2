"""Motion detection in HA: a person walking past the real RTSP camera makes motion and a clip.

The camera is the GStreamer simulator (tests/sim) playing a generated clip in which a person
photo crosses the scene during known seconds; the analysis runs on its real keyframes.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
from homeassistant.components.camera import async_get_image
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from PIL import Image
from pytest_homeassistant_custom_component.common import mock_restore_cache

from custom_components.lookback.const import EVENT_CLIP_SAVED, EVENT_EVENT_STARTED
from tests.ha_helpers import (
    UNREACHABLE_URL,
    async_next_bus_event,
    async_setup_lookback,
    async_unload_lookback,
    async_wait_camera,
    async_wait_connected,
    async_wait_for,
    camera_subentry,
    lookback_hub,
)
from tests.sim.camera import CameraFactory
from tests.sim.media import ClipFactory, ClipOptions

# The person walks in from the left 3 s into the clip and is gone at 9 s.
WALK = (3.0, 9.0)
MEDIA: ClipOptions = {
    "width": 640,
    "height": 360,
    "fps": 10,
    "seconds": 14,
    "gop_seconds": 1,
    "noise": 2.0,
}
WALKING: ClipOptions = {**MEDIA, "motion": [WALK]}
LEFT_HALF = "left: 0,0 0.5,0 0.5,1 0,1"
RIGHT_HALF = "right: 0.5,0 1,0 1,1 0.5,1"


def state(hass: HomeAssistant, entity_id: str) -> State:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current


async def test_walking_person_makes_motion_zones_and_a_clip(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, make_media: ClipFactory
) -> None:
    sim = rtsp_camera(make_media(**WALKING), mode="live")
    # Motion detection starts switched off (restored) and is switched on once the ring holds
    # more than the pre-roll, so the clip's pre-roll cannot be cut short by a fresh connection.
    mock_restore_cache(hass, [State("switch.front_motion_detection", STATE_OFF)])
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "front",
                "Front",
                sim.url,
                pre_roll=2,
                post_roll=1,
                motion_min_duration=1,
                motion_zones=f"{LEFT_HALF}\n{RIGHT_HALF}",
            )
        ],
    )
    camera = lookback_hub(entry).cameras["front"]
    await async_wait_connected(camera)
    pipeline = camera.pipeline
    assert pipeline is not None
    await async_wait_camera(camera, lambda: pipeline.ring.duration >= 3, "3 s in the ring")
    started = async_next_bus_event(hass, EVENT_EVENT_STARTED)
    saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.front_motion_detection"}, blocking=True
    )
    assert state(hass, "binary_sensor.front_motion_left").state in (STATE_OFF, STATE_ON)

    # The person walks by (the loop is 14 s): motion, and an event started by motion.
    event = (await async_wait_for(started, "an event started by motion", within=30)).data
    assert [t["source"] for t in event["triggers"]] == ["motion"]
    trigger = event["triggers"][0]
    assert trigger["score"] > 0
    assert trigger["data"]["zones"]
    assert trigger["data"]["boxes"]
    motion = state(hass, "binary_sensor.front_motion")
    assert motion.state == STATE_ON
    assert motion.attributes["score"] > 0
    assert motion.attributes["boxes"]
    assert motion.attributes["zones"] == trigger["data"]["zones"]

    # Walking left to right, the person reaches the right half (a trigger names that zone).
    await async_wait_camera(
        camera, lambda: camera.motion is not None and "right" in camera.motion.zones, "right zone"
    )
    assert state(hass, "binary_sensor.front_motion_right").state == STATE_ON

    # The tuning view: four 320x180 panels.
    image = await async_get_image(hass, "camera.front_motion_detection_view")
    with Image.open(io.BytesIO(image.content)) as picture:
        assert picture.size == (640, 360)

    # The person leaves: motion ends, the clip closes with its pre-roll before the trigger.
    clip = (await async_wait_for(saved, "the motion clip", within=40)).data
    assert clip["event_id"] == event["event_id"]
    assert {t["source"] for t in clip["triggers"]} == {"motion"}
    assert any("right" in t["data"]["zones"] for t in clip["triggers"])
    await async_wait_camera(camera, lambda: not camera.motion_on, "motion to end")
    assert state(hass, "binary_sensor.front_motion").state == STATE_OFF
    assert state(hass, "binary_sensor.front_motion_right").state == STATE_OFF
    info = camera._hub.store.clip("front", clip["clip_id"])
    assert info is not None
    assert info.trigger_time - info.start_time >= 1.9  # the 2 s pre-roll, from a keyframe
    with av.open(str(tmp_path / info.path)) as container:
        first = next(container.decode(video=0))
        assert first.key_frame
    await async_unload_lookback(hass, entry)


async def test_motion_from_the_detect_stream(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, make_media: ClipFactory
) -> None:
    # The main stream is static; only the sub-stream shows the person: motion proves which
    # stream is analysed.
    main = make_media(**MEDIA)
    small: ClipOptions = {**WALKING, "width": 320, "height": 180}
    sub = make_media(**small)
    sim = rtsp_camera({"/main": main, "/sub": sub})
    started = async_next_bus_event(hass, EVENT_EVENT_STARTED)
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry("front", "Front", sim.url_for("/main"), detect_url=sim.url_for("/sub"))
        ],
    )
    camera = lookback_hub(entry).cameras["front"]
    event = (await async_wait_for(started, "motion on the sub-stream")).data
    assert event["triggers"][0]["source"] == "motion"
    assert camera.detect_connected is True
    assert state(hass, "binary_sensor.front_motion").state == STATE_ON
    pipeline = camera.pipeline
    assert pipeline is not None
    assert pipeline.detect_source is not None
    assert pipeline.detect_source.stats.width == 320
    assert pipeline.analysis.stats.frames_analysed > 0
    await async_unload_lookback(hass, entry)


async def test_motion_is_unavailable_while_the_detect_stream_is_down(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> None:
    sim = rtsp_camera(**MEDIA)
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[camera_subentry("front", "Front", sim.url, detect_url=UNREACHABLE_URL)],
    )
    camera = lookback_hub(entry).cameras["front"]
    await async_wait_connected(camera)
    # The main stream records; motion says it cannot see rather than a made-up "off".
    assert state(hass, "binary_sensor.front_recording").state == STATE_OFF
    assert camera.detect_connected is False
    assert state(hass, "binary_sensor.front_motion").state == STATE_UNAVAILABLE
    assert state(hass, "camera.front_motion_detection_view").state == STATE_UNAVAILABLE
    await async_unload_lookback(hass, entry)


async def test_motion_switch_stops_analysis_and_is_restored(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    mock_restore_cache(hass, [State("switch.front_motion_detection", STATE_OFF)])
    entry = await async_setup_lookback(hass, tmp_path, {"front": UNREACHABLE_URL})
    camera = lookback_hub(entry).cameras["front"]
    pipeline = camera.pipeline
    assert pipeline is not None
    assert state(hass, "switch.front_motion_detection").state == STATE_OFF
    assert not camera.motion_enabled
    assert not pipeline.analysis.enabled
    assert state(hass, "binary_sensor.front_motion").state == STATE_UNAVAILABLE
    assert await camera.async_motion_debug_image() is None

    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.front_motion_detection"}, blocking=True
    )
    assert pipeline.analysis.stats.enabled  # (stats: a fresh read, mypy keeps no narrowing)
    assert state(hass, "switch.front_motion_detection").state == STATE_ON
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.front_motion_detection"}, blocking=True
    )
    assert not pipeline.analysis.enabled
    await async_unload_lookback(hass, entry)


async def test_zone_entities_follow_the_zones(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[camera_subentry("front", "Front", UNREACHABLE_URL, motion_zones=LEFT_HALF)],
    )
    registry = er.async_get(hass)
    assert registry.async_get("binary_sensor.front_motion_left") is not None

    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, "motion_zones": "Drive way: 0,0 1,0 1,1"}
    )
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.front_motion_left") is None
    assert registry.async_get("binary_sensor.front_motion_drive_way") is not None
    assert lookback_hub(entry).cameras["front"].zone_names == ("Drive way",)
    await async_unload_lookback(hass, entry)
