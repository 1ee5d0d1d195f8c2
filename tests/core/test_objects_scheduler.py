"""CameraDetection: which moving frames and stills of a camera go to the detector worker, and how.

Real decoded-frame objects (``av.VideoFrame.from_ndarray``) and real MotionResult/MotionBox
values go in; ``submit`` is a list's ``append``-like recorder, so every DetectionRequest sent is
kept for the test to look at (the worker's own queueing has tests of its own).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
import itertools
import math
import threading

import av
from av.video.frame import VideoFrame
import numpy as np
from PIL import Image
import pytest

from custom_components.lookback.core.motion import MotionBox, MotionResult
from custom_components.lookback.core.objects.picture import (
    FramePicture,
    ImagePicture,
    square_region,
)
from custom_components.lookback.core.objects.scheduler import MIN_CROP_SIDE_PX, CameraDetection
from custom_components.lookback.core.objects.types import FULL_FRAME, RGB, ObjectConfig
from custom_components.lookback.core.objects.worker import DetectionReason, DetectionRequest

T0 = 1_800_000_000.0  # wall time of the first frame
ON = ObjectConfig(enabled=True, fps=2.0)
PERSON = MotionBox(0.3, 0.3, 0.1, 0.1, 0.005)
WAIT = 10.0


class Requests:
    """A ``submit`` that records every request and answers ``accept`` (False: "dropped")."""

    def __init__(self, accept: bool = True) -> None:
        self.sent: list[DetectionRequest] = []
        self.accept = accept

    def __call__(self, request: DetectionRequest) -> bool:
        self.sent.append(request)
        return self.accept

    @property
    def times(self) -> list[float]:
        return [round(request.time - T0, 3) for request in self.sent]


def pixels(width: int = 640, height: int = 360, seed: int = 0) -> RGB:
    """A noisy RGB picture: every crop of it is different, so a wrong crop cannot pass."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def frame_of(array: RGB) -> VideoFrame:
    return av.VideoFrame.from_ndarray(array, format="rgb24")


def moved(time: float, *boxes: MotionBox) -> MotionResult:
    """What MotionDetector reports for a frame in which ``boxes`` changed."""
    return MotionResult(
        time=time,
        motion=bool(boxes),
        score=sum(box.area for box in boxes),
        boxes=boxes,
        zones=(),
        changed_ratio=sum(box.area for box in boxes),
    )


def feed(
    detection: CameraDetection, frame: VideoFrame, frame_fps: float, seconds: float
) -> list[float]:
    """Moving frames at ``frame_fps`` for ``seconds`` of frame time; their times from T0."""
    times = [i / frame_fps for i in range(round(frame_fps * seconds))]
    for t in times:
        detection.moving_frame(frame, moved(T0 + t, PERSON))
    return times


# Moving frames: the rate ----------------------------------------------------------------------


@pytest.mark.parametrize("frame_fps", [10, 20, 30])
def test_moving_frames_are_sent_at_most_fps_a_second_of_frame_time(frame_fps: int) -> None:
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    frames = feed(detection, frame_of(pixels()), frame_fps, seconds=5.0)
    # two a second, evenly: every half second of frame time, starting with the first frame
    assert requests.times == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    per_second = Counter(math.floor(t) for t in requests.times)
    assert set(per_second.values()) == {2}
    assert detection.requested == 10
    assert detection.skipped == len(frames) - 10


@pytest.mark.parametrize(
    ("fps", "frame_fps", "expected"), [(1.0, 10, 5), (5.0, 10, 25), (0.5, 2, 3), (4.0, 4, 20)]
)
def test_the_rate_follows_the_camera_setting(fps: float, frame_fps: int, expected: int) -> None:
    requests = Requests()
    detection = CameraDetection("cam", replace(ON, fps=fps), requests)
    feed(detection, frame_of(pixels()), frame_fps, seconds=5.0)
    assert len(requests.sent) == expected
    assert {round(b - a, 3) for a, b in itertools.pairwise(requests.times)} == {1.0 / fps}


def test_a_camera_at_exactly_fps_with_jitter_loses_no_frame() -> None:
    """Frames 0.5 s apart give or take 10 ms (network, camera clock): all are sent at fps 2."""
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    frame = frame_of(pixels())
    jitter = [0.0, -0.01, 0.01, -0.01, 0.0, 0.01, -0.01, 0.0]
    for i, delta in enumerate(jitter):
        detection.moving_frame(frame, moved(T0 + i * 0.5 + delta, PERSON))
    assert len(requests.sent) == len(jitter)
    assert detection.skipped == 0


def test_a_25_fps_camera_is_not_sent_more_than_fps_a_second() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    feed(detection, frame_of(pixels()), 25, seconds=10.0)
    assert max(Counter(math.floor(t) for t in requests.times).values()) <= 2
    assert len(requests.sent) <= 20


def test_frame_time_stepping_back_does_not_stop_detection() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    frame = frame_of(pixels())
    detection.moving_frame(frame, moved(T0, PERSON))
    for i in range(1, 11):  # the clock stepped back an hour; frames keep coming, 1 s apart
        detection.moving_frame(frame, moved(T0 - 3600.0 + i, PERSON))
    assert len(requests.sent) > 1


def test_moving_frames_from_many_threads_are_rate_limited_together() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    frame = frame_of(pixels())
    threads = 8
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait(WAIT)
        detection.moving_frame(frame, moved(T0, PERSON))

    running = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in running)
    assert len(requests.sent) == 1
    assert detection.skipped == threads - 1
    assert detection.requested == 1


# Moving frames: when nothing is sent ----------------------------------------------------------


def test_a_disabled_camera_sends_nothing_and_counts_nothing() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ObjectConfig(enabled=False), requests)
    assert not detection.enabled
    feed(detection, frame_of(pixels()), 10, seconds=3.0)
    assert requests.sent == []
    assert detection.requested == 0
    assert detection.skipped == 0
    assert detection.still(ImagePicture(Image.new("RGB", (64, 48))), T0, "alert") is False
    assert requests.sent == []
    assert detection.requested == 0


def test_switching_on_through_the_config_takes_effect_at_once() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ObjectConfig(enabled=False), requests)
    frame = frame_of(pixels())
    detection.moving_frame(frame, moved(T0, PERSON))
    detection.config = ON
    assert detection.enabled
    detection.moving_frame(frame, moved(T0 + 0.1, PERSON))  # the disabled frame left no mark
    assert requests.times == [0.1]


def test_a_result_without_boxes_sends_nothing_and_spends_no_budget() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    frame = frame_of(pixels())
    no_boxes = replace(moved(T0, PERSON), boxes=())  # motion, but no region that counts
    detection.moving_frame(frame, no_boxes)
    detection.moving_frame(frame, moved(T0 + 0.1))
    assert requests.sent == []
    assert detection.skipped == 0
    # neither took the rate slot: the next frame with a box, 0.2 s later, goes
    detection.moving_frame(frame, moved(T0 + 0.2, PERSON))
    assert requests.times == [0.2]
    assert detection.skipped == 0


# Moving frames: what is sent ------------------------------------------------------------------


def test_the_request_crops_a_padded_square_around_the_union_of_the_boxes() -> None:
    array = pixels(1280, 720)
    frame = frame_of(array)
    requests = Requests()
    detection = CameraDetection("front", ON, requests)
    boxes = (PERSON, MotionBox(0.45, 0.5, 0.1, 0.1, 0.004))
    result = moved(T0 + 12.25, *boxes)
    detection.moving_frame(frame, result)
    (request,) = requests.sent
    assert request.region == square_region(boxes, 1280, 720, min_side_px=MIN_CROP_SIDE_PX)
    # by hand: the union is x 384-704, y 216-432 px; its longer side (320) grown by a quarter
    # on each side is 480, centred on the union: (304, 84) to (784, 564)
    region = request.region
    assert region.x * 1280 == pytest.approx(304)
    assert region.y * 720 == pytest.approx(84)
    assert region.width * 1280 == pytest.approx(480)
    assert region.height * 720 == pytest.approx(480)
    for box in boxes:  # every box is inside
        assert region.x <= box.x
        assert box.x + box.width <= region.x + region.width
        assert region.y <= box.y
        assert box.y + box.height <= region.y + region.height
    assert request.camera_id == "front"
    assert request.time == result.time
    assert request.reason == DetectionReason.MOTION
    assert request.detector_key is None
    # the picture is the frame: the region of it is exactly those pixels
    assert isinstance(request.picture, FramePicture)
    assert (request.picture.width, request.picture.height) == (1280, 720)
    crop = request.picture.rgb(region, (480, 480))
    np.testing.assert_array_equal(crop, array[84:564, 304:784])


@pytest.mark.parametrize(
    ("box", "expected_px"),
    [
        # a small box far away: the smallest crop, centred on it
        (MotionBox(0.5, 0.5, 0.01, 0.01, 0.0001), (496, 214, 300, 300)),
        # in the corner: the square is shifted into the picture, not shrunk
        (MotionBox(0.95, 0.9, 0.04, 0.08, 0.001), (980, 420, 300, 300)),
    ],
)
def test_small_and_edge_motion_gets_the_smallest_square_inside_the_frame(
    box: MotionBox, expected_px: tuple[int, int, int, int]
) -> None:
    requests = Requests()
    CameraDetection("cam", ON, requests).moving_frame(frame_of(pixels(1280, 720)), moved(T0, box))
    region = requests.sent[0].region
    assert region == square_region([box], 1280, 720, min_side_px=MIN_CROP_SIDE_PX)
    x, y, side_x, side_y = expected_px
    assert region.x * 1280 == pytest.approx(x)
    assert region.y * 720 == pytest.approx(y)
    assert region.width * 1280 == pytest.approx(side_x) == MIN_CROP_SIDE_PX
    assert region.height * 720 == pytest.approx(side_y)
    assert region.x + region.width <= 1.0 + 1e-9
    assert region.y + region.height <= 1.0 + 1e-9


def test_motion_too_big_for_a_square_sends_the_whole_frame() -> None:
    requests = Requests()
    wide = MotionBox(0.1, 0.4, 0.7, 0.2, 0.05)  # 896 px wide, padded: more than 360 px high
    CameraDetection("cam", ON, requests).moving_frame(frame_of(pixels()), moved(T0, wide))
    assert requests.sent[0].region == FULL_FRAME


def test_the_detector_key_is_the_cameras_model() -> None:
    requests = Requests()
    config = replace(ON, model_path="/config/lookback/models/yard.tflite")
    detection = CameraDetection("yard", config, requests)
    frame = frame_of(pixels())
    detection.moving_frame(frame, moved(T0, PERSON))
    detection.still(FramePicture(frame), T0 + 5, DetectionReason.INTERVAL)
    assert [r.detector_key for r in requests.sent] == ["/config/lookback/models/yard.tflite"] * 2


def test_a_dropped_moving_frame_still_counts_as_requested_and_uses_the_slot() -> None:
    """What submit answers does not matter to moving frames: the worker counts its drops."""
    requests = Requests(accept=False)
    detection = CameraDetection("cam", ON, requests)
    frame = frame_of(pixels())
    detection.moving_frame(frame, moved(T0, PERSON))
    detection.moving_frame(frame, moved(T0 + 0.1, PERSON))
    assert requests.times == [0.0]
    assert detection.requested == 1
    assert detection.skipped == 1


# Stills ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [True, False])
def test_a_still_is_sent_whole_with_its_reason_and_submits_answer(accept: bool) -> None:
    requests = Requests(accept=accept)
    detection = CameraDetection("door", ON, requests)
    picture = ImagePicture(Image.fromarray(pixels(320, 240)))
    assert detection.still(picture, T0 + 3.0, DetectionReason.ALERT) is accept
    (request,) = requests.sent
    assert request == DetectionRequest(
        camera_id="door",
        time=T0 + 3.0,
        picture=picture,
        region=FULL_FRAME,
        reason="alert",
        detector_key=None,
        owner=detection,  # a restarted camera knows its own results by it
    )
    assert detection.requested == 1
    assert detection.skipped == 0


def test_stills_are_not_rate_limited_and_leave_the_motion_budget_alone() -> None:
    requests = Requests()
    detection = CameraDetection("cam", ON, requests)
    frame = frame_of(pixels())
    picture = FramePicture(frame)
    for i in range(3):
        assert detection.still(picture, T0 + i * 0.01, DetectionReason.SNAPSHOT)
    detection.moving_frame(frame, moved(T0 + 0.05, PERSON))
    assert [r.reason for r in requests.sent] == ["snapshot"] * 3 + ["motion"]
    assert detection.requested == 4
    assert detection.skipped == 0
