"""The motion tuning picture: four panels of what the detector saw, drawn with Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from custom_components.lookback.core.models import MotionConfig, Zone
from custom_components.lookback.core.motion import MotionDetector
from custom_components.lookback.core.motion_debug import debug_jpeg

WIDTH, HEIGHT = 320, 180


def scene(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    texture = rng.integers(40, 200, size=(HEIGHT // 10, WIDTH // 10), dtype=np.uint8)
    return np.kron(texture, np.ones((10, 10), dtype=np.uint8))


def decoded(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as picture:
        assert picture.format == "JPEG"
        return np.asarray(picture.convert("RGB"))


def test_panels_show_masks_zones_difference_and_boxes() -> None:
    config = MotionConfig(
        masks=(((0.0, 0.0), (0.2, 0.0), (0.2, 0.2), (0.0, 0.2)),),
        zones=(Zone("door", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))),),
    )
    detector = MotionDetector(config)
    background = scene()
    detector.analyse(background, 0.0)
    moved = background.copy()
    moved[60:140, 200:260] = 255 - moved[60:140, 200:260]  # something bright walks in
    result = detector.analyse(moved, 1.0)
    assert result.motion
    assert result.zones == ("door",)
    assert detector.last_debug is not None

    pixels = decoded(debug_jpeg(detector.last_debug, config)).astype(int)
    assert pixels.shape == (2 * HEIGHT, 2 * WIDTH, 3)
    top_left, top_right = pixels[:HEIGHT, :WIDTH], pixels[:HEIGHT, WIDTH:]
    bottom_left, bottom_right = pixels[HEIGHT:, :WIDTH], pixels[HEIGHT:, WIDTH:]
    # The mask is tinted red in the source panel.
    mask = top_left[10:30, 10:50]
    assert (mask[..., 0] - mask[..., 1]).mean() > 40
    # The difference panel is bright where the object is, dark elsewhere.
    assert top_right[80:120, 210:250].mean() > 100
    assert top_right[100:170, 20:120].mean() < 30
    # The changed pixels are white there; the boxes panel has a green outline around them.
    assert bottom_left[80:120, 210:250].mean() > 200
    green = (
        (bottom_right[..., 1] > 180) & (bottom_right[..., 0] < 100) & (bottom_right[..., 2] < 120)
    )
    ys, xs = np.nonzero(green)
    assert xs.min() >= 190
    assert xs.max() <= 270
    assert ys.min() >= 50
    assert ys.max() <= 150


def test_a_recalibrated_frame_has_an_empty_difference() -> None:
    detector = MotionDetector(MotionConfig())
    detector.analyse(scene(), 0.0)
    detector.analyse(255 - scene(), 1.0)  # the whole picture changed: lights, IR switch
    debug = detector.last_debug
    assert debug is not None
    assert debug.result.recalibrated
    pixels = decoded(debug_jpeg(debug, MotionConfig())).astype(int)
    assert pixels[:HEIGHT, WIDTH:].mean() < 5
