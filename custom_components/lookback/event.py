"""Event platform: one event entity per camera for event_started and clip_saved."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .camera_hub import CameraHub
from .data import LookbackConfigEntry
from .entity import LookbackCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0

EVENT_TYPES = ["event_started", "clip_saved"]

CAMERA_EVENT = EventEntityDescription(
    key="event", translation_key="camera_event", event_types=EVENT_TYPES
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One event entity per camera."""
    del hass
    add_camera_entities(entry, async_add_entities, lambda camera: [CameraEventEntity(camera)])


class CameraEventEntity(LookbackCameraEntity, EventEntity):
    """Fires when an event starts and when its clip is saved, with the event's data."""

    _follows_stream = False  # a clip can be saved after the stream went down

    def __init__(self, camera: CameraHub) -> None:
        """Attach to the camera."""
        super().__init__(camera, CAMERA_EVENT)

    async def async_added_to_hass(self) -> None:
        """Hear the camera's events until removed."""
        await super().async_added_to_hass()
        self.async_on_remove(self.camera.async_add_event_listener(self._on_event))

    @callback
    def _on_event(self, event_type: str, data: dict[str, Any]) -> None:
        self._trigger_event(event_type, data)
        self.async_write_ha_state()
