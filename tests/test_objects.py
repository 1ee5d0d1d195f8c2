"""Object detection in HA: a person crossing the real RTSP camera, the remote server, repairs.

The camera is the GStreamer simulator playing a generated yard scene in which a person (cut out
of a photograph) walks across; the bundled COCO model runs on the moving frames for real. The
remote detector talks to a local test server (tests/sim/detection_server.py): no CodeProject.AI
or DeepStack server can be installed here.
"""

from __future__ import annotations

import io
from pathlib import Path
from unittest.mock import patch

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.requirements import RequirementsNotFound
from homeassistant.util import package
import numpy as np
from PIL import Image
import pytest

from custom_components.lookback import detector_hub
from custom_components.lookback.const import (
    DOMAIN,
    EVENT_CLIP_SAVED,
    EVENT_OBJECT_DETECTED,
    SERVICE_TRIGGER,
)
from custom_components.lookback.core.objects.annotate import colour_of
from custom_components.lookback.core.objects.errors import DetectorError, DetectorErrorKind
from custom_components.lookback.core.objects.model import BUNDLED_LABELS, BUNDLED_MODEL
from custom_components.lookback.media_titles import clip_title
from custom_components.lookback.repairs import ISSUE_DETECTOR_MODEL, ISSUE_DETECTOR_RUNTIME_MISSING
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
from tests.sim.detection_server import DetectionTestServer, ServerMode, prediction
from tests.sim.scenes import LabelledClip, Scene, Walk, make_scene

# A person in a dark coat walks across the yard, in view from about 3 s to 11 s of each loop.
CROSSING = Scene(
    name="person-crossing",
    kind="objects",
    seconds=14,
    fps=10,
    gop_seconds=1,
    walks=(Walk("cameraman", start=3.0, height=0.55, ground=0.9, speed=0.15),),
)


@pytest.fixture(scope="module")
def crossing(tmp_path_factory: pytest.TempPathFactory) -> LabelledClip:
    """The scene, encoded once for the module."""
    return make_scene(tmp_path_factory.mktemp("scenes"), CROSSING)


# Camera settings under which motion detection finds nothing in the scene.
NO_MOTION = {"motion_sensitivity": 0, "motion_min_area": 50}


def broken_model(path: Path) -> Path:
    """A .tflite file that is not a model, with a labels file beside it."""
    path.write_bytes(b"not a model")
    path.with_suffix(".txt").write_text("person\n")
    return path


def state(hass: HomeAssistant, entity_id: str) -> State:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current


def coloured_pixels(jpeg: bytes, colour: tuple[int, int, int]) -> int:
    """Pixels within a small distance of ``colour`` (the boxes' outline and tag)."""
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int16)
    distance = np.abs(pixels - np.array(colour, dtype=np.int16)).sum(axis=2)
    return int((distance < 60).sum())


async def test_person_crossing_turns_person_on_and_labels_the_clip(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, crossing: LabelledClip
) -> None:
    sim = rtsp_camera(crossing.as_clip(), mode="live")
    detected = async_next_bus_event(hass, EVENT_OBJECT_DETECTED)
    saved = async_next_bus_event(
        hass, EVENT_CLIP_SAVED, lambda data: "person" in data.get("objects", {})
    )
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry(
                "front", "Front", sim.url, pre_roll=2, post_roll=1, motion_min_duration=1
            )
        ],
        detector="local",
    )
    await hass.async_block_till_done(wait_background_tasks=True)  # the model loaded
    camera = lookback_hub(entry).cameras["front"]
    await async_wait_connected(camera)
    assert state(hass, "binary_sensor.front_person").state == STATE_OFF

    event = await async_wait_for(detected, "a person to be detected", within=60)
    assert event.data["label"] == "person"
    assert event.data["score"] >= 0.6
    assert event.data["reason"] == "motion"
    assert event.data["event_id"] is not None  # the motion's clip got the label
    person = state(hass, "binary_sensor.front_person")
    assert person.state == STATE_ON
    assert person.attributes["count"] == 1
    assert person.attributes["score"] >= 0.6
    assert person.attributes["device_class"] == "occupancy"
    # Nothing else walks by: the other tracked labels stay off.
    assert state(hass, "binary_sensor.front_car").state == STATE_OFF
    assert state(hass, "binary_sensor.front_dog").state == STATE_OFF

    clip = (await async_wait_for(saved, "the labelled clip", within=60)).data
    assert clip["labels"]["person"] >= 0.6
    assert clip["objects"]["person"]["score"] == clip["labels"]["person"]
    _x, _y, width, height = clip["objects"]["person"]["box"]
    assert 0 < width < 0.5  # a standing person, not the whole yard
    assert 0.3 < height < 0.8
    assert any(t["source"] == "object" and t["label"] == "person" for t in clip["triggers"])

    # The thumbnail is the best detection, drawn: the person's box in the person colour.
    hub = lookback_hub(entry)
    info = next(c for c in hub.store.clips("front") if c.clip_id == clip["clip_id"])
    assert info.thumbnail is not None
    jpeg = hub.store.resolve(info.thumbnail).read_bytes()
    assert coloured_pixels(jpeg, colour_of("person")) > 200
    assert "objects: person" in clip_title(info)

    # The person leaves: the sensor goes off after its hold.
    await async_wait_camera(
        camera,
        lambda: hass.states.get("binary_sensor.front_person").state == STATE_OFF,  # type: ignore[union-attr]
        "the person sensor to go off",
        within=30,
    )
    await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_remote_detector_labels_an_alert(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, crossing: LabelledClip
) -> None:
    sim = rtsp_camera(crossing.as_clip(), mode="live")
    async with DetectionTestServer(
        predictions=lambda w, h: [prediction("dog", 0.91, 0.1 * w, 0.5 * h, 0.3 * w, 0.9 * h)]
    ) as server:
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
                    **NO_MOTION,  # only the alert sends a picture
                )
            ],
            detector="remote",
            detector_url=server.url,
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        camera = lookback_hub(entry).cameras["front"]
        await async_wait_connected(camera)
        detected = async_next_bus_event(hass, EVENT_OBJECT_DETECTED)
        await hass.services.async_call(
            DOMAIN,
            SERVICE_TRIGGER,
            {"label": "doorbell"},
            target={"entity_id": "camera.front"},
            blocking=True,
        )
        event = (await async_wait_for(detected, "the alert's detection")).data
        # An alert is the camera's own word: one picture confirms the label.
        assert event["label"] == "dog"
        assert event["reason"] == "alert"
        assert event["box"] == [0.1, 0.5, 0.2, 0.4]
        size = server.requests[0].image_size
        assert size is not None
        assert max(size) <= 640  # big frames are scaled down before they are sent
        dog = state(hass, "binary_sensor.front_dog")
        assert dog.state == STATE_ON
        assert dog.attributes["score"] == pytest.approx(0.91)
        current = camera.current_event
        assert current is not None
        assert current.labels == {"doorbell": 0.0, "dog": pytest.approx(0.91)}
        await async_unload_lookback(hass, entry)


async def test_runtime_that_cannot_install_raises_a_repair(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    # HA's own requirements machinery runs; only pip is replaced, as it fails on musl (no
    # ai-edge-litert wheel) and nothing here may reach PyPI from a test.
    hass.config.skip_pip = False
    really_installed = package.is_installed

    def installed(requirement: str) -> bool:  # as on musl: everything but the runtime
        return "ai-edge-litert" not in requirement and really_installed(requirement)

    with (
        patch("homeassistant.util.package.is_installed", side_effect=installed),
        patch("homeassistant.util.package.install_package", return_value=False) as install,
    ):
        entry = await async_setup_lookback(
            hass, tmp_path, {"front": UNREACHABLE_URL}, detector="local"
        )
        await hass.async_block_till_done(wait_background_tasks=True)
    assert any("ai-edge-litert" in str(call.args[0]) for call in install.call_args_list)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_DETECTOR_RUNTIME_MISSING)
    assert issue is not None
    assert issue.translation_placeholders == {"requirement": "ai-edge-litert>=2.0.0"}
    hub = lookback_hub(entry)
    assert hub.detector is not None
    assert not hub.detector.available
    # Recording goes on; the label sensors exist but cannot say anything.
    assert state(hass, "binary_sensor.front_person").state == STATE_UNAVAILABLE
    await async_unload_lookback(hass, entry)


async def test_damaged_model_raises_a_repair_and_a_good_one_clears_it(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    model = broken_model(tmp_path / "mine.tflite")
    entry = await async_setup_lookback(
        hass,
        tmp_path / "clips",
        {"front": UNREACHABLE_URL},
        detector="local",
        detector_model=str(model),
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_DETECTOR_MODEL)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["model"] == str(model)
    hass.config_entries.async_update_entry(entry, data=entry.data | {"detector_model": ""})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_DETECTOR_MODEL) is None
    assert lookback_hub(entry).detector is not None
    assert lookback_hub(entry).detector.available  # type: ignore[union-attr]
    await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_periodic_check_finds_a_still_object_and_a_failing_server_shows(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory, crossing: LabelledClip
) -> None:
    sim = rtsp_camera(crossing.as_clip(), mode="live")
    parked = [prediction("car", 0.8, 10, 200, 200, 330)]
    async with DetectionTestServer(predictions=parked) as server:
        entry = await async_setup_lookback(
            hass,
            tmp_path,
            subentries=[
                camera_subentry(
                    "front",
                    "Front",
                    sim.url,
                    post_roll=1,
                    **NO_MOTION,  # only the periodic check looks
                    object_interval=1,
                )
            ],
            detector="remote",
            detector_url=server.url,
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        camera = lookback_hub(entry).cameras["front"]
        detected = async_next_bus_event(hass, EVENT_OBJECT_DETECTED)
        await async_wait_connected(camera)
        event = (await async_wait_for(detected, "the parked car")).data
        assert event["reason"] == "interval"
        # Two checks on two different keyframes confirmed it (min frames 2).
        assert len(server.requests) >= 2
        car = "binary_sensor.front_car"
        assert state(hass, car).state == STATE_ON

        # The server fails: the sensors cannot tell, they do not say "no car".
        server.mode = ServerMode.FAILURE
        await async_wait_camera(
            camera,
            lambda: state(hass, car).state == STATE_UNAVAILABLE,
            "the car sensor to go unavailable",
        )
        assert lookback_hub(entry).detector.failing is not None  # type: ignore[union-attr]

        # Back, and the car has left: the whole picture without it clears it at once.
        server.predictions = []
        server.mode = ServerMode.OK
        await async_wait_camera(
            camera, lambda: state(hass, car).state == STATE_OFF, "the car sensor to go off"
        )
        await async_unload_lookback(hass, entry)


async def test_a_camera_model_that_fails_is_not_loaded_per_picture(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    model = broken_model(tmp_path / "broken.tflite")
    entry = await async_setup_lookback(
        hass,
        tmp_path / "clips",
        subentries=[camera_subentry("front", "Front", UNREACHABLE_URL, object_model=str(model))],
        detector="local",
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    detector = lookback_hub(entry).detector
    assert detector is not None
    assert detector.available  # the NVR's own (bundled) model is fine
    with patch(
        "custom_components.lookback.detector_hub.load_local_detector",
        side_effect=detector_hub.load_local_detector,
    ) as load:
        for _ in range(3):  # the worker thread asks once per picture
            with pytest.raises(DetectorError) as caught:
                detector._detector_for(str(model))
            assert caught.value.kind is DetectorErrorKind.MODEL_INVALID
    assert load.call_count == 1
    await async_unload_lookback(hass, entry)


async def test_labels_no_longer_tracked_lose_their_sensors(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = await async_setup_lookback(
        hass,
        tmp_path,
        subentries=[
            camera_subentry("front", "Front", UNREACHABLE_URL, object_labels=["person", "car"]),
            # Its id starts like front's label sensors: they must not be taken for stale ones.
            camera_subentry("front_object", "Front object", "rtsp://127.0.0.1:9/other"),
        ],
        detector="local",
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, "front_object_car")
    others = {
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.unique_id.startswith("front_object_")
    }
    subentry = next(s for s in entry.subentries.values() if s.unique_id == "front")
    hass.config_entries.async_update_subentry(
        entry, subentry, data=dict(subentry.data) | {"object_labels": ["person"]}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, "front_object_car") is None
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, "front_object_person")
    still_there = {
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.unique_id.startswith("front_object_")
    }
    assert others - still_there == {"binary_sensor.front_car"}
    await async_unload_lookback(hass, entry)


async def test_a_detector_that_raises_while_loading_is_a_repair_not_a_failed_setup(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    with patch(
        "custom_components.lookback.detector_hub.load_local_detector",
        side_effect=RuntimeError("XNNPACK delegate failed"),
    ):
        entry = await async_setup_lookback(
            hass, tmp_path, {"front": UNREACHABLE_URL}, detector="local"
        )
        await hass.async_block_till_done(wait_background_tasks=True)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_DETECTOR_MODEL)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "XNNPACK delegate failed" in issue.translation_placeholders["error"]
    camera = lookback_hub(entry).cameras["front"]
    assert await camera.objects.async_detect_now("alert") is False  # nothing would look
    await async_unload_lookback(hass, entry)


@pytest.mark.usefixtures("socket_enabled")
async def test_own_camera_model_with_a_remote_nvr_detector(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    # The camera's own model is the bundled one under another name: it loads, once.
    model = tmp_path / "mine.tflite"
    model.write_bytes(BUNDLED_MODEL.read_bytes())
    (tmp_path / "mine.txt").write_text(BUNDLED_LABELS.read_text())
    async with DetectionTestServer() as server:
        with patch(
            "custom_components.lookback.detector_hub.async_process_requirements",
            side_effect=RequirementsNotFound(DOMAIN, ["ai-edge-litert>=2.0.0"]),
        ):
            entry = await async_setup_lookback(
                hass,
                tmp_path / "clips",
                subentries=[
                    camera_subentry("front", "Front", UNREACHABLE_URL, object_model=str(model))
                ],
                detector="remote",
                detector_url=server.url,
            )
            await hass.async_block_till_done(wait_background_tasks=True)
        detector = lookback_hub(entry).detector
        assert detector is not None
        assert detector.available  # the remote detector does not need the runtime
        assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_DETECTOR_RUNTIME_MISSING) is None
        first = detector._detector_for(str(model))
        assert detector._detector_for(str(model)) is first
        assert "mine" in first.name
        await async_unload_lookback(hass, entry)
