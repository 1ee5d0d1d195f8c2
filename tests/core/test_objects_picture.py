"""Pictures for detectors (video frames, stills), the crop around motion, the annotated JPEG."""

from __future__ import annotations

import io

import av
import numpy as np
import numpy.typing as npt
from PIL import Image
import pytest

from custom_components.lookback.core.motion import MotionBox
from custom_components.lookback.core.objects.annotate import annotated_jpeg, colour_of
from custom_components.lookback.core.objects.picture import (
    MIN_SIDE_PX,
    FramePicture,
    ImagePicture,
    Rect,
    square_region,
)
from custom_components.lookback.core.objects.types import FULL_FRAME, RGB, Box, Detection
from tests.sim.media import _photo

I16 = npt.NDArray[np.int16]


def yuv_frame(image: Image.Image) -> av.VideoFrame:
    """A frame as a decoder hands it out: yuv420p (4:2:0 chroma, BT.601)."""
    rgb = av.VideoFrame.from_ndarray(np.asarray(image, dtype=np.uint8), format="rgb24")
    return rgb.reformat(format="yuv420p")


def mean_difference(a: RGB, b: RGB) -> float:
    """Mean absolute difference per channel value, in 8-bit levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    """A 1920x1080 camera-sized picture of a real photograph."""
    return _photo("astronaut.png").resize((1920, 1080), Image.Resampling.LANCZOS)


# --- square_region -----------------------------------------------------------------------------


def test_square_region_without_boxes_is_the_whole_frame() -> None:
    """No motion box: nothing to zoom on."""
    assert square_region([], 1920, 1080) is FULL_FRAME


def test_square_region_small_box_gets_the_minimum_side() -> None:
    """A 60x120 px person far away: a 300 px square centred on it, square in pixels."""
    box = Box(1000 / 1920, 500 / 1080, 60 / 1920, 120 / 1080)
    region = square_region([box], 1920, 1080)
    assert region.width * 1920 == pytest.approx(MIN_SIDE_PX)
    assert region.height * 1080 == pytest.approx(MIN_SIDE_PX)
    centre = ((region.x + region.width / 2) * 1920, (region.y + region.height / 2) * 1080)
    assert centre == pytest.approx((1030, 560), abs=1)


def test_square_region_pads_the_union_of_boxes() -> None:
    """Two motion boxes: their union, longer side grown by a quarter on each side."""
    boxes: list[Rect] = [
        MotionBox(400 / 1920, 300 / 1080, 100 / 1920, 200 / 1080, 0.01),  # motion boxes work
        Box(700 / 1920, 350 / 1080, 100 / 1920, 300 / 1080),
    ]
    region = square_region(boxes, 1920, 1080)  # union 400x350 px at (400, 300)
    assert region.width * 1920 == pytest.approx(600)  # 400 * 1.5
    assert region.height * 1080 == pytest.approx(600)
    assert region.x * 1920 == pytest.approx(300)  # centred: (400 + 800 - 600) / 2
    assert region.y * 1080 == pytest.approx(175)  # (300 + 650 - 600) / 2
    assert square_region(boxes, 1920, 1080, padding=0.0).width * 1920 == pytest.approx(400)


def test_square_region_is_shifted_not_shrunk_at_the_edges() -> None:
    """A box in a corner: the square keeps its side and moves inside the picture."""
    corner = square_region([Box(0.97, 0.95, 0.03, 0.05)], 1920, 1080)
    assert corner.width * 1920 == pytest.approx(MIN_SIDE_PX)
    assert corner.x + corner.width == pytest.approx(1.0)
    assert corner.y + corner.height == pytest.approx(1.0)
    top_left = square_region([Box(0.0, 0.0, 0.01, 0.01)], 1920, 1080)
    assert (top_left.x, top_left.y) == (0.0, 0.0)


def test_square_region_too_big_for_the_picture_is_the_whole_frame() -> None:
    """A square taller than the picture would not be square: the whole frame instead."""
    assert square_region([Box(0.3, 0.2, 0.2, 0.7)], 1920, 1080) is FULL_FRAME  # 1134 px tall
    assert square_region([Box(0.4, 0.4, 0.1, 0.1)], 320, 240) is FULL_FRAME  # 300 > 240
    fits = square_region([Box(0.4, 0.3, 0.1, 0.2)], 640, 360, min_side_px=360)
    assert fits == Box(108 / 640, 0.0, 360 / 640, 1.0)  # exactly the shorter side still fits


# --- ImagePicture -----------------------------------------------------------------------------


def test_image_picture_crops_the_region() -> None:
    """The region's pixels come out, scaled: a quadrant of four colours."""
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    image.paste((0, 0, 255), (200, 100, 400, 200))
    picture = ImagePicture(image)
    assert (picture.width, picture.height) == (400, 200)
    blue = picture.rgb(Box(0.5, 0.5, 0.5, 0.5), (50, 30))
    assert blue.shape == (30, 50, 3)
    assert blue.dtype == np.uint8
    # The filter reaches a pixel or two over the region's edge, into the red.
    assert (blue[2:-2, 2:-2] == (0, 0, 255)).all()
    whole = picture.rgb(FULL_FRAME, (40, 20))
    assert tuple(whole[2, 2]) == (255, 0, 0)
    assert tuple(whole[17, 37]) == (0, 0, 255)


def test_image_picture_converts_to_rgb() -> None:
    """Grey and RGBA stills become RGB."""
    assert ImagePicture(Image.new("L", (10, 10), 80)).rgb(FULL_FRAME, (5, 5))[0, 0].tolist() == [
        80,
        80,
        80,
    ]
    assert ImagePicture(Image.new("RGBA", (10, 10))).rgb(FULL_FRAME, (4, 4)).shape == (4, 4, 3)


def test_image_picture_from_jpeg(scene: Image.Image) -> None:
    """A JPEG decodes to its size; garbage is a ValueError."""
    out = io.BytesIO()
    scene.save(out, "JPEG", quality=90)
    picture = ImagePicture.from_jpeg(out.getvalue())
    assert (picture.width, picture.height) == (1920, 1080)
    expected = ImagePicture(scene).rgb(FULL_FRAME, (300, 300))
    assert mean_difference(picture.rgb(FULL_FRAME, (300, 300)), expected) < 2.0
    with pytest.raises(ValueError, match="cannot identify"):
        ImagePicture.from_jpeg(b"not a picture")
    with pytest.raises(ValueError, match=r"truncated|broken"):
        ImagePicture.from_jpeg(out.getvalue()[: len(out.getvalue()) // 2])


# --- FramePicture ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "region",
    [
        FULL_FRAME,  # 1920x1080 squeezed into the model's square
        Box(1000 / 1920, 400 / 1080, 450 / 1920, 450 / 1080),  # a motion square: scaled down
        Box(700 / 1920, 100 / 1080, 300 / 1920, 300 / 1080),  # exactly the size: not scaled
        Box(1600 / 1920, 900 / 1080, 120 / 1920, 120 / 1080),  # smaller: enlarged by Pillow
        Box(0.0, 0.7, 0.3, 0.3),  # touching the edge, not square in pixels
    ],
)
def test_frame_picture_matches_image_picture(scene: Image.Image, region: Box) -> None:
    """A decoded frame gives the same crop as the still it was made of (4:2:0 aside)."""
    frame = FramePicture(yuv_frame(scene))
    assert (frame.width, frame.height) == (1920, 1080)
    got = frame.rgb(region, (300, 300))
    assert got.shape == (300, 300, 3)
    assert got.dtype == np.uint8
    assert got.flags.c_contiguous
    # Apart: 4:2:0 chroma, area averaging against bilinear, and the slice's whole-pixel edges
    # (up to half a scaled pixel off the exact region Pillow samples).
    assert mean_difference(got, ImagePicture(scene).rgb(region, (300, 300))) < 5.0


def test_frame_picture_other_sizes(scene: Image.Image) -> None:
    """Non-square model inputs and odd sizes come out exactly as asked."""
    frame = FramePicture(yuv_frame(scene))
    still = ImagePicture(scene)
    for region, size in [
        (FULL_FRAME, (320, 180)),
        (Box(0.1, 0.2, 0.31, 0.27), (301, 299)),
        (Box(0.5, 0.5, 0.0, 0.0), (8, 8)),  # an empty region still gives a picture
    ]:
        got = frame.rgb(region, size)
        assert got.shape == (size[1], size[0], 3)
        if region.area:
            assert mean_difference(got, still.rgb(region, size)) < 5.0


def test_frame_picture_is_not_the_picture_elsewhere(scene: Image.Image) -> None:
    """The crop really is the region: another region differs a lot."""
    frame = FramePicture(yuv_frame(scene))
    left = frame.rgb(Box(0.0, 0.0, 0.3, 0.5), (100, 100))
    right = frame.rgb(Box(0.6, 0.4, 0.3, 0.5), (100, 100))
    assert mean_difference(left, right) > 20.0


# --- annotated_jpeg ----------------------------------------------------------------------------


def test_annotated_jpeg(scene: Image.Image) -> None:
    """The whole picture at most 960 wide, boxes drawn inside and around, nothing else changed."""
    picture = ImagePicture(scene)
    box = Box(0.4, 0.3, 0.2, 0.5)
    detections = [
        Detection("person", 0.84, box),
        Detection("car", 0.66, Box(0.0, 0.0, 0.25, 0.2)),  # at the top edge: tag inside
        Detection("aeroplane", 0.61, Box(0.9, 0.5, 0.1, 0.1)),  # at the right edge
    ]
    jpeg = annotated_jpeg(picture, detections)
    with Image.open(io.BytesIO(jpeg)) as decoded:
        assert decoded.format == "JPEG"
        assert decoded.size == (960, 540)
        drawn = np.asarray(decoded.convert("RGB"))
    plain = picture.rgb(FULL_FRAME, (960, 540))
    # The person's outline: its left edge is the person colour.
    x0, y0 = round(0.4 * 960), round(0.3 * 540)
    edge = drawn[y0 + 20 : y0 + 200, x0 : x0 + 2].reshape(-1, 3).astype(int)
    assert np.abs(edge - colour_of("person")).max(axis=1).mean() < 40
    # Its tag sits above the box; inside the box away from the outline, the photo is intact.
    tag = drawn[y0 - 20 : y0 - 4, x0 + 2 : x0 + 60]
    assert mean_difference(tag, plain[y0 - 20 : y0 - 4, x0 + 2 : x0 + 60]) > 40.0
    inner = np.s_[y0 + 40 : y0 + 200, x0 + 40 : x0 + 150]
    assert mean_difference(drawn[inner], plain[inner]) < 4.0
    # The car's tag is inside its box (it touches the top edge), at the top-left corner.
    assert mean_difference(drawn[3:15, 4:60], plain[3:15, 4:60]) > 40.0
    assert mean_difference(drawn, plain) > 0.5


def test_annotated_jpeg_small_picture_is_not_enlarged() -> None:
    """A 640x360 sub-stream picture stays 640 wide; no detections: the plain picture."""
    image = _photo("chelsea.png").resize((640, 360))
    jpeg = annotated_jpeg(ImagePicture(image), [], quality=95)
    with Image.open(io.BytesIO(jpeg)) as decoded:
        assert decoded.size == (640, 360)
        assert mean_difference(np.asarray(decoded), np.asarray(image)) < 3.0


def test_colour_of_is_stable() -> None:
    """Known labels have their colour; others get one of the palette, always the same."""
    assert colour_of("person") == (255, 64, 64)
    assert colour_of("giraffe") == colour_of("giraffe")
    assert len({colour_of(name) for name in ("giraffe", "zebra", "kite", "boat", "bus")}) > 1
