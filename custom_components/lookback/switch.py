"""Switch platform: recording enabled and motion detection per camera, both restored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, override

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import STATE_OFF, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .camera_hub import CameraHub
from .data import LookbackConfigEntry
from .entity import LookbackCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class LookbackSwitchDescription(SwitchEntityDescription):
    """How a switch reads and sets its camera (the camera pushes the new state)."""

    is_on_fn: Callable[[CameraHub], bool]
    set_fn: Callable[[CameraHub, bool], None]


SWITCHES: tuple[LookbackSwitchDescription, ...] = (
    # Off: triggers are logged and make no clip (an open clip still ends normally).
    LookbackSwitchDescription(
        key="recording_enabled",
        translation_key="recording_enabled",
        entity_category=EntityCategory.CONFIG,
        is_on_fn=lambda camera: camera.recording_enabled,
        set_fn=CameraHub.async_set_recording_enabled,
    ),
    # Off: nothing is decoded for motion and motion that is on ends now; other triggers still
    # make clips.
    LookbackSwitchDescription(
        key="motion_detection",
        translation_key="motion_detection",
        entity_category=EntityCategory.CONFIG,
        is_on_fn=lambda camera: camera.motion_enabled,
        set_fn=CameraHub.async_set_motion_enabled,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The switches of every camera."""
    del hass
    add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: (LookbackSwitch(camera, description) for description in SWITCHES),
    )


class LookbackSwitch(LookbackCameraEntity, SwitchEntity, RestoreEntity):
    """A camera setting that survives restarts (on by default)."""

    entity_description: LookbackSwitchDescription
    _follows_stream = False  # it can be switched while the camera is down

    def __init__(self, camera: CameraHub, description: LookbackSwitchDescription) -> None:
        """Attach to the camera."""
        super().__init__(camera, description)

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the last choice."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self.entity_description.set_fn(self.camera, last.state != STATE_OFF)

    @property
    @override
    def is_on(self) -> bool:
        """The camera's setting."""
        return self.entity_description.is_on_fn(self.camera)

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch the setting on."""
        self.entity_description.set_fn(self.camera, True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch the setting off."""
        self.entity_description.set_fn(self.camera, False)
