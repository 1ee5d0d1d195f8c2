"""RemoteDetector against the in-process detection API server (tests/sim/detection_server.py).

detect() is what the detector worker thread calls: here it runs in the loop's executor while the
test's loop serves both the aiohttp session and the server, as HA's loop would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import threading
from typing import Any

import aiohttp
import numpy as np
from PIL import Image
import pytest

from custom_components.lookback.core.objects import remote
from custom_components.lookback.core.objects.errors import DetectorError, DetectorErrorKind
from custom_components.lookback.core.objects.remote import (
    COCO_LABELS,
    RemoteDetector,
    endpoint,
    parse_predictions,
    send_size,
)
from custom_components.lookback.core.objects.types import FULL_FRAME, RGB, Box, Detection
from tests.sim.detection_server import DetectionTestServer, Prediction, ServerMode, prediction

WAIT = 10.0  # seconds any single expected step may take


class ArrayPicture:
    """A Picture from an RGB array: crops and scales with Pillow."""

    def __init__(self, width: int, height: int) -> None:
        self.array: RGB = np.zeros((height, width, 3), dtype=np.uint8)
        self.array[:, :, 1] = 90
        self.calls: list[tuple[Box, tuple[int, int]]] = []

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    def rgb(self, region: Box, size: tuple[int, int]) -> RGB:
        self.calls.append((region, size))
        left, top = round(region.x * self.width), round(region.y * self.height)
        right = round((region.x + region.width) * self.width)
        bottom = round((region.y + region.height) * self.height)
        crop = Image.fromarray(self.array[top:bottom, left:right])
        return np.asarray(crop.resize(size), dtype=np.uint8)


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def server() -> AsyncIterator[DetectionTestServer]:
    async with DetectionTestServer() as test_server:
        yield test_server


@pytest.fixture
def make_detector(
    session: aiohttp.ClientSession,
) -> Callable[..., RemoteDetector]:
    def make(url: str, **options: Any) -> RemoteDetector:
        return RemoteDetector(url, session, asyncio.get_running_loop(), **options)

    return make


async def detect(
    detector: RemoteDetector, picture: ArrayPicture, region: Box = FULL_FRAME
) -> list[Detection]:
    """Detect in another thread, as the worker does."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT):
        return await loop.run_in_executor(None, detector.detect, picture, region)


async def detect_error(
    detector: RemoteDetector, picture: ArrayPicture, region: Box = FULL_FRAME
) -> DetectorError:
    with pytest.raises(DetectorError) as caught:
        await detect(detector, picture, region)
    return caught.value


def relative(*corners: float) -> Callable[[int, int], list[Prediction]]:
    """A person at relative corners of the image received, in its pixels."""

    def predictions(width: int, height: int) -> list[Prediction]:
        x0, y0, x1, y1 = corners
        return [prediction("person", 0.9, x0 * width, y0 * height, x1 * width, y1 * height)]

    return predictions


def assert_box(box: Box, expected: tuple[float, float, float, float]) -> None:
    assert (box.x, box.y, box.width, box.height) == pytest.approx(expected, abs=1e-9)


# ------------------------------------------------------------------------ the happy path


async def test_full_frame_is_sent_scaled_and_boxes_come_back_relative(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    server.predictions = [prediction("person", 0.91, 64, 36, 320, 360)]
    detector = make_detector(server.url)
    picture = ArrayPicture(1280, 720)

    detections = await detect(detector, picture)

    assert len(detections) == 1
    person = detections[0]
    assert (person.label, person.score) == ("person", 0.91)
    assert_box(person.box, (0.1, 0.1, 0.4, 0.9))
    assert picture.calls == [(FULL_FRAME, (640, 360))]
    (request,) = server.requests
    assert request.path == "/v1/vision/detection"
    assert request.image_size == (640, 360)
    assert request.image_format == "JPEG"
    assert request.content_type == "multipart/form-data"
    assert request.fields == {"min_confidence": "0.3"}
    assert request.authorization is None


async def test_a_crop_maps_back_to_the_whole_picture(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    # A 480x540 crop of a 1920x1080 picture: smaller than max_side, sent as it is.
    server.predictions = relative(0.1, 0.1, 0.5, 1.0)
    detector = make_detector(server.url)
    region = Box(0.5, 0.25, 0.25, 0.5)

    (person,) = await detect(detector, ArrayPicture(1920, 1080), region)

    assert server.requests[0].image_size == (480, 540)
    assert_box(person.box, (0.5 + 0.1 * 0.25, 0.25 + 0.1 * 0.5, 0.4 * 0.25, 0.9 * 0.5))


async def test_a_tall_crop_is_scaled_to_max_side(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    server.predictions = relative(0.0, 0.5, 1.0, 1.0)
    detector = make_detector(server.url, max_side=320, min_confidence=0.5)
    region = Box(0.0, 0.0, 0.5, 1.0)  # 960x1080 pixels

    (person,) = await detect(detector, ArrayPicture(1920, 1080), region)

    assert server.requests[0].image_size == (284, 320)
    assert server.requests[0].fields["min_confidence"] == "0.5"
    assert_box(person.box, (0.0, 0.5, 0.5, 0.5))


async def test_predictions_are_clamped_and_filtered_and_new_labels_learnt(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    server.predictions = [
        prediction("person", 0.9, -10, -5, 700, 400),  # beyond the 640x360 image
        prediction("cat", 0.2, 0, 0, 100, 100),  # below min_confidence
        prediction("car", 0.8, 50, 10, 50, 100),  # no width
        prediction(" forklift ", 0.7, 0, 180, 320, 360),  # a custom model's label
        prediction("forklift", 0.6, 320, 180, 640, 360),
    ]
    detector = make_detector(server.url)
    assert detector.labels == COCO_LABELS

    detections = await detect(detector, ArrayPicture(1280, 720))

    assert [(d.label, d.score) for d in detections] == [
        ("person", 0.9),
        ("forklift", 0.7),
        ("forklift", 0.6),
    ]
    assert_box(detections[0].box, (0.0, 0.0, 1.0, 1.0))
    assert_box(detections[1].box, (0.0, 0.5, 0.5, 0.5))
    assert detector.labels == (*COCO_LABELS, "forklift")
    await detect(detector, ArrayPicture(1280, 720))
    assert detector.labels == (*COCO_LABELS, "forklift")  # learnt once


def test_coco_labels_are_the_80_classes() -> None:
    assert len(COCO_LABELS) == len(set(COCO_LABELS)) == 80
    assert COCO_LABELS[:3] == ("person", "bicycle", "car")


async def test_api_key_is_sent_as_a_form_field(
    make_detector: Callable[..., RemoteDetector],
) -> None:
    async with DetectionTestServer(api_key="s3cret", predictions=relative(0, 0, 1, 1)) as server:
        detector = make_detector(server.url, api_key="s3cret")
        assert len(await detect(detector, ArrayPicture(64, 48))) == 1
        assert server.requests[0].fields["api_key"] == "s3cret"
        assert server.requests[0].image_size == (64, 48)  # small pictures are not enlarged


@pytest.mark.parametrize("api_key", [None, "wrong"])
async def test_a_missing_or_wrong_api_key_is_unauthorized(
    make_detector: Callable[..., RemoteDetector], api_key: str | None
) -> None:
    async with DetectionTestServer(api_key="s3cret") as server:
        error = await detect_error(make_detector(server.url, api_key=api_key), ArrayPicture(64, 48))
    assert error.kind is DetectorErrorKind.UNAUTHORIZED
    assert error.message == "HTTP 401: Incorrect api key"


async def test_credentials_in_the_url_are_basic_auth_and_not_in_the_name(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    url = server.url.replace("http://", "http://proxy:pa55@") + "/"
    detector = make_detector(url)

    assert detector.name == f"remote {server.url}/"
    await detect(detector, ArrayPicture(64, 48))
    assert server.requests[0].authorization == "Basic cHJveHk6cGE1NQ=="  # proxy:pa55


def test_endpoint_and_send_size() -> None:
    assert endpoint("http://h:32168") == "http://h:32168/v1/vision/detection"
    assert endpoint(" http://h:32168/ ") == "http://h:32168/v1/vision/detection"
    assert endpoint("http://h/ai/v1/vision/detection") == "http://h/ai/v1/vision/detection"
    assert send_size(FULL_FRAME, 1920, 1080, 640) == (640, 360)
    assert send_size(Box(0, 0, 0.0001, 0.0001), 100, 100, 640) == (1, 1)


# ------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("setup", "kind", "message"),
    [
        ({"status": 500}, DetectorErrorKind.HTTP_ERROR, "HTTP 500: status 500"),
        ({"status": 403}, DetectorErrorKind.UNAUTHORIZED, "HTTP 403: status 403"),
        (
            {"mode": ServerMode.FAILURE, "error": "Unable to load the model"},
            DetectorErrorKind.BAD_RESPONSE,
            "the server reported a failure: Unable to load the model",
        ),
        ({"mode": ServerMode.NOT_JSON}, DetectorErrorKind.BAD_RESPONSE, "not JSON"),
        ({"mode": ServerMode.NO_PREDICTIONS}, DetectorErrorKind.BAD_RESPONSE, "no predictions"),
        (
            {"predictions": [{"label": "person", "confidence": 0.9}]},
            DetectorErrorKind.BAD_RESPONSE,
            "lacks fields",
        ),
        (
            {"predictions": [prediction("person", True, 0, 0, 1, 1)]},
            DetectorErrorKind.BAD_RESPONSE,
            "wrong types",
        ),
        (
            {"predictions": [prediction("person", 0.9, 0, 0, float("nan"), 1)]},
            DetectorErrorKind.BAD_RESPONSE,
            "wrong types",
        ),
        (
            {"predictions": [prediction("", 0.9, 0, 0, 1, 1)]},
            DetectorErrorKind.BAD_RESPONSE,
            "wrong types",
        ),
    ],
)
async def test_server_failures_have_their_kind(
    server: DetectionTestServer,
    make_detector: Callable[..., RemoteDetector],
    setup: dict[str, Any],
    kind: DetectorErrorKind,
    message: str,
) -> None:
    for name, value in setup.items():
        setattr(server, name, value)

    error = await detect_error(make_detector(server.url), ArrayPicture(64, 48))

    assert error.kind is kind
    assert message in error.message
    assert str(error).startswith(f"{kind}: ")


async def test_a_wrong_path_is_an_http_error(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    error = await detect_error(make_detector(server.url + "/nothing/here/"), ArrayPicture(8, 8))
    assert error.kind is DetectorErrorKind.HTTP_ERROR
    assert error.message == "HTTP 404"
    assert server.requests == []


async def test_a_server_that_is_down_is_unreachable(
    make_detector: Callable[..., RemoteDetector],
) -> None:
    stopped = DetectionTestServer()
    await stopped.start()
    await stopped.stop()  # the port is free again: connections are refused

    error = await detect_error(make_detector(stopped.url), ArrayPicture(8, 8))

    assert error.kind is DetectorErrorKind.UNREACHABLE


async def test_a_slow_server_times_out(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    server.delay = 60.0  # held until the server stops
    error = await detect_error(make_detector(server.url, timeout=0.2), ArrayPicture(8, 8))
    assert error.kind is DetectorErrorKind.TIMEOUT
    assert error.message == "no answer within 0.2 s"


def test_bodies_that_are_not_the_api() -> None:
    bodies: tuple[object, ...] = ([], "text", None)
    for body in bodies:
        with pytest.raises(DetectorError, match="not a JSON object"):
            parse_predictions(body, (10, 10), FULL_FRAME, 0.3)
    with pytest.raises(DetectorError, match="failure: no reason given"):
        parse_predictions({"success": False}, (10, 10), FULL_FRAME, 0.3)
    with pytest.raises(DetectorError, match="failure: busy"):
        parse_predictions({"success": False, "message": "busy"}, (10, 10), FULL_FRAME, 0.3)
    with pytest.raises(DetectorError, match="lacks fields"):
        parse_predictions({"success": True, "predictions": [1]}, (10, 10), FULL_FRAME, 0.3)
    assert parse_predictions({"success": True, "predictions": []}, (1, 1), FULL_FRAME, 0) == []


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (502, b"<html>Bad gateway</html>", "HTTP 502"),
        (500, b"[1, 2]", "HTTP 500"),
        (500, b'{"success": false}', "HTTP 500"),
        (401, b"{}", "HTTP 401: the API key was refused"),
    ],
)
async def test_error_bodies_without_a_reason(
    make_detector: Callable[..., RemoteDetector], status: int, body: bytes, message: str
) -> None:
    detector = make_detector("http://127.0.0.1:9")
    with pytest.raises(DetectorError) as caught:
        detector._read(status, body, (8, 8), FULL_FRAME)
    assert caught.value.message == message


# ------------------------------------------------------------------------ back-off


async def test_backs_off_after_failures_and_recovers(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    clock = FakeClock()
    detector = make_detector(server.url, clock=clock)
    picture = ArrayPicture(8, 8)
    server.status = 500

    assert (await detect_error(detector, picture)).kind is DetectorErrorKind.HTTP_ERROR
    assert len(server.requests) == 1
    backing_off = await detect_error(detector, picture)
    assert backing_off.kind is DetectorErrorKind.BACKING_OFF
    assert backing_off.message == "next try in 2 s after: http_error: HTTP 500: status 500"
    clock.now += 1.9
    assert (await detect_error(detector, picture)).kind is DetectorErrorKind.BACKING_OFF
    assert len(server.requests) == 1  # not asked while backing off

    clock.now += 0.1  # 2 s: asked again, fails again, the pause doubles
    assert (await detect_error(detector, picture)).kind is DetectorErrorKind.HTTP_ERROR
    assert len(server.requests) == 2
    clock.now += 3.9
    assert (await detect_error(detector, picture)).kind is DetectorErrorKind.BACKING_OFF
    clock.now += 0.1
    server.status = 200
    assert await detect(detector, picture) == []  # recovered
    assert await detect(detector, picture) == []  # and asked every time
    assert len(server.requests) == 4

    server.status = 500  # a success reset the pause to 2 s
    assert (await detect_error(detector, picture)).kind is DetectorErrorKind.HTTP_ERROR
    clock.now += 2.0
    assert (await detect_error(detector, picture)).kind is DetectorErrorKind.HTTP_ERROR
    assert len(server.requests) == 6


async def test_back_off_is_capped(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    clock = FakeClock()
    detector = make_detector(server.url, clock=clock, backoff_initial=1.0, backoff_max=3.0)
    server.status = 503
    for pause in (1.0, 2.0, 3.0, 3.0):
        assert (await detect_error(detector, ArrayPicture(8, 8))).kind is (
            DetectorErrorKind.HTTP_ERROR
        )
        clock.now += pause - 0.01
        assert (await detect_error(detector, ArrayPicture(8, 8))).kind is (
            DetectorErrorKind.BACKING_OFF
        )
        clock.now += 0.01
    assert len(server.requests) == 4


# ------------------------------------------------------------------------ the loop and close


async def test_close_cancels_the_request_in_flight(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    server.delay = 60.0
    clock = FakeClock()
    detector = make_detector(server.url, clock=clock)
    pending = asyncio.ensure_future(detect_error(detector, ArrayPicture(8, 8)))
    await server.wait_for_requests(1)

    detector.close()

    error = await pending
    assert error.kind is DetectorErrorKind.UNREACHABLE
    assert error.message == "the request was cancelled"
    clock.now += 10  # after the back-off: a closed detector asks nobody
    error = await detect_error(detector, ArrayPicture(8, 8))
    assert (error.kind, error.message) == (
        DetectorErrorKind.UNREACHABLE,
        "the detector is closed",
    )
    assert len(server.requests) == 1
    detector.close()  # twice is fine


async def test_a_closed_loop_is_unreachable(session: aiohttp.ClientSession) -> None:
    closed = asyncio.new_event_loop()
    closed.close()
    detector = RemoteDetector("http://127.0.0.1:9", session, closed)

    error = await detect_error(detector, ArrayPicture(8, 8))

    assert (error.kind, error.message) == (
        DetectorErrorKind.UNREACHABLE,
        "the event loop is closed",
    )


async def test_a_loop_too_busy_to_run_the_request_times_out(
    server: DetectionTestServer,
    make_detector: Callable[..., RemoteDetector],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(remote, "RESULT_MARGIN", 0.0)
    detector = make_detector(server.url, timeout=0.05)
    errors: list[DetectorError] = []
    done = threading.Event()

    def worker() -> None:
        try:
            detector.detect(ArrayPicture(8, 8), FULL_FRAME)
        except DetectorError as err:
            errors.append(err)
        finally:
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    # Block the loop on purpose (it is the test's): the request cannot start before detect()
    # gives up, and is cancelled before its first step once the loop runs again.
    assert done.wait(WAIT)
    thread.join()

    assert [(e.kind, e.message) for e in errors] == [
        (DetectorErrorKind.TIMEOUT, "the event loop did not run the request in time")
    ]
    assert server.requests == []


# ------------------------------------------------------------------------ the config flow check


async def test_async_check_posts_a_small_picture(
    server: DetectionTestServer, make_detector: Callable[..., RemoteDetector]
) -> None:
    server.predictions = relative(0, 0, 1, 1)
    await make_detector(server.url).async_check()
    assert server.requests[0].image_size == (64, 64)
    assert server.requests[0].image_format == "JPEG"


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ({"status": 500}, DetectorErrorKind.HTTP_ERROR),
        ({"api_key": "needed"}, DetectorErrorKind.UNAUTHORIZED),
        ({"mode": ServerMode.FAILURE}, DetectorErrorKind.BAD_RESPONSE),
    ],
)
async def test_async_check_raises_the_failure_without_backing_off(
    server: DetectionTestServer,
    make_detector: Callable[..., RemoteDetector],
    setup: dict[str, Any],
    kind: DetectorErrorKind,
) -> None:
    for name, value in setup.items():
        setattr(server, name, value)
    detector = make_detector(server.url, clock=FakeClock())

    with pytest.raises(DetectorError) as caught:
        await detector.async_check()

    assert caught.value.kind is kind
    with pytest.raises(DetectorError) as caught:
        await detector.async_check()
    assert caught.value.kind is kind  # asked again at once
    assert (await detect_error(detector, ArrayPicture(8, 8))).kind is kind  # not backing off
    assert len(server.requests) == 3


async def test_async_check_of_a_server_that_is_down(
    make_detector: Callable[..., RemoteDetector],
) -> None:
    stopped = DetectionTestServer()
    await stopped.start()
    await stopped.stop()
    with pytest.raises(DetectorError) as caught:
        await make_detector(stopped.url).async_check()
    assert caught.value.kind is DetectorErrorKind.UNREACHABLE
