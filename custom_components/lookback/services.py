"""Lookback actions for targeted cameras: save a clip now, store a snapshot, raise an alert.

Registered once from ``async_setup`` (not per entry), so automations that use them validate
even while the NVR entry is not loaded; a call then fails with a clear error instead.
Targets are camera entities of this integration, reached directly or through their device,
area, floor or label; each one leads to its camera subentry and from there to the camera.
"""

from __future__ import annotations

from collections.abc import Mapping
import time
from typing import Any

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids
import probatio

from .camera_alerts import Alert
from .camera_hub import CameraHub
from .const import (
    ATTR_DURATION,
    ATTR_LABEL,
    ATTR_MESSAGE,
    ATTR_POST_ROLL,
    ATTR_PRE_ROLL,
    DOMAIN,
    SERVICE_SAVE_CLIP,
    SERVICE_SNAPSHOT,
    SERVICE_TRIGGER,
)
from .core.models import Trigger
from .hub import LookbackHub
from .paths import clip_media_content_id, signed_file_path

TRIGGER_SOURCE = "service"
MAX_SECONDS = 3600.0
# Float seconds from YAML or the UI: a pre-roll of exactly the maximum must not fail on
# rounding (e.g. 4.000000001 from a template).
_TOLERANCE_S = 1e-6


def _seconds(minimum: float) -> probatio.All[float]:
    return probatio.All(probatio.Coerce(float), probatio.Range(min=minimum, max=MAX_SECONDS))


# post_roll and duration both say where the clip ends, so only one of them may be given.
_CLIP_END = "clip_end"
SAVE_CLIP_SCHEMA = cv.make_entity_service_schema(
    {
        probatio.Optional(ATTR_PRE_ROLL): _seconds(0),
        probatio.Exclusive(ATTR_POST_ROLL, _CLIP_END): _seconds(0),
        probatio.Exclusive(ATTR_DURATION, _CLIP_END): _seconds(1),
    }
)
SNAPSHOT_SCHEMA = cv.make_entity_service_schema({})
TRIGGER_SCHEMA = cv.make_entity_service_schema(
    {
        probatio.Optional(ATTR_LABEL): probatio.All(cv.string, probatio.Length(max=64)),
        probatio.Optional(ATTR_MESSAGE): probatio.All(cv.string, probatio.Length(max=500)),
    }
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the Lookback actions (once, whether or not an entry is loaded)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SAVE_CLIP,
        _async_save_clip,
        schema=SAVE_CLIP_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_TRIGGER,
        _async_trigger,
        schema=TRIGGER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SNAPSHOT,
        _async_snapshot,
        schema=SNAPSHOT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


async def _async_save_clip(call: ServiceCall) -> ServiceResponse:
    """Start (or extend) an event on every targeted camera, with the asked-for length."""
    cameras = await _async_targeted_cameras(call)
    # Check every camera before triggering any: a call either records everywhere or nowhere.
    plans = {
        entity_id: (camera, *_rolls(camera, call.data)) for entity_id, camera in cameras.items()
    }
    now = time.time()
    events: dict[str, Any] = {}
    for entity_id, (camera, pre_roll, post_roll) in plans.items():
        trigger = Trigger(
            camera_id=camera.camera_id,
            source=TRIGGER_SOURCE,
            time=now,
            data={"context_user_id": call.context.user_id},
        )
        event = camera.async_trigger(trigger, post_roll=post_roll, pre_roll=pre_roll)
        if event is None:  # pragma: no cover - _rolls checked the switch on this same loop turn
            raise _recording_disabled(camera)
        events[entity_id] = {
            "event_id": event.event_id,
            # The event's first clip has the event's id (later parts add -2, -3, ...).
            "media_content_id": clip_media_content_id(camera.camera_id, event.event_id),
        }
    return _events_response(call, events)


def _events_response(call: ServiceCall, events: dict[str, Any]) -> ServiceResponse:
    """``events`` by camera entity; one camera's also at the top (``{{ result.event_id }}``)."""
    if not call.return_response:
        return None
    response: dict[str, Any] = {"events": events}
    if len(events) == 1:  # the usual case
        response |= next(iter(events.values()))
    return response


async def _async_trigger(call: ServiceCall) -> ServiceResponse:
    """Raise an alert on every targeted camera: a clip with the camera's own lengths.

    Like any alert it still turns the alert sensor on and fires ``lookback_alert`` when
    recording is off; its event id is None then.
    """
    cameras = await _async_targeted_cameras(call)
    now = time.time()
    events: dict[str, Any] = {}
    for entity_id, camera in cameras.items():
        event = camera.alerts.async_alert(
            Alert(
                source=TRIGGER_SOURCE,
                time=now,
                label=call.data.get(ATTR_LABEL),
                message=call.data.get(ATTR_MESSAGE),
                data={"context_user_id": call.context.user_id},
            )
        )
        events[entity_id] = {
            "event_id": event.event_id if event else None,
            "media_content_id": clip_media_content_id(camera.camera_id, event.event_id)
            if event
            else None,
        }
    return _events_response(call, events)


async def _async_snapshot(call: ServiceCall) -> ServiceResponse:
    """Store the newest keyframe of every targeted camera as a JPEG."""
    cameras = await _async_targeted_cameras(call)
    snapshots: dict[str, Any] = {}
    for entity_id, camera in cameras.items():
        path = await camera.async_save_snapshot()
        snapshots[entity_id] = {"path": path, "url": signed_file_path(call.hass, path)}
    return {"snapshots": snapshots} if call.return_response else None


def _rolls(camera: CameraHub, data: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The (pre_roll, post_roll) to trigger ``camera`` with; None keeps the camera's own.

    ``duration`` is the whole clip: the pre-roll (given, or the camera's) and the rest after
    the call. A default pre-roll longer than the duration is shortened to it; a given one is
    an error, as the two cannot both hold.
    """
    if not camera.recording_enabled:
        raise _recording_disabled(camera)
    if not camera.connected:  # no pre-roll to save, and maybe no video to come
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="camera_unavailable",
            translation_placeholders={"camera": camera.name},
        )
    pre_roll: float | None = data.get(ATTR_PRE_ROLL)
    post_roll: float | None = data.get(ATTR_POST_ROLL)
    duration: float | None = data.get(ATTR_DURATION)
    if duration is not None:
        if pre_roll is None:
            pre_roll = min(camera.config.pre_roll, duration)
        elif pre_roll > duration + _TOLERANCE_S:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="duration_shorter_than_pre_roll",
                translation_placeholders={
                    "duration": _format_seconds(duration),
                    "pre_roll": _format_seconds(pre_roll),
                },
            )
        post_roll = max(0.0, duration - pre_roll)
    if pre_roll is not None and pre_roll > camera.max_pre_roll + _TOLERANCE_S:
        # The ring only holds this much video before the newest keyframe: a longer pre-roll
        # would silently give a shorter clip than asked for.
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="pre_roll_too_long",
            translation_placeholders={
                "camera": camera.name,
                "pre_roll": _format_seconds(pre_roll),
                "max": _format_seconds(camera.max_pre_roll),
            },
        )
    return pre_roll, post_roll


async def _async_targeted_cameras(call: ServiceCall) -> dict[str, CameraHub]:
    """The running camera of every Lookback camera entity in the call's target, by entity id.

    Entities of other integrations (an area or device may hold some) are skipped; a target
    without any Lookback camera is an error, as is one whose NVR entry is not loaded.
    """
    hass = call.hass
    selected = async_extract_referenced_entity_ids(hass, TargetSelection(call.data))
    registry = er.async_get(hass)
    # A user may only record with cameras they may control (admins may all).
    user = await hass.auth.async_get_user(call.context.user_id) if call.context.user_id else None
    cameras: dict[str, CameraHub] = {}
    for entity_id in sorted(selected.referenced | selected.indirectly_referenced):
        entry = registry.async_get(entity_id)
        if entry is None or entry.platform != DOMAIN or entry.domain != Platform.CAMERA:
            continue
        if user is not None and not user.permissions.check_entity(entity_id, POLICY_CONTROL):
            raise Unauthorized(context=call.context, entity_id=entity_id, permission=POLICY_CONTROL)
        cameras[entity_id] = _camera_of(hass, entry)
    if not cameras:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_cameras")
    return cameras


def _camera_of(hass: HomeAssistant, entity: er.RegistryEntry) -> CameraHub:
    """The running camera behind a Lookback camera entity."""
    config_entry = (
        hass.config_entries.async_get_entry(entity.config_entry_id)
        if entity.config_entry_id
        else None
    )
    camera: CameraHub | None = None
    if (
        config_entry is not None
        and config_entry.state is ConfigEntryState.LOADED
        and entity.config_subentry_id is not None
    ):
        hub: LookbackHub = config_entry.runtime_data.hub
        camera = hub.camera_by_subentry(entity.config_subentry_id)
    if camera is None:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="camera_not_loaded",
            translation_placeholders={"entity_id": entity.entity_id},
        )
    return camera


def _recording_disabled(camera: CameraHub) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="recording_disabled",
        translation_placeholders={"camera": camera.name},
    )


def _format_seconds(seconds: float) -> str:
    """Seconds for a message: ``4``, ``2.5``."""
    return f"{seconds:g}"
