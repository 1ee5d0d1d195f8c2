"""Pictures a detector can crop and scale: decoded video frames and stills, and the crop to ask for.

A detector sees a small square (300 x 300 for the bundled model). Asking for the part of a 1080p
frame where something moved, rather than the whole frame squeezed into that square, keeps a
person far away large enough to be recognised (see ``square_region``).
"""

from __future__ import annotations

from collections.abc import Sequence
import io
import math
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from .types import FULL_FRAME, RGB, Box

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

# Pillow's two-step resize (reduce by an integer factor, then resample): nearly the quality of
# a plain resize of the whole still at a fraction of the cost.
REDUCING_GAP = 3.0
MIN_SIDE_PX = 300
"""The smallest crop: the bundled model's input, so a tiny object is not blown up past it."""


class Rect(Protocol):
    """Anything with a relative position and size: a Box, a motion box."""

    @property
    def x(self) -> float:
        """Left edge, 0-1."""

    @property
    def y(self) -> float:
        """Top edge, 0-1."""

    @property
    def width(self) -> float:
        """Width, 0-1."""

    @property
    def height(self) -> float:
        """Height, 0-1."""


def _pixels(region: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """``region`` in pixels of a ``width`` x ``height`` picture: left, top, right, bottom."""
    return (
        region.x * width,
        region.y * height,
        (region.x + region.width) * width,
        (region.y + region.height) * height,
    )


class FramePicture:
    """A decoded video frame; ``rgb`` converts and scales it in one libswscale pass."""

    def __init__(self, frame: VideoFrame) -> None:
        """Wrap ``frame`` (any pixel format PyAV can convert to RGB)."""
        self._frame = frame

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self._frame.width

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self._frame.height

    def rgb(self, region: Box, size: tuple[int, int]) -> RGB:
        """``region`` scaled to ``size`` (width, height) as RGB.

        The whole frame is scaled (area averaging) to the size at which the region becomes
        ``size``, then the region is sliced out: one conversion and one scaling, done by
        libswscale without the GIL, instead of a full-size RGB copy resized in Python. Never
        scaled up: a region smaller than ``size`` (and a slice off by a pixel from rounding) is
        enlarged by Pillow, which touches only the slice.
        """
        out_w, out_h = size
        left, top, right, bottom = _pixels(region, self.width, self.height)
        scale_x = min(1.0, out_w / max(1.0, right - left))
        scale_y = min(1.0, out_h / max(1.0, bottom - top))
        full_w = max(1, round(self.width * scale_x))
        full_h = max(1, round(self.height * scale_y))
        whole = np.asarray(  # rgb24 is uint8 already: no copy
            self._frame.to_ndarray(
                format="rgb24", width=full_w, height=full_h, interpolation="AREA"
            ),
            dtype=np.uint8,
        )
        fx, fy = full_w / self.width, full_h / self.height  # the scales after rounding
        x0, y0, x1, y1 = _slice((left * fx, top * fy, right * fx, bottom * fy), full_w, full_h)
        piece: RGB = whole[y0:y1, x0:x1]
        if piece.shape[:2] != (out_h, out_w):
            piece = np.asarray(Image.fromarray(piece).resize(size, Image.Resampling.BILINEAR))
        # The runtime wants contiguous input; a slice of the scaled frame is a strided view.
        return np.ascontiguousarray(piece)


class ImagePicture:
    """A still (an alert's snapshot, a JPEG from the camera) held by Pillow."""

    def __init__(self, image: Image.Image) -> None:
        """Wrap ``image``, converted to RGB when it is not."""
        self._image = image if image.mode == "RGB" else image.convert("RGB")

    @classmethod
    def from_jpeg(cls, data: bytes) -> ImagePicture:
        """Decode a JPEG (or any format Pillow reads); ValueError when it does not decode."""
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return cls(image.convert("RGB"))
        except OSError as err:  # Pillow's "cannot identify" and truncated-file errors
            raise ValueError(str(err)) from err

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self._image.width

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self._image.height

    def rgb(self, region: Box, size: tuple[int, int]) -> RGB:
        """``region`` scaled to ``size`` (width, height) as RGB, in one Pillow resize."""
        box = _pixels(region, self.width, self.height)
        resized = self._image.resize(
            size, Image.Resampling.BILINEAR, box=box, reducing_gap=REDUCING_GAP
        )
        return np.asarray(resized, dtype=np.uint8)


def square_region(
    boxes: Sequence[Rect],
    width_px: int,
    height_px: int,
    padding: float = 0.25,
    min_side_px: int = MIN_SIDE_PX,
) -> Box:
    """The square (in pixels) to show a detector: around ``boxes`` (motion), or the whole frame.

    The union of the boxes, its longer side grown by ``padding`` of it on each side (context
    helps the model), at least ``min_side_px``, centred on the union and shifted (not shrunk) to
    stay inside the picture. A square model input then sees the object undistorted. When the
    square would not fit the picture's shorter side, or there are no boxes, the whole frame.
    """
    if not boxes:
        return FULL_FRAME
    left = min(box.x for box in boxes) * width_px
    top = min(box.y for box in boxes) * height_px
    right = max(box.x + box.width for box in boxes) * width_px
    bottom = max(box.y + box.height for box in boxes) * height_px
    longer = max(right - left, bottom - top)
    side = max(min_side_px, math.ceil(longer * (1.0 + 2.0 * padding)))
    if side > min(width_px, height_px):
        return FULL_FRAME
    x0 = min(max(0, round((left + right - side) / 2)), width_px - side)
    y0 = min(max(0, round((top + bottom - side) / 2)), height_px - side)
    return Box(x0 / width_px, y0 / height_px, side / width_px, side / height_px)


def _slice(
    edges: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    """Whole pixels of ``edges`` (left, top, right, bottom) inside the picture, never empty."""
    left, top, right, bottom = edges
    x0 = min(max(0, round(left)), width - 1)
    y0 = min(max(0, round(top)), height - 1)
    x1 = min(max(x0 + 1, round(right)), width)
    y1 = min(max(y0 + 1, round(bottom)), height)
    return x0, y0, x1, y1
