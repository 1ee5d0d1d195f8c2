"""HA tests: the lookback.save_clip and lookback.snapshot actions.

Clips and snapshots are made from a live simulated camera; checks of arguments and errors use
a camera whose URL refuses connections, as they need no video (an event opens all the same).
"""

from collections.abc import AsyncIterator
from http import HTTPStatus
from pathlib import Path
import time
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import area_registry as ar, device_registry as dr, entity_registry as er
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.lookback.camera_hub import CameraHub
from custom_components.lookback.const import (
    DOMAIN,
    EVENT_CLIP_SAVED,
    EVENT_EVENT_STARTED,
    SERVICE_SAVE_CLIP,
    SERVICE_SNAPSHOT,
)
from custom_components.lookback.core.models import Trigger
from tests.ha_helpers import (
    CAMERA_MEDIA,
    UNREACHABLE_URL,
    async_next_bus_event,
    async_setup_lookback,
    async_unload_lookback,
    async_wait_connected,
    async_wait_for,
    lookback_hub,
)
from tests.sim.camera import CameraFactory

FRONT = "camera.front"
BACK = "camera.back"


@pytest.fixture
async def live(
    hass: HomeAssistant, tmp_path: Path, rtsp_camera: CameraFactory
) -> AsyncIterator[tuple[MockConfigEntry, CameraHub]]:
    """Camera "front" streaming from the live simulator, connected; unloaded at the end."""
    sim = rtsp_camera(mode="live", **CAMERA_MEDIA)
    entry = await async_setup_lookback(hass, tmp_path, cameras={"front": sim.url})
    camera = lookback_hub(entry).cameras["front"]
    await async_wait_connected(camera)
    yield entry, camera
    await async_unload_lookback(hass, entry)


@pytest.fixture
async def offline(
    hass: HomeAssistant, tmp_path: Path
) -> AsyncIterator[tuple[MockConfigEntry, CameraHub, CameraHub]]:
    """Cameras "front" and "back" that never really connect; unloaded at the end."""
    entry = await async_setup_lookback(
        hass, tmp_path, cameras={"front": UNREACHABLE_URL, "back": UNREACHABLE_URL}
    )
    hub = lookback_hub(entry)
    # These tests check the actions' arithmetic and errors, not video: the cameras are
    # marked as streaming so that save_clip gets past its "no stream, no clip" check.
    for camera in hub.cameras.values():
        camera.connected = True
    yield entry, hub.cameras["front"], hub.cameras["back"]
    await async_unload_lookback(hass, entry)


async def call(
    hass: HomeAssistant,
    service: str,
    data: dict[str, Any],
    *,
    return_response: bool = True,
    context: Context | None = None,
) -> Any:
    """Call a Lookback action and return its response (JSON, typed loosely for the checks)."""
    return await hass.services.async_call(
        DOMAIN,
        service,
        data,
        blocking=True,
        return_response=return_response,
        context=context,
    )


async def save_clip(
    hass: HomeAssistant,
    data: dict[str, Any],
    *,
    return_response: bool = True,
    context: Context | None = None,
) -> Any:
    return await call(
        hass, SERVICE_SAVE_CLIP, data, return_response=return_response, context=context
    )


def media_content_id(camera_id: str, event_id: str) -> str:
    return f"media-source://lookback/clip/{camera_id}/{event_id}"


# save_clip ------------------------------------------------------------------------------


async def test_save_clip_records_a_clip(
    hass: HomeAssistant,
    live: tuple[MockConfigEntry, CameraHub],
    hass_admin_user: MockUser,
    tmp_path: Path,
) -> None:
    started = async_next_bus_event(hass, EVENT_EVENT_STARTED)
    saved = async_next_bus_event(hass, EVENT_CLIP_SAVED)
    before = time.time()

    response = await save_clip(
        hass,
        {"entity_id": FRONT, "pre_roll": 1.5, "post_roll": 0.5},
        context=Context(user_id=hass_admin_user.id),
    )

    event_id = response["event_id"]
    assert isinstance(event_id, str)
    expected = {"event_id": event_id, "media_content_id": media_content_id("front", event_id)}
    assert response == {"events": {FRONT: expected}, **expected}

    started_data = (await async_wait_for(started, "the event to start")).data
    assert started_data["event_id"] == event_id
    assert started_data["camera_entity_id"] == FRONT
    assert started_data["pre_roll"] == 1.5
    [trigger] = started_data["triggers"]
    assert trigger["source"] == "service"
    assert trigger["label"] is None
    assert trigger["data"] == {"context_user_id": hass_admin_user.id}
    assert before <= trigger["time"] <= time.time()

    clip = (await async_wait_for(saved, "the clip to be saved")).data
    assert clip["event_id"] == event_id
    assert clip["media_content_id"] == media_content_id("front", event_id)
    assert (tmp_path / clip["clip_url"].split("/api/lookback/file/")[1].split("?")[0]).is_file()
    # Half a second after the call, from the keyframe before it: some video, not minutes.
    assert 0.4 < clip["duration"] < 5


@pytest.mark.parametrize(
    ("data", "pre_roll", "post_roll"),
    [
        ({}, None, None),  # the camera's own
        ({"pre_roll": 3, "post_roll": 7}, 3.0, 7.0),
        ({"pre_roll": 4}, 4.0, None),  # the ring's maximum: pre-roll 2 + 2 s margin
        ({"post_roll": 0}, None, 0.0),
        ({"duration": 5}, 2.0, 3.0),  # the camera's pre-roll, then the rest
        ({"duration": 1}, 1.0, 0.0),  # the camera's pre-roll shortened to fit
        ({"duration": 4, "pre_roll": 4}, 4.0, 0.0),
        ({"duration": 10, "pre_roll": 0}, 0.0, 10.0),
        ({"duration": "2.5", "pre_roll": "0.5"}, 0.5, 2.0),  # text from templates
    ],
)
async def test_save_clip_pre_and_post_roll(
    hass: HomeAssistant,
    offline: tuple[MockConfigEntry, CameraHub, CameraHub],
    data: dict[str, Any],
    pre_roll: float | None,
    post_roll: float | None,
) -> None:
    _entry, front, _back = offline
    before = time.time()
    with patch.object(front, "async_trigger", wraps=front.async_trigger) as trigger_spy:
        response = await save_clip(hass, {"entity_id": FRONT, **data})

    trigger_spy.assert_called_once()
    (trigger,), kwargs = trigger_spy.call_args
    assert kwargs == {"pre_roll": pre_roll, "post_roll": post_roll}
    assert isinstance(trigger, Trigger)
    assert (trigger.camera_id, trigger.source, trigger.label, trigger.score) == (
        "front",
        "service",
        None,
        None,
    )
    assert trigger.data == {"context_user_id": None}
    assert before <= trigger.time <= time.time()
    event = front.last_event
    assert event is not None
    assert response["event_id"] == event.event_id
    assert event.pre_roll == (2.0 if pre_roll is None else pre_roll)
    assert event.end_time - trigger.time == pytest.approx(2.0 if post_roll is None else post_roll)


async def test_save_clip_extends_an_open_event(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    _entry, front, _back = offline
    first = await save_clip(hass, {"entity_id": FRONT, "post_roll": 60})
    second = await save_clip(hass, {"entity_id": FRONT, "post_roll": 120})
    assert second["event_id"] == first["event_id"]  # one event, one recording
    assert front.current_event is not None
    assert len(front.current_event.triggers) == 2


async def test_save_clip_without_response(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    _entry, front, back = offline
    assert await save_clip(hass, {"entity_id": FRONT}, return_response=False) is None
    assert front.current_event is not None
    assert back.current_event is None


async def test_save_clip_on_two_cameras(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    _entry, front, back = offline
    response = await save_clip(hass, {"entity_id": [FRONT, BACK]})

    assert front.current_event is not None
    assert back.current_event is not None
    front_id, back_id = front.current_event.event_id, back.current_event.event_id
    assert front_id != back_id
    # No top-level event_id: it would be ambiguous.
    assert response == {
        "events": {
            FRONT: {"event_id": front_id, "media_content_id": media_content_id("front", front_id)},
            BACK: {"event_id": back_id, "media_content_id": media_content_id("back", back_id)},
        }
    }


async def test_save_clip_by_device_and_area(
    hass: HomeAssistant,
    offline: tuple[MockConfigEntry, CameraHub, CameraHub],
    device_registry: dr.DeviceRegistry,
    area_registry: ar.AreaRegistry,
) -> None:
    entry, _front, back = offline
    front_device = device_registry.async_get_device_by_identifier((DOMAIN, "front"), entry.entry_id)
    back_device = device_registry.async_get_device_by_identifier((DOMAIN, "back"), entry.entry_id)
    assert front_device is not None
    assert back_device is not None

    # A device holds other Lookback entities too (sensors, switch): only its camera counts.
    response = await save_clip(hass, {"device_id": front_device.id})
    assert list(response["events"]) == [FRONT]
    assert back.current_event is None

    garden = area_registry.async_create("Garden")
    device_registry.async_update_device(back_device.id, area_id=garden.id)
    response = await save_clip(hass, {"area_id": garden.id})
    assert list(response["events"]) == [BACK]
    assert back.current_event is not None


async def test_save_clip_pre_roll_longer_than_the_ring(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    _entry, front, _back = offline
    assert front.max_pre_roll == 4.0

    with pytest.raises(ServiceValidationError) as caught:
        await save_clip(hass, {"entity_id": FRONT, "pre_roll": 4.5})

    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == "pre_roll_too_long"
    assert caught.value.translation_placeholders == {
        "camera": "Front",
        "pre_roll": "4.5",
        "max": "4",
    }
    assert "keeps only 4 seconds" in str(caught.value)
    assert front.last_event is None


async def test_save_clip_duration_shorter_than_pre_roll(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    _entry, front, _back = offline
    with pytest.raises(ServiceValidationError) as caught:
        await save_clip(hass, {"entity_id": FRONT, "duration": 2, "pre_roll": 3})

    assert caught.value.translation_key == "duration_shorter_than_pre_roll"
    assert caught.value.translation_placeholders == {"duration": "2", "pre_roll": "3"}
    assert front.last_event is None


@pytest.mark.parametrize(
    "data",
    [
        {"post_roll": 5, "duration": 10},  # both say where the clip ends
        {"post_roll": -1},
        {"post_roll": 3601},
        {"pre_roll": -0.5},
        {"duration": 0.5},
        {"duration": "long"},
        {"unknown": 1},
    ],
)
async def test_save_clip_invalid_fields(
    hass: HomeAssistant,
    offline: tuple[MockConfigEntry, CameraHub, CameraHub],
    data: dict[str, Any],
) -> None:
    _entry, front, _back = offline
    with pytest.raises(probatio.Invalid):
        await save_clip(hass, {"entity_id": FRONT, **data})
    assert front.last_event is None


async def test_save_clip_needs_a_target(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    with pytest.raises(probatio.Invalid):
        await save_clip(hass, {"post_roll": 5})


async def test_save_clip_with_recording_off(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    _entry, front, back = offline
    back.recording_enabled = False

    with pytest.raises(ServiceValidationError) as caught:
        await save_clip(hass, {"entity_id": [FRONT, BACK]})

    assert caught.value.translation_key == "recording_disabled"
    assert caught.value.translation_placeholders == {"camera": "Back"}
    # Checked before any camera is triggered: the call records everywhere or nowhere.
    assert front.last_event is None
    assert back.last_event is None


@pytest.mark.parametrize(
    "target",
    [
        {"entity_id": "camera.not_there"},
        {"entity_id": "sensor.lookback_nvr_storage_used"},  # a Lookback entity, no camera
        {"area_id": "nowhere"},
    ],
)
async def test_save_clip_without_lookback_cameras(
    hass: HomeAssistant,
    offline: tuple[MockConfigEntry, CameraHub, CameraHub],
    target: dict[str, str],
) -> None:
    _entry, front, _back = offline
    with pytest.raises(ServiceValidationError) as caught:
        await save_clip(hass, target)
    assert caught.value.translation_key == "no_cameras"
    assert front.last_event is None


async def test_actions_exist_without_an_entry(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    assert hass.services.has_service(DOMAIN, SERVICE_SAVE_CLIP)
    assert hass.services.has_service(DOMAIN, SERVICE_SNAPSHOT)
    with pytest.raises(ServiceValidationError) as caught:
        await save_clip(hass, {"entity_id": FRONT})
    assert caught.value.translation_key == "no_cameras"


async def test_action_descriptions(hass: HomeAssistant) -> None:
    # services.yaml and strings.json agree: what the action editor in the UI shows.
    assert await async_setup_component(hass, DOMAIN, {})
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    strings = await async_get_translations(hass, "en", "services", [DOMAIN])
    prefix = f"component.{DOMAIN}.services"

    assert set(descriptions) == {SERVICE_SAVE_CLIP, SERVICE_SNAPSHOT, "trigger"}
    for service, description in descriptions.items():
        assert description["target"] == {"entity": [{"integration": DOMAIN, "domain": ["camera"]}]}
        assert description["response"] == {"optional": True}
        assert strings[f"{prefix}.{service}.name"]
        assert strings[f"{prefix}.{service}.description"]
        for field in description["fields"]:
            assert strings[f"{prefix}.{service}.fields.{field}.name"]
            assert strings[f"{prefix}.{service}.fields.{field}.description"]
    fields = descriptions[SERVICE_SAVE_CLIP]["fields"]
    assert set(fields) == {"pre_roll", "post_roll", "duration"}
    assert fields["duration"]["selector"]["number"]["min"] == 1
    assert descriptions[SERVICE_SNAPSHOT]["fields"] == {}
    assert set(descriptions["trigger"]["fields"]) == {"label", "message"}


async def test_save_clip_when_the_entry_is_not_loaded(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    entry, _front, _back = offline
    await async_unload_lookback(hass, entry)
    assert entry.state is ConfigEntryState.NOT_LOADED

    for service in (SERVICE_SAVE_CLIP, SERVICE_SNAPSHOT):
        with pytest.raises(HomeAssistantError) as caught:
            await call(hass, service, {"entity_id": FRONT})
        # Not the user's mistake: the NVR is down.
        assert not isinstance(caught.value, ServiceValidationError)
        assert caught.value.translation_key == "camera_not_loaded"
        assert caught.value.translation_placeholders == {"entity_id": FRONT}


async def test_save_clip_for_a_camera_entity_without_camera(
    hass: HomeAssistant,
    offline: tuple[MockConfigEntry, CameraHub, CameraHub],
    entity_registry: er.EntityRegistry,
) -> None:
    entry, _front, _back = offline
    # A registry entry left behind without its subentry (e.g. from an older version).
    stale = entity_registry.async_get_or_create(
        "camera", DOMAIN, "gone_camera", config_entry=entry, suggested_object_id="gone"
    )
    with pytest.raises(HomeAssistantError) as caught:
        await save_clip(hass, {"entity_id": stale.entity_id})
    assert caught.value.translation_key == "camera_not_loaded"
    assert caught.value.translation_placeholders == {"entity_id": "camera.gone"}


# snapshot -------------------------------------------------------------------------------


async def test_snapshot_saves_the_newest_keyframe(
    hass: HomeAssistant,
    live: tuple[MockConfigEntry, CameraHub],
    tmp_path: Path,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:

    response = await call(hass, SERVICE_SNAPSHOT, {"entity_id": FRONT})

    assert list(response["snapshots"]) == [FRONT]
    snapshot = response["snapshots"][FRONT]
    path = snapshot["path"]
    assert isinstance(path, str)
    assert path.startswith("front/snapshots/")
    jpeg = (tmp_path / path).read_bytes()
    assert jpeg.startswith(b"\xff\xd8")  # JPEG start of image

    # The signed URL opens the file without a login (for notifications).
    url = snapshot["url"]
    assert url.startswith(f"/api/lookback/file/{path}?authSig=")
    client = await hass_client_no_auth()
    answer = await client.get(url)
    assert answer.status == HTTPStatus.OK
    assert await answer.read() == jpeg
    assert (await client.get(url.split("?")[0])).status == HTTPStatus.UNAUTHORIZED


async def test_snapshot_without_response(
    hass: HomeAssistant, live: tuple[MockConfigEntry, CameraHub], tmp_path: Path
) -> None:
    assert await call(hass, SERVICE_SNAPSHOT, {"entity_id": FRONT}, return_response=False) is None
    assert len(list((tmp_path / "front" / "snapshots").glob("*/*.jpg"))) == 1


async def test_snapshot_before_any_picture(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    with pytest.raises(HomeAssistantError) as caught:
        await call(hass, SERVICE_SNAPSHOT, {"entity_id": BACK})
    assert caught.value.translation_key == "no_picture_yet"
    assert caught.value.translation_placeholders == {"camera": "Back"}


async def test_snapshot_without_lookback_cameras(
    hass: HomeAssistant, offline: tuple[MockConfigEntry, CameraHub, CameraHub]
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await call(hass, SERVICE_SNAPSHOT, {"entity_id": "camera.not_there"})
    assert caught.value.translation_key == "no_cameras"


async def test_users_need_control_of_the_camera(
    hass: HomeAssistant,
    offline: tuple[MockConfigEntry, CameraHub, CameraHub],
    hass_read_only_user: MockUser,
    hass_admin_user: MockUser,
) -> None:
    _entry, front, _back = offline
    with pytest.raises(Unauthorized):
        await save_clip(hass, {"entity_id": FRONT}, context=Context(user_id=hass_read_only_user.id))
    assert front.last_event is None  # nothing recorded for a user who may only look
    await save_clip(hass, {"entity_id": FRONT}, context=Context(user_id=hass_admin_user.id))
    assert front.last_event is not None
