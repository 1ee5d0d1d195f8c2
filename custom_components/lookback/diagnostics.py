"""Diagnostics: the NVR's settings, each camera's settings and live state, storage, alerts.

Credentials never leave: user names and passwords are redacted, and so is any user info or
secret-looking query value in the camera URLs (many cameras take credentials in the URL).
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .camera_hub import CameraHub
from .const import (
    CONF_CAMERA_ID,
    CONF_DETECT_URL,
    CONF_DETECTOR_API_KEY,
    CONF_DETECTOR_URL,
    CONF_ONVIF_PASSWORD,
    CONF_ONVIF_USERNAME,
    CONF_SMTP_PASSWORD,
    CONF_SMTP_USERNAME,
    CONF_SNAPSHOT_URL,
    CONF_URL,
    CONF_WEBHOOK_ID,
    DOMAIN,
    SUBENTRY_CAMERA,
)
from .core.errors import redact_url
from .data import LookbackConfigEntry
from .hub import LookbackHub

# The webhook id is the webhook's only secret; mail addresses and channels are not secret.
TO_REDACT = {
    CONF_PASSWORD,
    CONF_USERNAME,
    CONF_SMTP_USERNAME,
    CONF_SMTP_PASSWORD,
    CONF_ONVIF_USERNAME,
    CONF_ONVIF_PASSWORD,
    CONF_WEBHOOK_ID,
    CONF_DETECTOR_API_KEY,
}
URL_KEYS = (CONF_URL, CONF_DETECT_URL, CONF_SNAPSHOT_URL, CONF_DETECTOR_URL)


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: LookbackConfigEntry
) -> dict[str, Any]:
    """Everything about the NVR entry; live state only while it is loaded."""
    del hass
    hub = await _async_fresh_hub(entry)
    cameras = {
        subentry.data.get(CONF_CAMERA_ID, subentry.subentry_id): _camera_section(subentry, hub)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_CAMERA
    }
    return {
        "entry": {
            "title": entry.title,
            "version": entry.version,
            "minor_version": entry.minor_version,
            "state": entry.state.value,
            "data": redact_config(entry.data),
            "options": redact_config(entry.options),
        },
        "nvr": _nvr_state(hub) if hub else None,
        "cameras": cameras,
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: LookbackConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """A camera device: its subentry and state; the NVR device: the whole entry."""
    # Camera devices are identified by the camera id, the NVR device by the entry id.
    identifiers = {ident for domain, ident in device.identifiers if domain == DOMAIN}
    for subentry in entry.subentries.values():
        if (
            subentry.subentry_type == SUBENTRY_CAMERA
            and subentry.data.get(CONF_CAMERA_ID) in identifiers
        ):
            return _camera_section(subentry, await _async_fresh_hub(entry))
    return await async_get_config_entry_diagnostics(hass, entry)


def _camera_section(subentry: ConfigSubentry, hub: LookbackHub | None) -> dict[str, Any]:
    camera = hub.camera_by_subentry(subentry.subentry_id) if hub else None
    return {
        "title": subentry.title,
        "unique_id": subentry.unique_id,
        "data": redact_config(subentry.data),
        "state": _camera_state(camera) if camera else None,
    }


def redact_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Entry or subentry data without credentials, in fields or inside URLs."""
    redacted: dict[str, Any] = async_redact_data(data, TO_REDACT)
    for key in URL_KEYS:
        if isinstance(value := redacted.get(key), str) and value:
            redacted[key] = redact_url(value)
    return redacted


async def _async_fresh_hub(entry: LookbackConfigEntry) -> LookbackHub | None:
    """The running hub with up-to-date figures, or None when the entry is not loaded."""
    if entry.state is not ConfigEntryState.LOADED:
        return None  # no runtime_data: diagnostics can be asked for a failed entry
    hub = entry.runtime_data.hub
    # Sensors refresh these on a timer; a report should show now, not up to 30 s ago.
    for camera in hub.cameras.values():
        camera.async_refresh_stats()
    await hub.async_refresh_storage()
    return hub


def _nvr_state(hub: LookbackHub) -> dict[str, Any]:
    return {
        "storage_path": str(hub.store.root),
        "storage_max_bytes": hub.store.max_total_bytes,
        "storage_used": hub.storage_used,
        "storage_free": hub.storage_free,
        # The store's index lives in memory: counting it needs no disk access.
        "clips": len(hub.store.clips()),
        "cameras_running": sorted(hub.cameras),
        "mail_server": _mail_server_state(hub),
        "detector": _detector_state(hub),
    }


def _detector_state(hub: LookbackHub) -> dict[str, Any] | None:
    detector = hub.detector
    if detector is None:
        return None
    stats = detector.stats
    return {
        "choice": detector.choice,
        "available": detector.available,
        "error": str(detector.error) if detector.error else None,
        "stats": dataclasses.asdict(stats) if stats else None,
    }


def _mail_server_state(hub: LookbackHub) -> dict[str, Any] | None:
    server = hub.mail_server
    if server is None:
        return None
    return {
        "listening": server.server is not None,
        "error": server.error,
        "stats": dataclasses.asdict(server.stats) if server.stats else None,
    }


def _camera_state(camera: CameraHub) -> dict[str, Any]:
    return {
        "camera_id": camera.camera_id,
        "connected": camera.connected,
        # Source errors are redacted where they are made (core/errors.py).
        "last_error": str(camera.last_error) if camera.last_error else None,
        "recording_enabled": camera.recording_enabled,
        "recording": camera.recording,
        "max_pre_roll": camera.max_pre_roll,
        "stats": dataclasses.asdict(camera.stats) if camera.stats else None,
        "ring_bytes": camera.ring_bytes,
        "clips_stored": camera.clips_stored,
        "bytes_stored": camera.bytes_stored,
        "motion": _motion_state(camera),
        "alerts": _alerts_state(camera),
        "objects": camera.objects.attributes(),
    }


def _alerts_state(camera: CameraHub) -> dict[str, Any]:
    alerts = camera.alerts
    return {
        "on": alerts.on,
        "counts": dict(alerts.counts),
        "last": alerts.attributes(),
        "trigger_entities": list(alerts.trigger_entities),
        "onvif": dataclasses.asdict(alerts.onvif.stats) if alerts.onvif else None,
    }


def _motion_state(camera: CameraHub) -> dict[str, Any]:
    pipeline = camera.pipeline
    return {
        "enabled": camera.motion_enabled,
        "on": camera.motion_on,
        "available": camera.motion_available,
        "zones": list(camera.zone_names),
        "analysis": dataclasses.asdict(pipeline.analysis.stats) if pipeline else None,
        "detect_stream": dataclasses.asdict(pipeline.detect_source.stats)
        if pipeline and pipeline.detect_source
        else None,
    }
