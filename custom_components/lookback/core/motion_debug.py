"""The motion tuning picture: what the detector saw, as four panels in a 2 x 2 grid.

Top left the analysed picture with masks (red) and zones (yellow, named) and a 0.1 grid (so
polygon corners can be read off it); top right the difference to the background; bottom left
the changed pixels that counted; bottom right the motion boxes. Drawn only when asked for.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from .models import MotionConfig
    from .motion import DebugFrames

DIFFERENCE_GAIN = 4  # differences are small numbers: make them visible
MASK_TINT = np.array([150, 0, 0], dtype=np.uint16)
ZONE = (255, 210, 0)
BOX = (0, 230, 60)
GRID = (90, 90, 90)
TEXT = (255, 255, 255)


def debug_jpeg(debug: DebugFrames, config: MotionConfig, quality: int = 80) -> bytes:
    """Compose the four panels and return them as one JPEG."""
    height, width = debug.picture.shape
    picture = np.repeat(debug.picture[:, :, None], 3, axis=2)
    source = _tinted(picture, debug.ignored)
    difference = np.clip(debug.difference.astype(np.uint16) * DIFFERENCE_GAIN, 0, 255)
    changed = np.zeros_like(picture)
    changed[debug.changed] = 255
    changed = _tinted(changed, debug.ignored)

    panels = [
        Image.fromarray(source),
        Image.fromarray(np.repeat(difference.astype(np.uint8)[:, :, None], 3, axis=2)),
        Image.fromarray(changed),
        Image.fromarray(picture),
    ]
    _draw_grid_and_zones(ImageDraw.Draw(panels[0]), width, height, config)
    boxes = ImageDraw.Draw(panels[3])
    for box in debug.result.boxes:
        x0, y0 = box.x * width, box.y * height
        x1, y1 = x0 + box.width * width - 1, y0 + box.height * height - 1
        boxes.rectangle((x0, y0, x1, y1), outline=BOX, width=2)

    canvas = Image.new("RGB", (2 * width, 2 * height))
    for index, panel in enumerate(panels):
        canvas.paste(panel, ((index % 2) * width, (index // 2) * height))
    ImageDraw.Draw(canvas).text((4, 2 * height - 14), _summary(debug), fill=TEXT)
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _tinted(rgb: np.ndarray, ignored: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    if ignored.any():
        out[ignored] = ((rgb[ignored].astype(np.uint16) + MASK_TINT) // 2).astype(np.uint8)
    return out


def _draw_grid_and_zones(
    draw: ImageDraw.ImageDraw, width: int, height: int, config: MotionConfig
) -> None:
    for tenth in range(1, 10):
        x, y = tenth * (width - 1) / 10, tenth * (height - 1) / 10
        draw.line((x, 0, x, 3), fill=GRID)
        draw.line((0, y, 3, y), fill=GRID)
        draw.text((x - 6, 4), f".{tenth}", fill=GRID)
    for zone in config.zones:
        points = [(x * (width - 1), y * (height - 1)) for x, y in zone.polygon]
        draw.polygon(points, outline=ZONE, width=1)
        draw.text((points[0][0] + 3, points[0][1] + 2), zone.name, fill=ZONE)


def _summary(debug: DebugFrames) -> str:
    result = debug.result
    if result.recalibrated:
        return f"recalibrated (changed {result.changed_ratio:.0%})"
    text = f"score {result.score:.3f}  changed {result.changed_ratio:.1%}"
    if result.zones:
        text += "  zones: " + ", ".join(result.zones)
    return text
