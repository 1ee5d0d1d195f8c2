"""Camera platform: the cameras, and a diagnostic camera each showing what motion detection sees.

Stills come from the ring's newest keyframe, live view from the main stream; the tuning view
helps with masks, zones and sensitivity.
"""

from __future__ import annotations

from typing import override

from homeassistant.components.camera import Camera
from homeassistant.components.camera.const import CameraEntityFeature
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .camera_hub import CameraHub
from .data import LookbackConfigEntry
from .entity import LookbackCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0  # nothing is polled: stills come from memory

CAMERA = EntityDescription(key="camera", name=None)  # the device's own name
MOTION_DEBUG = EntityDescription(
    key="motion_debug",
    translation_key="motion_debug",
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The camera entity and the motion tuning view of every camera subentry."""
    del hass
    add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: [LookbackCamera(camera), MotionDebugCamera(camera)],
    )


class LookbackCamera(LookbackCameraEntity, Camera):
    """A Lookback camera: no second connection to the camera for stills."""

    _attr_supported_features = CameraEntityFeature.STREAM

    def __init__(self, camera: CameraHub) -> None:
        """Set up both bases (Camera keeps its own access tokens)."""
        LookbackCameraEntity.__init__(self, camera, CAMERA)
        Camera.__init__(self)

    @property
    @override
    def is_recording(self) -> bool:
        """Whether a clip is being written now."""
        return self.camera.recording

    @override
    async def stream_source(self) -> str | None:
        """The main stream, for HA's stream integration / go2rtc live view."""
        return self.camera.stream_url

    @override
    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """JPEG of the newest keyframe already in RAM (decoded in an executor, cached)."""
        del height  # the aspect ratio is kept; width bounds the size
        return await self.camera.async_still_image(width)


class MotionDebugCamera(LookbackCameraEntity, Camera):
    """What motion detection saw in the last analysed frame, as four panels.

    Source with masks, zones and a 0.1 grid; difference to the background; the changed pixels
    that counted; the motion boxes. Drawn only when someone looks (no cost otherwise).
    """

    def __init__(self, camera: CameraHub) -> None:
        """Set up both bases."""
        LookbackCameraEntity.__init__(self, camera, MOTION_DEBUG)
        Camera.__init__(self)

    @property
    @override
    def available(self) -> bool:
        """Available while motion detection runs on a live stream."""
        return self.camera.motion_available

    @override
    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """The tuning picture (at the analysis size: HA's frontend scales it)."""
        del width, height
        return await self.camera.async_motion_debug_image()
