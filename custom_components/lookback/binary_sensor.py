"""Binary sensor platform: recording, stream connectivity, motion and camera alert."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .camera_hub import CameraHub
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


def _not_yet(_camera: CameraHub) -> bool:
    # Motion detection and camera alerts are separate features still to come: the entities
    # exist so automations can name them, and say "unavailable" until they are fed.
    return False


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
        entity_registry_enabled_default=False,  # until motion detection feeds it
        is_on_fn=lambda _camera: None,
        available_fn=_not_yet,
    ),
    LookbackBinarySensorDescription(
        key="alert",
        translation_key="alert",
        entity_registry_enabled_default=False,  # until camera alerts feed it
        is_on_fn=lambda _camera: None,
        available_fn=_not_yet,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The binary sensors of every camera."""
    del hass
    add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: (LookbackBinarySensor(camera, d) for d in BINARY_SENSORS),
    )


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
