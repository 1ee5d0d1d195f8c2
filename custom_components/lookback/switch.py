"""Switch platforms: recording enabled and motion detection per camera, both restored."""

from __future__ import annotations

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

RECORDING_ENABLED = SwitchEntityDescription(
    key="recording_enabled",
    translation_key="recording_enabled",
    entity_category=EntityCategory.CONFIG,
)
MOTION_DETECTION = SwitchEntityDescription(
    key="motion_detection",
    translation_key="motion_detection",
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The recording and motion detection switches of every camera."""
    del hass
    add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: [RecordingSwitch(camera), MotionDetectionSwitch(camera)],
    )


class RecordingSwitch(LookbackCameraEntity, SwitchEntity, RestoreEntity):
    """Whether triggers of this camera make clips; survives restarts."""

    _follows_stream = False  # it can be switched while the camera is down

    def __init__(self, camera: CameraHub) -> None:
        """Attach to the camera."""
        super().__init__(camera, RECORDING_ENABLED)

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the last choice (on by default)."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self.camera.recording_enabled = last.state != STATE_OFF

    @property
    @override
    def is_on(self) -> bool:
        """Whether recording is enabled."""
        return self.camera.recording_enabled

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Let triggers make clips again."""
        self.camera.recording_enabled = True
        self.async_write_ha_state()

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Log triggers without making clips (an open clip still ends normally)."""
        self.camera.recording_enabled = False
        self.async_write_ha_state()


class MotionDetectionSwitch(LookbackCameraEntity, SwitchEntity, RestoreEntity):
    """Whether the camera's picture is analysed for motion; survives restarts.

    Off, nothing is decoded (no CPU spent) and motion triggers stop; other triggers still
    make clips.
    """

    _follows_stream = False

    def __init__(self, camera: CameraHub) -> None:
        """Attach to the camera."""
        super().__init__(camera, MOTION_DETECTION)

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the last choice (on by default)."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_state()) is not None:
            self.camera.async_set_motion_enabled(last.state != STATE_OFF)

    @property
    @override
    def is_on(self) -> bool:
        """Whether motion detection runs."""
        return self.camera.motion_enabled

    @override
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Analyse the picture again."""
        self.camera.async_set_motion_enabled(True)

    @override
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop analysing; motion that is on ends now."""
        self.camera.async_set_motion_enabled(False)
