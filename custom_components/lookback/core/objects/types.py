"""Plain data of object detection: boxes, detections, per-camera settings, the detector protocol.

Boxes are relative to the whole picture (0-1 from the left and from the top), like motion boxes,
whatever part of the picture a detector was shown: a crop's results are mapped back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..models import Point

RGB = npt.NDArray[np.uint8]
"""A picture as height x width x 3 uint8, RGB."""

DEFAULT_LABELS = ("person", "car", "truck", "bicycle", "motorcycle", "dog", "cat")


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle relative to the picture: left, top, width, height (0-1)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def area(self) -> float:
        """Share of the picture the box covers."""
        return self.width * self.height

    @property
    def bottom_centre(self) -> Point:
        """Where an object stands: the middle of the box's lower edge."""
        return (self.x + self.width / 2, self.y + self.height)

    def as_list(self) -> list[float]:
        """[x, y, width, height] rounded for attributes, events and sidecars."""
        return [round(self.x, 3), round(self.y, 3), round(self.width, 3), round(self.height, 3)]


FULL_FRAME = Box(0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class Detection:
    """One object a detector found."""

    label: str
    score: float
    box: Box

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"label": self.label, "score": round(self.score, 3), "box": self.box.as_list()}


@dataclass(frozen=True, slots=True)
class ObjectConfig:
    """One camera's object detection settings."""

    enabled: bool = False
    labels: tuple[str, ...] = DEFAULT_LABELS
    min_score: float = 0.6
    min_area: float = 0.1
    """Percent of the picture a box must cover at least."""
    max_area: float = 100.0
    """Percent of the picture a box may cover at most."""
    masks: tuple[tuple[Point, ...], ...] = ()
    """Objects standing in a mask (the bottom centre of their box) are ignored."""
    min_frames: int = 2
    """Consecutive analysed frames a label must be seen in before it counts."""
    interval: float = 0.0
    """Seconds between detections on the newest keyframe whatever moves (0: only on motion)."""
    fps: float = 2.0
    """Detections per second at most while something moves."""
    model_path: str | None = None
    """The camera's own .tflite model (labels file beside it); None: the NVR's detector."""


class Picture(Protocol):
    """A decoded picture that a detector can crop and scale (a video frame or a still)."""

    @property
    def width(self) -> int:
        """Width in pixels."""

    @property
    def height(self) -> int:
        """Height in pixels."""

    def rgb(self, region: Box, size: tuple[int, int]) -> RGB:
        """``region`` of the picture scaled to ``size`` (width, height) as RGB."""


class Detector(Protocol):
    """Finds objects in a picture. Not thread-safe: the DetectorWorker is its only caller."""

    @property
    def name(self) -> str:
        """What it is, for diagnostics ("tflite mobilenet_ssd_v2_coco_quant_postprocess")."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label it can report."""

    def detect(self, picture: Picture, region: Box) -> list[Detection]:
        """Objects in ``region`` of ``picture``, boxes relative to the whole picture.

        Raises DetectorError when the detector cannot answer (the remote server is down).
        """

    def close(self) -> None:
        """Free what it holds."""


@dataclass(frozen=True, slots=True)
class DetectorStats:
    """The shared worker's counters, for sensors and diagnostics."""

    detector: str | None
    submitted: int
    processed: int
    dropped: int
    dropped_by_camera: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    last_error: str | None = None
    last_inference_ms: float | None = None
    average_inference_ms: float | None = None
    queued: int = 0
