"""Base entities: one HA device per camera (and one for the NVR), pushed by the hub."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .camera_hub import CameraHub, entity_unique_id
from .const import DOMAIN, NAME
from .hub import LookbackHub

if TYPE_CHECKING:
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .data import LookbackConfigEntry


def add_camera_entities(
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entities_of: Callable[[CameraHub], Iterable[Entity]],
) -> None:
    """Add each camera's entities to its own subentry (so removing a camera removes them).

    The hub keeps the adder to give cameras added later their entities without a reload.
    """
    hub = entry.runtime_data.hub

    def add(camera: CameraHub) -> None:
        async_add_entities(list(entities_of(camera)), config_subentry_id=camera.subentry_id)

    hub.entity_adders.append(add)
    for camera in hub.cameras.values():
        add(camera)


def nvr_device_info(hub: LookbackHub) -> DeviceInfo:
    """The NVR itself: storage figures live here, cameras hang below it."""
    return DeviceInfo(
        identifiers={(DOMAIN, hub.entry.entry_id)},
        name=NAME,
        manufacturer="Lookback",
        model="NVR",
        entry_type=DeviceEntryType.SERVICE,  # software, not a box on the network
    )


class LookbackCameraEntity(Entity):
    """An entity of one camera; written when the camera's hub says something changed."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # Most of a camera's entities mean nothing without its stream.
    _follows_stream = True

    def __init__(self, camera: CameraHub, description: EntityDescription) -> None:
        """Attach to the camera's device; the unique id is the camera id plus the key."""
        self.camera = camera
        self.entity_description = description
        self._attr_unique_id = entity_unique_id(camera.camera_id, description.key)
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, camera.camera_id)},
            name=camera.name,
            manufacturer="Lookback",
            model="Camera",
            via_device_id=camera.nvr_device_id,
        )

    @property
    def available(self) -> bool:
        """Unavailable while the stream is down (when this entity depends on it)."""
        return self.camera.connected or not self._follows_stream

    async def async_added_to_hass(self) -> None:
        """Hear the camera's changes until removed; the camera knows its entities."""
        await super().async_added_to_hass()
        self.async_on_remove(self.camera.async_add_listener(self.async_write_ha_state))
        self.camera.entities.add(self)
        self.async_on_remove(lambda: self.camera.entities.discard(self))


class LookbackNvrEntity(Entity):
    """An entity of the NVR device (storage figures)."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: LookbackHub, description: EntityDescription) -> None:
        """Attach to the NVR device."""
        self.hub = hub
        self.entity_description = description
        self._attr_unique_id = f"{hub.entry.entry_id}_{description.key}"
        self._attr_device_info = nvr_device_info(hub)

    async def async_added_to_hass(self) -> None:
        """Hear the hub's changes until removed."""
        await super().async_added_to_hass()
        self.async_on_remove(self.hub.async_add_listener(self.async_write_ha_state))
