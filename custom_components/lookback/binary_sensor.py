"""Binary sensor platform: recording, connectivity, motion (and per zone), alert, objects per label."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .camera_hub import CameraHub, zone_entity_key
from .camera_objects import object_entity_key
from .data import LookbackConfigEntry
from .entity import LookbackCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0  # pushed by the hub


@dataclass(frozen=True, kw_only=True)
class LookbackBinarySensorDescription(BinarySensorEntityDescription):
    """How a binary sensor reads its camera."""

    is_on_fn: Callable[[CameraHub], bool | None]
    attributes_fn: Callable[[CameraHub], Mapping[str, Any] | None] = lambda _: None
    # None: available while the stream is up; a function: its own availability.
    available_fn: Callable[[CameraHub], bool] | None = None


def _connectivity_attributes(camera: CameraHub) -> Mapping[str, Any]:
    error = camera.last_error
    return {"error": error.kind.value if error else None, "message": str(error) if error else None}


def _motion_available(camera: CameraHub) -> bool:
    return camera.motion_available


def _motion_attributes(camera: CameraHub) -> Mapping[str, Any]:
    motion = camera.motion
    if motion is None:
        return {"score": 0.0, "zones": [], "boxes": []}
    return {
        "score": motion.score,
        "zones": list(motion.zones),
        "boxes": [box.as_list() for box in motion.boxes],
    }


BINARY_SENSORS: tuple[LookbackBinarySensorDescription, ...] = (
    LookbackBinarySensorDescription(
        key="recording",
        translation_key="recording",
        is_on_fn=lambda camera: camera.recording,
        available_fn=lambda _camera: True,
    ),
    LookbackBinarySensorDescription(
        key="connectivity",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda camera: camera.connected,
        attributes_fn=_connectivity_attributes,
        available_fn=lambda _camera: True,
    ),
    LookbackBinarySensorDescription(
        key="motion",
        device_class=BinarySensorDeviceClass.MOTION,
        is_on_fn=lambda camera: camera.motion_on,
        attributes_fn=_motion_attributes,
        available_fn=_motion_available,
    ),
    LookbackBinarySensorDescription(
        key="alert",
        translation_key="alert",
        is_on_fn=lambda camera: camera.alerts.on,
        attributes_fn=lambda camera: camera.alerts.attributes(),
        # Mail, ONVIF, entities and webhooks do not need the stream to be up.
        available_fn=lambda _camera: True,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The binary sensors of every camera."""
    del hass
    add_camera_entities(entry, async_add_entities, _entities_of)


def _entities_of(camera: CameraHub) -> list[BinarySensorEntity]:
    entities: list[BinarySensorEntity] = [LookbackBinarySensor(camera, d) for d in BINARY_SENSORS]
    entities.extend(ZoneMotionSensor(camera, zone) for zone in camera.zone_names)
    entities.extend(ObjectSensor(camera, label) for label in camera.objects.labels)
    return entities


class LookbackBinarySensor(LookbackCameraEntity, BinarySensorEntity):
    """A binary sensor of one camera."""

    entity_description: LookbackBinarySensorDescription

    def __init__(self, camera: CameraHub, description: LookbackBinarySensorDescription) -> None:
        """Attach to the camera."""
        super().__init__(camera, description)

    @property
    @override
    def available(self) -> bool:
        """The description's availability, else the stream's."""
        if (available_fn := self.entity_description.available_fn) is not None:
            return available_fn(self.camera)
        return super().available

    @property
    @override
    def is_on(self) -> bool | None:
        """On/off from the camera's state."""
        return self.entity_description.is_on_fn(self.camera)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Details (e.g. why the stream is down)."""
        return self.entity_description.attributes_fn(self.camera)


class ZoneMotionSensor(LookbackCameraEntity, BinarySensorEntity):
    """Motion inside one of the camera's zones (named in the camera's motion settings)."""

    _attr_device_class = BinarySensorDeviceClass.MOTION
    _attr_translation_key = "zone_motion"

    def __init__(self, camera: CameraHub, zone: str) -> None:
        """Attach to the camera; the unique id carries the zone's name."""
        super().__init__(camera, BinarySensorEntityDescription(key=zone_entity_key(zone)))
        self.zone = zone
        self._attr_translation_placeholders = {"zone": zone}

    @property
    @override
    def available(self) -> bool:
        """Available while motion detection runs on a live stream."""
        return _motion_available(self.camera)

    @property
    @override
    def is_on(self) -> bool:
        """Whether this zone has motion now."""
        motion = self.camera.motion
        return motion is not None and self.zone in motion.zones


class ObjectSensor(LookbackCameraEntity, BinarySensorEntity):
    """A tracked label (person, car...) in the camera's picture now: on while it is there.

    On once the label was seen in enough consecutive analysed frames; off when it has not
    been seen for the hold time. ``count`` is how many the latest frame showed, ``score`` the
    best score since it came.
    """

    _attr_device_class = BinarySensorDeviceClass.OCCUPANCY
    _attr_translation_key = "object"

    def __init__(self, camera: CameraHub, label: str) -> None:
        """Attach to the camera; the unique id carries the label."""
        super().__init__(camera, BinarySensorEntityDescription(key=object_entity_key(label)))
        self.label = label
        self._attr_translation_placeholders = {"label": label}

    @property
    @override
    def available(self) -> bool:
        """Available while detection runs on a live picture."""
        return self.camera.objects.available

    @property
    @override
    def is_on(self) -> bool:
        """Whether the label is in the picture now."""
        return self.camera.objects.state_of(self.label) is not None

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """How many, and the best score since the label came."""
        state = self.camera.objects.state_of(self.label)
        if state is None:
            return {"count": 0, "score": None}
        return {"count": state.count, "score": round(state.best_score, 3)}
