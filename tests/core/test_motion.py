"""MotionDetector on synthetic grey pictures: calibration, change, areas, masks, zones, light."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image
import pytest

from custom_components.lookback.core import motion
from custom_components.lookback.core.models import MotionConfig, Point, Zone
from custom_components.lookback.core.motion import (
    BACKGROUND_TIME_CONSTANT_S,
    MOVING_SLOWDOWN,
    MotionBox,
    MotionDetector,
    MotionResult,
    analysis_size,
    threshold_for,
)

U8 = npt.NDArray[np.uint8]
W, H = 320, 180
Box = tuple[int, int, int, int]  # x, y, width, height in pixels
OBJECT: Box = (100, 60, 40, 60)


def texture(seed: int, width: int = W, height: int = H) -> U8:
    """A camera-like scene: random blobs a few pixels wide over the whole grey range."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 4, width // 4), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


SCENE = texture(1)


def frame(
    seed: int,
    *,
    objects: tuple[Box, ...] = (),
    offset: float | None = None,
    noise: float = 2.0,
    scene: U8 = SCENE,
) -> U8:
    """The scene with sensor noise and objects.

    Each object is a patch of other texture or, with ``offset``, the scene itself made
    brighter by that many levels.
    """
    rng = np.random.default_rng(seed)
    picture = scene.astype(np.float32) + rng.normal(0.0, noise, scene.shape)
    for x, y, w, h in objects:
        if offset is None:
            picture[y : y + h, x : x + w] = texture(99, w, h)
        else:
            picture[y : y + h, x : x + w] += offset
    return np.clip(picture, 0, 255).astype(np.uint8)


def rect(x0: float, y0: float, x1: float, y1: float) -> tuple[Point, ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def calibrated(config: MotionConfig | None = None, time: float = 1000.0) -> MotionDetector:
    detector = MotionDetector(config or MotionConfig())
    first = detector.analyse(frame(0), time)
    assert first.recalibrated
    return detector


def test_first_frame_calibrates_without_motion() -> None:
    detector = MotionDetector(MotionConfig())
    assert detector.last_debug is None
    result = detector.analyse(frame(0), 1000.0)
    assert result == MotionResult(
        time=1000.0,
        motion=False,
        score=0.0,
        boxes=(),
        zones=(),
        changed_ratio=0.0,
        recalibrated=True,
    )
    assert detector.recalibrations == 1


def test_static_noisy_scene_has_no_motion() -> None:
    detector = calibrated(MotionConfig(sensitivity=100))
    for i in range(1, 15):
        result = detector.analyse(frame(i, noise=3.0), 1000.0 + i * 0.2)
        assert not result.motion
        assert not result.recalibrated
        assert result.score == 0.0
        assert result.boxes == ()
    assert detector.recalibrations == 1


def test_object_pasted_in_is_motion_with_a_box_around_it() -> None:
    detector = calibrated()
    result = detector.analyse(frame(1, objects=(OBJECT,)), 1000.2)
    assert result.motion
    assert not result.recalibrated
    assert result.time == 1000.2
    assert len(result.boxes) == 1
    box = result.boxes[0]
    x, y, w, h = OBJECT
    # the box holds the object, grown by at most one grid cell (8 px) each side
    assert x - 8 <= box.x * W <= x
    assert y - 8 <= box.y * H <= y
    assert x + w <= (box.x + box.width) * W <= x + w + 8
    assert y + h <= (box.y + box.height) * H <= y + h + 8
    object_share = w * h / (W * H)
    assert 0.7 * object_share < box.area < 1.5 * object_share
    assert 0.7 * object_share < result.score < 1.5 * object_share
    assert 0 < result.changed_ratio <= result.score * 1.5


def test_two_objects_give_two_boxes_largest_first() -> None:
    detector = calibrated()
    small, large = (20, 20, 24, 24), (200, 80, 60, 70)
    result = detector.analyse(frame(1, objects=(small, large)), 1000.2)
    assert result.motion
    assert len(result.boxes) == 2
    first, second = result.boxes
    assert first.area > second.area
    assert first.x * W == pytest.approx(200, abs=8)
    assert second.x * W == pytest.approx(20, abs=8)
    assert result.score == pytest.approx(first.area + second.area, abs=1e-3)


def test_change_below_min_area_is_not_motion() -> None:
    square = (150, 80, 20, 20)  # 400 px of 57 600: 0.7 % of the picture
    changed = frame(1, objects=(square,))
    assert calibrated(MotionConfig(min_area=0.3)).analyse(changed, 1000.2).motion
    result = calibrated(MotionConfig(min_area=5.0)).analyse(changed, 1000.2)
    assert not result.motion
    assert result.boxes == ()
    assert result.score == 0.0
    assert result.changed_ratio > 0  # the change was seen, it was just too small


def test_sensitivity_sets_the_threshold_for_faint_changes() -> None:
    faint = frame(1, objects=(OBJECT,), offset=20.0)
    assert calibrated(MotionConfig(sensitivity=100)).analyse(faint, 1000.2).motion
    assert not calibrated(MotionConfig(sensitivity=0)).analyse(faint, 1000.2).motion
    # a strong change is found at any sensitivity
    strong = frame(1, objects=(OBJECT,))
    assert calibrated(MotionConfig(sensitivity=0)).analyse(strong, 1000.2).motion


def test_threshold_for_and_analysis_size() -> None:
    assert threshold_for(0) == 50.0
    assert threshold_for(50) == 30.0
    assert threshold_for(100) == 10.0
    assert threshold_for(-20) == 50.0
    assert threshold_for(250) == 10.0
    assert analysis_size(1920, 1080) == (320, 180)
    assert analysis_size(640, 360) == (320, 180)
    assert analysis_size(2560, 1920) == (320, 240)
    assert analysis_size(160, 120) == (160, 120)  # never wider than the source
    assert analysis_size(1280, 962)[1] % 2 == 0
    assert analysis_size(3200, 10) == (320, 2)  # at least two rows


def test_mask_over_the_change_suppresses_it() -> None:
    x, y, w, h = OBJECT
    mask = rect((x - 8) / W, (y - 8) / H, (x + w + 8) / W, (y + h + 8) / H)
    detector = calibrated(MotionConfig(masks=(mask,)))
    result = detector.analyse(frame(1, objects=(OBJECT,)), 1000.2)
    assert not result.motion
    assert result.changed_ratio == 0.0
    # elsewhere motion is still found
    other = detector.analyse(frame(2, objects=((220, 60, 40, 60),)), 1000.4)
    assert other.motion
    assert other.boxes[0].x * W == pytest.approx(220, abs=8)
    debug = detector.last_debug
    assert debug is not None
    assert debug.ignored[y + h // 2, x + w // 2]
    assert not debug.ignored[0, 0]
    assert not debug.changed[debug.ignored].any()


def test_zone_is_reported_only_when_the_change_is_inside_it() -> None:
    config = MotionConfig(
        zones=(
            Zone("left", rect(0.0, 0.0, 0.5, 1.0)),
            Zone("right", rect(0.5, 0.0, 1.0, 1.0)),
        )
    )
    detector = calibrated(config)
    result = detector.analyse(frame(1, objects=(OBJECT,)), 1000.2)
    assert result.motion
    assert result.zones == ("left",)
    right = detector.analyse(frame(2, objects=((220, 60, 40, 60),)), 1000.4)
    assert right.zones == ("right",)
    # motion outside every zone is still motion, with no zone
    outside = calibrated(MotionConfig(zones=(Zone("top", rect(0.0, 0.0, 1.0, 0.2)),)))
    result = outside.analyse(frame(1, objects=(OBJECT,)), 1000.2)
    assert result.motion
    assert result.zones == ()


def test_zone_needs_min_area_or_half_of_a_small_zone() -> None:
    changed = frame(1, objects=(OBJECT,))
    probe = calibrated()
    probe.analyse(changed, 1000.2)
    assert probe.last_debug is not None
    kept = probe.last_debug.changed
    right_edge = int(np.nonzero(kept.any(axis=0))[0].max())
    # a big zone that the change only touches with its outermost column: not enough
    touched = Zone("touched", rect(right_edge / (W - 1), 0.0, 1.0, 1.0))
    # a zone much smaller than the minimum area, inside the object: counts (half the zone)
    tiny = Zone("tiny", rect(110 / (W - 1), 80 / (H - 1), 118 / (W - 1), 88 / (H - 1)))
    detector = calibrated(MotionConfig(zones=(touched, tiny)))
    result = detector.analyse(changed, 1000.2)
    assert result.motion
    assert result.zones == ("tiny",)
    debug = detector.last_debug
    assert debug is not None
    touched_mask = debug.zones[0][1]
    assert 0 < np.count_nonzero(debug.changed & touched_mask) < 0.003 * W * H


def test_masked_pixels_are_not_part_of_a_zone() -> None:
    zone = Zone("left", rect(0.0, 0.0, 0.5, 1.0))
    detector = calibrated(MotionConfig(masks=(rect(0.0, 0.0, 0.25, 1.0),), zones=(zone,)))
    debug = detector.last_debug
    assert debug is not None
    assert debug.zones == ()  # a calibration frame has no zone pictures
    detector.analyse(frame(1), 1000.2)
    debug = detector.last_debug
    assert debug is not None
    ((name, zone_mask),) = debug.zones
    assert name == "left"
    assert not (zone_mask & debug.ignored).any()
    assert zone_mask.mean() == pytest.approx(0.25, abs=0.02)


def lit(picture: U8, gain: float, offset: float) -> U8:
    """The picture under other light: exposure ``gain`` and brightness ``offset``."""
    return np.clip(picture.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("gain", "offset"), [(1.0, 40.0), (1.0, -30.0), (0.8, 10.0), (1.3, -20.0), (0.7, 0.0)]
)
def test_light_and_exposure_changes_are_matched_not_motion(gain: float, offset: float) -> None:
    detector = calibrated()
    result = detector.analyse(lit(frame(1), gain, offset), 1000.2)
    assert not result.motion
    assert not result.recalibrated
    assert result.changed_ratio < 0.005
    # under the new light an object is still found where it is
    found = detector.analyse(lit(frame(2, objects=(OBJECT,)), gain, offset), 1000.4)
    assert found.motion
    assert not found.recalibrated
    assert found.boxes[0].x * W == pytest.approx(OBJECT[0], abs=8)
    assert found.boxes[0].y * H == pytest.approx(OBJECT[1], abs=8)


@pytest.mark.parametrize(("gain", "offset"), [(0.5, 0.0), (2.0, -100.0), (-1.0, 255.0)])
def test_light_jump_recalibrates(gain: float, offset: float) -> None:
    # the IR day/night switch, a lamp: more than LIGHT_JUMP times brighter or darker
    detector = calibrated()
    result = detector.analyse(lit(frame(1, objects=(OBJECT,)), gain, offset), 1000.2)
    assert result.recalibrated
    assert not result.motion
    assert result.boxes == ()
    assert result.changed_ratio > 0.1  # measured unmatched, for the record
    assert detector.recalibrations == 2
    # the new light is the background now
    after = detector.analyse(lit(frame(2, objects=(OBJECT,)), gain, offset), 1000.4)
    assert not after.recalibrated
    assert not after.motion


def test_contrast_jump_recalibrates_even_where_little_changed() -> None:
    # a dim, low-contrast scene whose contrast jumps 1.7 times about its mid-grey (IR switch):
    # too few pixels change for a global change, but the light fit sees the jump
    dim = (100 + (texture(5).astype(np.float32) - 128) * 0.25).astype(np.uint8)
    detector = MotionDetector(MotionConfig())
    detector.analyse(frame(0, scene=dim, noise=1.0), 1000.0)
    contrast = lit(frame(1, scene=dim, noise=1.0), 1.7, 100 - 1.7 * 100)
    result = detector.analyse(contrast, 1000.2)
    assert result.recalibrated
    assert not result.motion
    assert 0.1 < result.changed_ratio < motion.GLOBAL_CHANGE_RATIO


def test_fit_light_ignores_changed_pixels() -> None:
    rng = np.random.default_rng(0)
    background = rng.uniform(0, 255, 2000).astype(np.float32)
    picture = (1.3 * background + 10).astype(np.float32)
    picture[:400] = rng.uniform(0, 255, 400)  # a fifth of the picture changed
    gain, offset = motion._fit_light(background, picture)
    assert gain == pytest.approx(1.3, abs=0.01)
    assert offset == pytest.approx(10, abs=1)
    # a flat background says nothing about contrast: only the brightness is matched
    flat = (120 + rng.normal(0, 6, 2000)).astype(np.float32)  # std under LIGHT_FIT_MIN_STD
    gain, offset = motion._fit_light(flat, flat * 1.2 + 5)
    assert gain == 1.0
    assert offset == pytest.approx(0.2 * 120 + 5, abs=1.5)
    # too few pixels to fit
    one = np.ones(1, np.float32)
    assert motion._fit_light(one, one * 3) == (1.0, 0.0)


def test_a_fully_masked_picture_never_moves() -> None:
    detector = MotionDetector(MotionConfig(masks=(rect(0.0, 0.0, 1.0, 1.0),)))
    assert detector.analyse(frame(0), 1000.0).recalibrated
    for i in range(1, 4):
        result = detector.analyse(frame(i, objects=(OBJECT,), scene=texture(i)), 1000.0 + i)
        assert not result.motion
        assert not result.recalibrated
        assert result.changed_ratio == 0.0


def test_most_of_the_picture_changing_recalibrates() -> None:
    detector = calibrated()
    inverted = (255 - frame(1)).astype(np.uint8)  # the IR day/night switch
    result = detector.analyse(inverted, 1000.2)
    assert result.recalibrated
    assert not result.motion
    assert result.boxes == ()
    assert result.changed_ratio >= motion.GLOBAL_CHANGE_RATIO
    assert detector.recalibrations == 2
    # the new picture is the background now
    after = detector.analyse((255 - frame(2)).astype(np.uint8), 1000.4)
    assert not after.motion
    assert not after.recalibrated
    # three quarters of the picture replaced by another scene
    other = frame(3)
    other[:, : W * 3 // 4] = texture(7)[:, : W * 3 // 4]
    assert detector.analyse(other, 1000.6).recalibrated
    assert detector.recalibrations == 3


def test_dark_noisy_scene_does_not_turn_noise_into_change() -> None:
    # a night picture: little contrast, the sensor noise as big as the detail
    night = (20 + texture(3) // 40).astype(np.uint8)
    detector = MotionDetector(MotionConfig(sensitivity=100))
    assert detector.analyse(frame(0, scene=night, noise=3.0), 1000.0).recalibrated
    for i in range(1, 10):
        result = detector.analyse(frame(i, scene=night, noise=3.0), 1000.0 + i * 0.2)
        assert not result.motion
        assert not result.recalibrated


def test_background_adapts_to_a_change_that_stays() -> None:
    detector = calibrated()
    parked = frame(1, objects=(OBJECT,))
    assert detector.analyse(parked, 1001.0).motion
    # many (slowed, it changed) time constants later the object is part of the scene
    t = 1001.0
    for i in range(2, 12):
        t += BACKGROUND_TIME_CONSTANT_S * MOVING_SLOWDOWN / 2
        result = detector.analyse(frame(i, objects=(OBJECT,)), t)
    assert not result.motion
    # and its leaving is a change again
    assert detector.analyse(frame(20), t + 0.2).motion


def test_background_does_not_age_without_time_passing() -> None:
    detector = calibrated()
    for i in range(1, 30):
        assert detector.analyse(frame(i, objects=(OBJECT,)), 1000.0).motion


def test_background_ages_by_time_not_by_frame_count() -> None:
    parked = frame(1, objects=(OBJECT,))
    keyframes = calibrated()
    keyframes.analyse(parked, 1002.0)
    full_rate = calibrated()
    for i in range(1, 11):
        full_rate.analyse(parked, 1000.0 + i * 0.2)
    assert keyframes._background is not None
    assert full_rate._background is not None
    # Away from the object, one 2 s step ages the background as ten 0.2 s steps do.
    x, y, w, h = OBJECT
    away = np.ones(SCENE.shape, np.bool_)
    away[y - 8 : y + h + 8, x - 8 : x + w + 8] = False
    close = np.abs(keyframes._background - full_rate._background) <= 0.05
    assert close[away].mean() > 0.99
    # Inside the object: it appeared (moved) in the one keyframe step, so that learnt slowly,
    # 1 - exp(-2 / 32); at full rate it moved only in the first step and then stood still,
    # which is learnt at the normal rate.
    first = calibrated()
    assert first._background is not None
    start = first._background.copy()
    target = full_rate._normalise(parked) - start
    changed = np.abs(target) > 50

    def learnt(detector: MotionDetector) -> float:
        assert detector._background is not None
        return float(np.median((detector._background - start)[changed] / target[changed]))

    slow = BACKGROUND_TIME_CONSTANT_S * MOVING_SLOWDOWN
    assert learnt(keyframes) == pytest.approx(1 - np.exp(-2.0 / slow), abs=0.01)
    stood = np.exp(-0.2 / slow - 1.8 / BACKGROUND_TIME_CONSTANT_S)
    assert learnt(full_rate) == pytest.approx(1 - stood, abs=0.02)


def test_background_calibrated_at_time_zero_ages_like_any_other() -> None:
    parked = frame(1, objects=(OBJECT,))
    for start in (1000.0, 0.0):
        detector = calibrated(time=start)
        assert detector.analyse(parked, start + 100.0).motion  # compared before the update
        # a hundred seconds is over twelve time constants: the object is background now
        assert not detector.analyse(frame(2, objects=(OBJECT,)), start + 100.2).motion


def test_a_person_who_left_leaves_no_ghost() -> None:
    # keyframes 2 s apart (a common GOP); the person is the negative of what they cover
    detector = calibrated(time=1000.0)
    for i, x in enumerate((40, 120, 200), start=1):
        walking = frame(i)
        walking[60:120, x : x + 40] = 255 - SCENE[60:120, x : x + 40]
        assert detector.analyse(walking, 1000.0 + 2 * i).motion
    # the scene is as it was before the person came
    empty = detector.analyse(frame(9), 1008.0)
    assert not empty.motion, empty.boxes


def test_frame_of_another_size_prepares_again_and_recalibrates() -> None:
    config = MotionConfig(masks=(rect(0.0, 0.0, 0.5, 1.0),), zones=(Zone("all", rect(0, 0, 1, 1)),))
    detector = calibrated(config)
    assert detector.analyse(frame(1), 1000.2).recalibrated is False
    small = np.asarray(Image.fromarray(frame(2)).resize((160, 90)), dtype=np.uint8)
    result = detector.analyse(small, 1000.4)
    assert result.recalibrated
    assert detector.recalibrations == 2
    debug = detector.last_debug
    assert debug is not None
    assert debug.ignored.shape == (90, 160)
    assert debug.ignored.mean() == pytest.approx(0.5, abs=0.02)
    detector.analyse(small, 1000.6)
    debug = detector.last_debug
    assert debug is not None
    assert debug.zones[0][1].shape == (90, 160)
    # the same size again does not prepare again
    assert not detector.analyse(small, 1000.8).recalibrated


def test_reset_forgets_the_background() -> None:
    detector = calibrated()
    detector.reset()
    result = detector.analyse(frame(1, objects=(OBJECT,)), 1000.2)
    assert result.recalibrated
    assert not result.motion
    assert detector.recalibrations == 2
    # the picture with the object is the background now
    assert not detector.analyse(frame(2, objects=(OBJECT,)), 1000.4).motion
    assert detector.analyse(frame(3), 1000.6).motion


def test_last_debug_holds_the_working_pictures() -> None:
    detector = calibrated(MotionConfig(zones=(Zone("left", rect(0.0, 0.0, 0.5, 1.0)),)))
    calibration = detector.last_debug
    assert calibration is not None
    assert calibration.result.recalibrated
    assert calibration.picture.shape == (H, W)
    assert calibration.picture.dtype == np.uint8
    assert not calibration.difference.any()
    assert not calibration.changed.any()
    result = detector.analyse(frame(1, objects=(OBJECT,)), 1000.2)
    debug = detector.last_debug
    assert debug is not None
    assert debug.result is result
    for array in (debug.picture, debug.difference, debug.changed, debug.ignored):
        assert array.shape == (H, W)
    assert debug.picture.dtype == np.uint8
    assert debug.difference.dtype == np.uint8
    assert debug.changed.dtype == np.bool_
    assert not debug.ignored.any()
    x, y, w, h = OBJECT
    assert debug.changed[y + h // 2, x + w // 2]
    assert not debug.changed[10, 300]
    assert debug.difference[y + h // 2, x + w // 2] > threshold_for(50)
    assert debug.changed.mean() == pytest.approx(result.score, abs=1e-3)
    assert [name for name, _ in debug.zones] == ["left"]


def test_motion_box_as_list_rounds() -> None:
    box = MotionBox(0.123456, 0.5, 1 / 3, 0.25, 0.01)
    assert box.as_list() == [0.123, 0.5, 0.333, 0.25]
