"""Sensor platform: stream figures, pre-roll memory, events and storage; NVR storage, mail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfDataRate, UnitOfInformation, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .camera_hub import CameraHub
from .core.alerts.smtp import MailServerStats
from .core.objects.types import DetectorStats
from .data import LookbackConfigEntry
from .entity import LookbackCameraEntity, LookbackNvrEntity, add_camera_entities
from .hub import LookbackHub

PARALLEL_UPDATES = 0  # pushed by the hub

type SensorValue = StateType | datetime


@dataclass(frozen=True, kw_only=True)
class CameraSensorDescription(SensorEntityDescription):
    """How a sensor reads its camera."""

    value_fn: Callable[[CameraHub], SensorValue]
    follows_stream: bool = True


@dataclass(frozen=True, kw_only=True)
class NvrSensorDescription(SensorEntityDescription):
    """How a sensor reads the NVR."""

    value_fn: Callable[[LookbackHub], SensorValue]
    attributes_fn: Callable[[LookbackHub], Mapping[str, Any] | None] = lambda _: None
    exists_fn: Callable[[LookbackHub], bool] = lambda _: True


def _stat[T](read: Callable[..., T | None]) -> Callable[[CameraHub], T | None]:
    """Read a StreamStats field; None before the first statistics."""
    return lambda camera: read(camera.stats) if camera.stats else None


def _kbps(camera: CameraHub) -> float | None:
    bitrate = camera.stats.bitrate_bps if camera.stats else None
    return None if bitrate is None else round(bitrate / 1000, 1)


def _mail_figure(read: Callable[[MailServerStats], int]) -> Callable[[LookbackHub], int | None]:
    """A count of the SMTP server's (None while it does not listen)."""

    def value(hub: LookbackHub) -> int | None:
        stats = hub.mail_server.stats if hub.mail_server else None
        return None if stats is None else read(stats)

    return value


def _mail_rejections(hub: LookbackHub) -> Mapping[str, Any] | None:
    stats = hub.mail_server.stats if hub.mail_server else None
    return None if stats is None else {"reasons": dict(stats.rejected)}


def _mail_kinds(hub: LookbackHub) -> Mapping[str, Any] | None:
    stats = hub.mail_server.stats if hub.mail_server else None
    return None if stats is None else {"kinds": dict(stats.by_kind)}


def _smtp_on(hub: LookbackHub) -> bool:
    return hub.mail_server is not None


def _detector_on(hub: LookbackHub) -> bool:
    return hub.detector is not None


def _detector_stats(hub: LookbackHub) -> DetectorStats | None:
    return hub.detector.stats if hub.detector is not None else None


def _detections_dropped(hub: LookbackHub) -> int | None:
    stats = _detector_stats(hub)
    return None if stats is None else stats.dropped


def _detector_details(hub: LookbackHub) -> Mapping[str, Any] | None:
    stats = _detector_stats(hub)
    if stats is None:  # not loaded: the repair issue says why
        error = hub.detector.error if hub.detector is not None else None
        return {"error": str(error) if error else None}
    return {
        "detector": stats.detector,
        "submitted": stats.submitted,
        "processed": stats.processed,
        "queued": stats.queued,
        "dropped_by_camera": dict(stats.dropped_by_camera),
        "errors": stats.errors,
        "last_error": stats.last_error,
    }


def _inference_ms(hub: LookbackHub) -> float | None:
    stats = _detector_stats(hub)
    return None if stats is None else stats.average_inference_ms


def _last_event(camera: CameraHub) -> datetime | None:
    when = camera.last_event_time
    return None if when is None else datetime.fromtimestamp(when, UTC)


CAMERA_SENSORS: tuple[CameraSensorDescription, ...] = (
    CameraSensorDescription(
        key="fps",
        translation_key="fps",  # its unit ("fps") is translated too
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_stat(lambda stats: stats.fps),
    ),
    CameraSensorDescription(
        key="bitrate",
        translation_key="bitrate",
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.KILOBITS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_kbps,
    ),
    CameraSensorDescription(
        key="keyframe_interval",
        translation_key="keyframe_interval",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_stat(lambda stats: stats.keyframe_interval_s),
    ),
    CameraSensorDescription(
        key="pre_roll_memory",
        translation_key="pre_roll_memory",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.MEBIBYTES,
        suggested_display_precision=1,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda camera: camera.ring_bytes,
    ),
    CameraSensorDescription(
        key="reconnects",
        translation_key="reconnects",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_stat(lambda stats: stats.reconnects),
        follows_stream=False,
    ),
    CameraSensorDescription(
        key="last_event",
        translation_key="last_event",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_last_event,
        follows_stream=False,
    ),
    CameraSensorDescription(
        key="clips_stored",
        translation_key="clips_stored",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda camera: camera.clips_stored,
        follows_stream=False,
    ),
    CameraSensorDescription(
        key="bytes_stored",
        translation_key="bytes_stored",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.GIGABYTES,
        suggested_display_precision=3,  # a few clips are megabytes
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda camera: camera.bytes_stored,
        follows_stream=False,
    ),
)

NVR_SENSORS: tuple[NvrSensorDescription, ...] = (
    NvrSensorDescription(
        key="storage_used",
        translation_key="storage_used",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.GIGABYTES,
        suggested_display_precision=2,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda hub: hub.storage_used,
    ),
    NvrSensorDescription(
        key="storage_free",
        translation_key="storage_free",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.GIGABYTES,
        suggested_display_precision=1,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda hub: hub.storage_free,
    ),
    NvrSensorDescription(
        key="mails_accepted",
        translation_key="mails_accepted",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_mail_figure(lambda stats: stats.accepted),
        attributes_fn=_mail_kinds,
        exists_fn=_smtp_on,
    ),
    NvrSensorDescription(
        key="mails_rejected",
        translation_key="mails_rejected",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_mail_figure(lambda stats: sum(stats.rejected.values())),
        attributes_fn=_mail_rejections,
        exists_fn=_smtp_on,
    ),
    NvrSensorDescription(
        key="detections_dropped",
        translation_key="detections_dropped",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_detections_dropped,
        attributes_fn=_detector_details,
        exists_fn=_detector_on,
    ),
    NvrSensorDescription(
        key="inference_time",
        translation_key="inference_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        suggested_display_precision=1,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_inference_ms,
        exists_fn=_detector_on,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The NVR's storage sensors and every camera's sensors."""
    del hass
    hub = entry.runtime_data.hub
    async_add_entities(
        [NvrSensor(hub, description) for description in NVR_SENSORS if description.exists_fn(hub)]
    )
    add_camera_entities(
        entry, async_add_entities, lambda camera: (CameraSensor(camera, d) for d in CAMERA_SENSORS)
    )


class CameraSensor(LookbackCameraEntity, SensorEntity):
    """A sensor of one camera."""

    entity_description: CameraSensorDescription

    def __init__(self, camera: CameraHub, description: CameraSensorDescription) -> None:
        """Attach to the camera."""
        super().__init__(camera, description)
        self._follows_stream = description.follows_stream

    @property
    @override
    def native_value(self) -> SensorValue:
        """The figure now."""
        return self.entity_description.value_fn(self.camera)


class NvrSensor(LookbackNvrEntity, SensorEntity):
    """A storage sensor of the NVR."""

    entity_description: NvrSensorDescription
    # The detector's running counters change with every refresh: not worth a database row.
    _unrecorded_attributes = frozenset(
        {"submitted", "processed", "queued", "dropped_by_camera", "errors", "last_error"}
    )

    def __init__(self, hub: LookbackHub, description: NvrSensorDescription) -> None:
        """Attach to the NVR device."""
        super().__init__(hub, description)

    @property
    @override
    def native_value(self) -> SensorValue:
        """The figure now."""
        return self.entity_description.value_fn(self.hub)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Details (mails by kind, rejections by reason)."""
        return self.entity_description.attributes_fn(self.hub)
