"""Camera platform: a still from the ring's newest keyframe, live view from the main stream."""

from __future__ import annotations

from typing import override

from homeassistant.components.camera import Camera
from homeassistant.components.camera.const import CameraEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .camera_hub import CameraHub
from .data import LookbackConfigEntry
from .entity import LookbackCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0  # nothing is polled: stills come from memory

CAMERA = EntityDescription(key="camera", name=None)  # the device's own name


async def async_setup_entry(
    hass: HomeAssistant,
    entry: LookbackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One camera entity per camera subentry."""
    del hass
    add_camera_entities(entry, async_add_entities, lambda camera: [LookbackCamera(camera)])


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
