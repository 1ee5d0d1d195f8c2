"""The event's detection picture: the whole frame with a box and a "label 84%" tag per object."""

from __future__ import annotations

from collections.abc import Sequence
import io
import zlib

from PIL import Image, ImageDraw, ImageFont

from .types import FULL_FRAME, Detection, Picture

# Colours that stay visible on day and IR (grey) pictures; the common labels get fixed ones so
# a person is drawn alike on every event.
COLOURS: dict[str, tuple[int, int, int]] = {
    "person": (255, 64, 64),
    "car": (64, 160, 255),
    "truck": (32, 96, 255),
    "bicycle": (255, 200, 0),
    "motorcycle": (255, 128, 0),
    "dog": (64, 220, 96),
    "cat": (200, 96, 255),
}
PALETTE = ((0, 200, 200), (255, 96, 192), (160, 255, 64), (255, 160, 96), (128, 128, 255))


def colour_of(label: str) -> tuple[int, int, int]:
    """A label's colour: fixed for the usual labels, else picked by a stable hash of the name."""
    return COLOURS.get(label) or PALETTE[zlib.crc32(label.encode()) % len(PALETTE)]


def annotated_jpeg(
    picture: Picture, detections: Sequence[Detection], max_width: int = 960, quality: int = 85
) -> bytes:
    """The whole picture, at most ``max_width`` wide, with every detection drawn; a JPEG.

    Lines and text scale with the picture, so a 640 px sub-stream and a 960 px main-stream
    picture look alike on a phone.
    """
    width = min(max_width, picture.width)
    height = max(1, round(picture.height * width / picture.width))
    image = Image.fromarray(picture.rgb(FULL_FRAME, (width, height)))
    draw = ImageDraw.Draw(image)
    line = max(2, round(width / 320))
    font = ImageFont.load_default(size=max(10, round(width / 40)))
    pad = max(2, line)
    for detection in detections:
        box = detection.box
        x0, y0 = round(box.x * width), round(box.y * height)
        x1 = max(x0 + 1, round((box.x + box.width) * width) - 1)
        y1 = max(y0 + 1, round((box.y + box.height) * height) - 1)
        colour = colour_of(detection.label)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line)
        text = f"{detection.label} {round(detection.score * 100)}%"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tag_w, tag_h = right - left + 2 * pad, bottom - top + 2 * pad
        # Above the box; inside it when the box touches the top edge. Kept inside the picture.
        tag_y = y0 - tag_h if y0 >= tag_h else y0
        tag_x = min(x0, max(0, width - tag_w))
        draw.rectangle((tag_x, tag_y, tag_x + tag_w, tag_y + tag_h), fill=colour)
        red, green, blue = colour
        light = 0.299 * red + 0.587 * green + 0.114 * blue > 150  # Rec. 601 luma
        ink = (0, 0, 0) if light else (255, 255, 255)
        draw.text((tag_x + pad - left, tag_y + pad - top), text, fill=ink, font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()
