"""MotionDetector: changed regions of small grey pictures against a running-average background.

Per frame, in numpy (Pillow for the blur): blur, light matching (the frame's brightness and
contrast mapped onto the background's by a robust linear fit, so auto-exposure and clouds are not
motion while the changed pixels, outliers of the fit, do not bias it), difference to the
background scaled by the picture's contrast, threshold, erosion then dilation, regions on a
coarse grid, minimum area, masks and zones. A frame whose light jumped (IR day/night switch,
lamps) or where most of the picture changed at once re-calibrates the background instead of
reporting motion. The background follows the scene with a time constant in seconds, so keyframes
2 s apart and frames 0.2 s apart age it alike. Pure and single-threaded: the analysis worker owns
one detector per camera.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import math

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from .models import MotionConfig
from .polygons import BoolMask, polygon_mask, union_mask

ANALYSIS_WIDTH = 320
BLUR_RADIUS = 1.0
BACKGROUND_TIME_CONSTANT_S = 8.0
# Where something moves, the background learns this many times slower (see _update_background).
MOVING_SLOWDOWN = 4.0
# Share of the unmasked picture changed at once that means "the light changed", not motion.
GLOBAL_CHANGE_RATIO = 0.45
# A frame this many times brighter or darker than the background (after the fit) is a light
# switch, not something to compensate: the IR day/night switch, a lamp.
LIGHT_JUMP = 1.5
# Contrast: differences are scaled as if the picture's 2nd..98th percentile spread were 0..255,
# amplified at most this much (dark night pictures would otherwise turn sensor noise into motion).
MAX_CONTRAST_GAIN = 4.0
# Light fit: every LIGHT_FIT_STEP-th pixel each way; pixels further than LIGHT_FIT_SPREAD robust
# deviations (at least LIGHT_FIT_FLOOR levels) from the fit are changes, left out of the next fit.
LIGHT_FIT_STEP = 4
LIGHT_FIT_SPREAD = 3.0
LIGHT_FIT_FLOOR = 6.0
LIGHT_FIT_ROUNDS = 2
# Below this standard deviation (grey levels) the background is too flat to fit a contrast
# change: only the brightness offset is matched.
LIGHT_FIT_MIN_STD = 8.0
CELL = 8  # region grid: cells of CELL x CELL pixels
CELL_MIN_CHANGED = 6  # changed pixels that make a cell part of a region

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


def analysis_size(width: int, height: int) -> tuple[int, int]:
    """The analysed picture's size: ANALYSIS_WIDTH wide (never wider than the source), even."""
    out_w = min(ANALYSIS_WIDTH, width)
    out_h = max(2, round(height * out_w / width / 2) * 2)
    return out_w, out_h


def threshold_for(sensitivity: float) -> float:
    """Grey-level difference that counts as change: sensitivity 0 -> 50, 50 -> 30, 100 -> 10."""
    return 50.0 - 0.4 * min(100.0, max(0.0, sensitivity))


@dataclass(frozen=True, slots=True)
class MotionBox:
    """A changed region: its bounding box relative to the picture and its changed share."""

    x: float
    y: float
    width: float
    height: float
    area: float
    """Changed pixels of the region as a fraction of the whole picture."""

    def as_list(self) -> list[float]:
        """[x, y, width, height] rounded for attributes and events."""
        return [round(self.x, 3), round(self.y, 3), round(self.width, 3), round(self.height, 3)]


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What one analysed frame showed."""

    time: float
    motion: bool
    score: float
    """Changed share of the unmasked picture in regions that count (0-1)."""
    boxes: tuple[MotionBox, ...]
    zones: tuple[str, ...]
    changed_ratio: float
    """Share of unmasked pixels over the threshold before erosion: the global-change figure."""
    recalibrated: bool = False


@dataclass(frozen=True, slots=True)
class DebugFrames:
    """The last analysed frame's working pictures, for the tuning image."""

    picture: U8
    difference: U8
    changed: BoolMask
    ignored: BoolMask
    zones: tuple[tuple[str, BoolMask], ...]
    result: MotionResult


class MotionDetector:
    """One camera's motion analysis; feed it grey frames at ``analysis_size`` in time order."""

    def __init__(self, config: MotionConfig) -> None:
        """Use ``config`` (masks and zones are rasterised on the first frame of each size)."""
        self.config = config
        self._threshold = threshold_for(config.sensitivity)
        self._background: F32 | None = None
        self._previous: F32 | None = None  # the last analysed picture
        self._last_time: float | None = None
        self._size: tuple[int, int] | None = None
        self._ignored: BoolMask = np.zeros((0, 0), np.bool_)
        self._zones: tuple[tuple[str, BoolMask], ...] = ()
        self._watched_pixels = 1
        self._sample: npt.NDArray[np.intp] = np.zeros(0, np.intp)
        self.last_debug: DebugFrames | None = None
        self.recalibrations = 0

    def reset(self) -> None:
        """Forget the background (a new connection: the scene may have changed meanwhile)."""
        self._background = None
        self._previous = None
        self._last_time = None

    def analyse(self, grey: U8, time: float) -> MotionResult:
        """Compare one grey frame (uint8, height x width) with the background, then update it."""
        height, width = grey.shape
        if self._size != (width, height):
            self._prepare(width, height)
        picture = self._normalise(grey)
        background = self._background
        if background is None:
            return self._recalibrate(picture, time, changed_ratio=0.0)
        # Light and contrast are measured on a grid of watched pixels: masked motion (a TV, a
        # flag) must not sway them.
        seen = background.ravel()[self._sample]
        gain, offset = _fit_light(seen, picture.ravel()[self._sample])
        jumped = not 1.0 / LIGHT_JUMP <= gain <= LIGHT_JUMP
        # After a jump the fit means nothing: the change is measured unmatched, for the record.
        matched = picture if jumped else (picture - np.float32(offset)) / np.float32(gain)
        # The frame's spread, in the background's units (the fit's gain taken out).
        spread = _spread(grey.ravel()[self._sample]) / (1.0 if jumped else gain)
        scale = min(MAX_CONTRAST_GAIN, 255.0 / max(1.0, spread))
        difference = np.abs(matched - background) * np.float32(scale)
        raw = difference > self._threshold
        raw[self._ignored] = False
        changed_ratio = float(np.count_nonzero(raw)) / self._watched_pixels
        if jumped or changed_ratio >= GLOBAL_CHANGE_RATIO:
            return self._recalibrate(picture, time, changed_ratio)
        changed = _dilate(_erode(raw))
        changed[self._ignored] = False
        boxes, kept = self._regions(changed)
        zones = self._active_zones(kept)
        score = float(np.count_nonzero(kept)) / self._watched_pixels
        result = MotionResult(
            time=time,
            motion=bool(boxes),
            score=round(score, 4),
            boxes=boxes,
            zones=zones,
            changed_ratio=round(changed_ratio, 4),
        )
        # The background takes the frame as it is (not matched), so it follows slow light.
        # Slow learning only where something moves now (it differs from the previous frame too):
        # what changed and then stays (a parked car, or a wrong background after a start with
        # someone in view) is learnt at the normal rate.
        if self._previous is not None:
            moved = np.abs(picture - self._previous) * np.float32(scale) > self._threshold
            changed &= _dilate(moved)
        self._previous = picture
        self._update_background(background, picture, time, changed)
        self.last_debug = DebugFrames(
            _to_u8(matched), _to_u8(difference), kept, self._ignored, self._zones, result
        )
        return result

    # --- steps -------------------------------------------------------------------------------

    def _prepare(self, width: int, height: int) -> None:
        self._size = (width, height)
        self._ignored = union_mask(self.config.masks, width, height)
        self._zones = tuple(
            (zone.name, polygon_mask(zone.polygon, width, height) & ~self._ignored)
            for zone in self.config.zones
        )
        self._watched_pixels = max(1, width * height - int(np.count_nonzero(self._ignored)))
        grid = np.zeros((height, width), np.bool_)
        grid[::LIGHT_FIT_STEP, ::LIGHT_FIT_STEP] = True
        self._sample = np.flatnonzero(grid & ~self._ignored)  # where light is measured
        self.reset()

    def _normalise(self, grey: U8) -> F32:
        """Blur (sensor noise and compression speckle): the picture in the background's units."""
        return np.asarray(
            Image.fromarray(grey).filter(ImageFilter.GaussianBlur(BLUR_RADIUS)), dtype=np.float32
        )

    def _recalibrate(self, picture: F32, time: float, changed_ratio: float) -> MotionResult:
        self._background = picture
        self._previous = picture
        self._last_time = time
        self.recalibrations += 1
        result = MotionResult(
            time=time,
            motion=False,
            score=0.0,
            boxes=(),
            zones=(),
            changed_ratio=round(changed_ratio, 4),
            recalibrated=True,
        )
        empty = np.zeros(picture.shape, np.bool_)
        self.last_debug = DebugFrames(
            _to_u8(picture), np.zeros(picture.shape, np.uint8), empty, self._ignored, (), result
        )
        return result

    def _update_background(
        self, background: F32, picture: F32, time: float, changed: BoolMask
    ) -> None:
        """Blend the frame in; where it moves, MOVING_SLOWDOWN times slower.

        A visitor blended in at the full rate leaves a ghost that reads as motion for seconds
        after they left; something that stays (a parked car) still fades in, only later.
        """
        elapsed = 0.0 if self._last_time is None else max(0.0, time - self._last_time)
        alpha = 1.0 - math.exp(-elapsed / BACKGROUND_TIME_CONSTANT_S)
        slow = 1.0 - math.exp(-elapsed / (BACKGROUND_TIME_CONSTANT_S * MOVING_SLOWDOWN))
        rate = np.where(changed, np.float32(slow), np.float32(alpha))
        background += rate * (picture - background)
        self._last_time = time

    def _regions(self, changed: BoolMask) -> tuple[tuple[MotionBox, ...], BoolMask]:
        """Regions of the changed mask big enough to count, and the pixels they cover."""
        height, width = changed.shape
        rows, cols = -(-height // CELL), -(-width // CELL)
        padded = np.zeros((rows * CELL, cols * CELL), np.bool_)
        padded[:height, :width] = changed
        per_cell = padded.reshape(rows, CELL, cols, CELL).sum(axis=(1, 3))
        min_pixels = self.config.min_area / 100.0 * width * height
        boxes: list[MotionBox] = []
        kept = np.zeros_like(changed)
        for cells in _components(per_cell >= CELL_MIN_CHANGED):
            pixels = int(sum(per_cell[r, c] for r, c in cells))
            if pixels < min_pixels:
                continue
            r0, r1 = min(r for r, _ in cells), max(r for r, _ in cells) + 1
            c0, c1 = min(c for _, c in cells), max(c for _, c in cells) + 1
            y0, y1 = r0 * CELL, min(height, r1 * CELL)
            x0, x1 = c0 * CELL, min(width, c1 * CELL)
            for r, c in cells:
                cell = np.s_[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL]
                kept[cell] = changed[cell]
            boxes.append(
                MotionBox(
                    x0 / width,
                    y0 / height,
                    (x1 - x0) / width,
                    (y1 - y0) / height,
                    pixels / (width * height),
                )
            )
        boxes.sort(key=lambda box: box.area, reverse=True)
        return tuple(boxes), kept

    def _active_zones(self, kept: BoolMask) -> tuple[str, ...]:
        """Zones holding enough of the counted change: the minimum area, or half the zone."""
        min_pixels = self.config.min_area / 100.0 * kept.size
        active = []
        for name, zone in self._zones:
            inside = int(np.count_nonzero(kept & zone))
            if inside and inside >= min(min_pixels, 0.5 * int(np.count_nonzero(zone))):
                active.append(name)
        return tuple(active)


def _fit_light(background: F32, picture: F32) -> tuple[float, float]:
    """Gain and offset with picture ~ gain * background + offset where the scene is unchanged.

    Least squares, repeated without the pixels far off the previous fit (objects, which must not
    bias it), starting from the median offset. On a flat background only the offset is fitted
    (its contrast says nothing about a gain). Inputs: the same pixels of both pictures.
    """
    if background.size < 2:
        return 1.0, 0.0
    fit_gain = float(background.std()) >= LIGHT_FIT_MIN_STD
    gain, offset = 1.0, float(np.median(picture - background))
    for _ in range(LIGHT_FIT_ROUNDS):
        residual = picture - (np.float32(gain) * background + np.float32(offset))
        deviation = np.abs(residual - np.median(residual))
        spread = 1.4826 * float(np.median(deviation))  # the standard deviation, robustly
        keep = deviation <= max(LIGHT_FIT_SPREAD * spread, LIGHT_FIT_FLOOR)
        x, y = background[keep], picture[keep]
        if x.size < 2:
            break
        x_mean, y_mean = float(x.mean()), float(y.mean())
        if fit_gain:
            dx = x - np.float32(x_mean)
            variance = float(np.mean(dx * dx))
            # What is left may be too flat for a gain (most of the picture changed): keep it.
            if variance >= (LIGHT_FIT_MIN_STD / 2) ** 2:
                gain = float(np.mean(dx * (y - np.float32(y_mean)))) / variance
        offset = y_mean - gain * x_mean
    return gain, offset


def _spread(grey: U8) -> float:
    """Grey levels from the 2nd to the 98th percentile (of the unblurred picture)."""
    if grey.size < 2:
        return 255.0
    counts = np.cumsum(np.bincount(grey, minlength=256))
    low = float(np.searchsorted(counts, counts[-1] * 0.02))
    high = float(np.searchsorted(counts, counts[-1] * 0.98))
    return high - low


def _erode(mask: BoolMask) -> BoolMask:
    """3x3 erosion: a pixel stays only when its whole neighbourhood changed (drops speckle)."""
    padded = np.pad(mask, 1, constant_values=False)
    out = mask.copy()
    height, width = mask.shape
    for dy in range(3):
        for dx in range(3):
            out &= padded[dy : dy + height, dx : dx + width]
    return out


def _dilate(mask: BoolMask, radius: int = 2) -> BoolMask:
    """Square dilation: grows what survived erosion back and joins the parts of one object."""
    size = 2 * radius + 1
    padded = np.pad(mask, radius, constant_values=False)
    out = np.zeros_like(mask)
    height, width = mask.shape
    for dy in range(size):
        for dx in range(size):
            out |= padded[dy : dy + height, dx : dx + width]
    return out


def _components(cells: BoolMask) -> list[list[tuple[int, int]]]:
    """8-connected groups of true cells (the grid is small: tens by tens)."""
    rows, cols = cells.shape
    seen = np.zeros_like(cells)
    groups: list[list[tuple[int, int]]] = []
    for start in zip(*np.nonzero(cells), strict=True):
        r0, c0 = int(start[0]), int(start[1])
        if seen[r0, c0]:
            continue
        seen[r0, c0] = True
        group: list[tuple[int, int]] = []
        queue = deque([(r0, c0)])
        while queue:
            r, c = queue.popleft()
            group.append((r, c))
            for nr in range(max(0, r - 1), min(rows, r + 2)):
                for nc in range(max(0, c - 1), min(cols, c + 2)):
                    if cells[nr, nc] and not seen[nr, nc]:
                        seen[nr, nc] = True
                        queue.append((nr, nc))
        groups.append(group)
    return groups


def _to_u8(picture: F32) -> U8:
    return np.clip(picture, 0, 255).astype(np.uint8)
