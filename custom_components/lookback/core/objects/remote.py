"""RemoteDetector: object detection by a CodeProject.AI Server or DeepStack on the network.

Both serve the same API: ``POST {url}/v1/vision/detection`` with a multipart form (the picture
as field ``image``, optional ``min_confidence``, and ``api_key`` for a DeepStack started with
one) answering ``{"success": true, "predictions": [{"label", "confidence", "x_min", "y_min",
"x_max", "y_max"}, ...]}`` in pixels of the image sent. A failure is ``"success": false`` with
an ``"error"`` text, often with HTTP 200 (CodeProject.AI) or 4xx/5xx.

``detect`` runs in the detector worker thread: the JPEG is encoded there, and only the HTTP
call runs on the event loop (``run_coroutine_threadsafe``), because HA's shared aiohttp session
may only be used on its loop. After a failure the server is left alone for a while (2 s,
doubling up to 5 min) so that a server that is down costs one quick error per request, not a
timeout each; a success resets the back-off.

HA-free: never import homeassistant here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import concurrent.futures
import io
import json
import logging
import math
import threading
import time
from typing import Final
from urllib.parse import urlsplit

import aiohttp
import numpy as np
from PIL import Image

from ..timing import Backoff
from ..urls import split_credentials
from .errors import DetectorError, DetectorErrorKind
from .types import FULL_FRAME, RGB, Box, Detection, Picture

_LOGGER = logging.getLogger(__name__)

API_PATH: Final = "/v1/vision/detection"
JPEG_QUALITY: Final = 85
# Seconds beyond the request timeout the worker thread waits for the loop's answer: only a loop
# too busy to run the request (or stopping) gets there, aiohttp's own timeout comes first.
RESULT_MARGIN: Final = 5.0
CHECK_SIDE: Final = 64  # pixels of the grey picture async_check sends
BACKOFF_INITIAL: Final = 2.0
BACKOFF_MAX: Final = 300.0

# The API has no label list: the 80 COCO classes are what the servers' default models (YOLO,
# MobileNet SSD) report, in COCO's order. Labels a custom model reports are added as seen.
COCO_LABELS: Final[tuple[str, ...]] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)
_PREDICTION_KEYS: Final = ("label", "confidence", "x_min", "y_min", "x_max", "y_max")


def send_size(region: Box, width: int, height: int, max_side: int) -> tuple[int, int]:
    """Pixels (width, height) to send ``region`` of a ``width`` x ``height`` picture at.

    The region's aspect is kept and its longer side is at most ``max_side``: the servers scale
    to their model's input anyway, so more pixels only cost upload and decoding time.
    """
    region_w = max(1.0, region.width * width)
    region_h = max(1.0, region.height * height)
    scale = min(1.0, max_side / max(region_w, region_h))
    return max(1, round(region_w * scale)), max(1, round(region_h * scale))


def encode_jpeg(rgb: RGB) -> bytes:
    """An RGB array as JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def endpoint(url: str) -> str:
    """The detection endpoint of a server URL (a URL that already names it is kept)."""
    base = url.strip().rstrip("/")
    if urlsplit(base).path.endswith(API_PATH):
        return base
    return base + API_PATH


def parse_predictions(
    data: object, size: tuple[int, int], region: Box, min_confidence: float
) -> list[Detection]:
    """The detections of a response body, boxes relative to the whole picture.

    ``size`` is the (width, height) of the image sent and ``region`` the part of the picture it
    showed. Coordinates outside the image are clamped, boxes without area and predictions below
    ``min_confidence`` (a server may ignore the field) are left out. Raises BAD_RESPONSE when
    the body is not the API's.
    """
    if not isinstance(data, Mapping):
        raise _bad("the answer is not a JSON object")
    if data.get("success") is not True:
        error = data.get("error") or data.get("message") or "no reason given"
        raise _bad(f"the server reported a failure: {error}")
    predictions = data.get("predictions")
    if not isinstance(predictions, list):
        raise _bad("the answer has no predictions list")
    width, height = size
    detections: list[Detection] = []
    for prediction in predictions:
        if not isinstance(prediction, Mapping) or any(
            k not in prediction for k in _PREDICTION_KEYS
        ):
            raise _bad(f"a prediction lacks fields: {prediction!r:.200}")
        label, confidence = prediction["label"], prediction["confidence"]
        corners = [prediction[k] for k in _PREDICTION_KEYS[2:]]
        numbers = (confidence, *corners)
        if not isinstance(label, str) or not label.strip() or not all(map(_is_number, numbers)):
            raise _bad(f"a prediction has wrong types: {prediction!r:.200}")
        if confidence < min_confidence:
            continue
        x_min, y_min, x_max, y_max = (
            min(max(float(v), 0.0), float(limit))
            for v, limit in zip(corners, (width, height, width, height), strict=True)
        )
        if x_max <= x_min or y_max <= y_min:
            continue
        box = Box(
            region.x + x_min / width * region.width,
            region.y + y_min / height * region.height,
            (x_max - x_min) / width * region.width,
            (y_max - y_min) / height * region.height,
        )
        detections.append(Detection(label.strip(), float(confidence), box))
    return detections


def _is_number(value: object) -> bool:
    # Python's json reads NaN and Infinity, which no box can be made of.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bad(message: str) -> DetectorError:
    return DetectorError(DetectorErrorKind.BAD_RESPONSE, message)


def _error_text(body: bytes) -> str | None:
    """The ``error`` a failed request's JSON body gives, if any."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else None


class RemoteDetector:
    """A Detector that asks a CodeProject.AI Server or DeepStack over HTTP."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout: float = 10.0,
        api_key: str | None = None,
        max_side: int = 640,
        min_confidence: float = 0.3,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure; nothing is sent before ``detect`` or ``async_check``.

        Args:
            url: The server, e.g. ``http://192.168.1.5:32168`` (the API path is added).
                Credentials in the URL are sent as HTTP basic auth (a reverse proxy's).
            session: The aiohttp session to use (HA's shared one); never closed here.
            loop: The loop that owns ``session``: requests run there.
            timeout: Seconds a request may take in all.
            api_key: DeepStack's API key, sent as form field ``api_key``.
            max_side: The longest side in pixels of the pictures sent.
            min_confidence: Predictions below it are not asked for and not reported.
            backoff_initial: Seconds without requests after a first failure.
            backoff_max: The longest pause (doubling up to it).
            clock: Monotonic seconds, for the back-off (tests pass a fake).
        """
        self._url = endpoint(url)
        self._name = f"remote {split_credentials(url.strip())[0]}"
        self._session = session
        self._loop = loop
        self._timeout = timeout
        self._api_key = api_key or None
        self._max_side = max_side
        self._min_confidence = min_confidence
        self._backoff = Backoff(initial=backoff_initial, maximum=backoff_max)
        self._clock = clock
        self._retry_at: float | None = None  # back-off: no request before this clock time
        self._last_failure: DetectorError | None = None
        # Labels beyond COCO's, replaced (never mutated) so the loop may read them any time.
        self._extra_labels: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._inflight: concurrent.futures.Future[tuple[int, bytes]] | None = None
        self._closed = False

    # Detector protocol -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``remote <url>`` without the URL's credentials."""
        return self._name

    @property
    def labels(self) -> tuple[str, ...]:
        """The COCO labels, then any other label the server has reported."""
        return COCO_LABELS + self._extra_labels

    def detect(self, picture: Picture, region: Box) -> list[Detection]:
        """Objects in ``region`` of ``picture`` (worker thread; blocks up to the timeout).

        Raises DetectorError: BACKING_OFF without asking while a back-off runs, otherwise the
        kind of the failure (which starts or extends the back-off).
        """
        if self._retry_at is not None:
            left = self._retry_at - self._clock()
            if left > 0:
                raise DetectorError(
                    DetectorErrorKind.BACKING_OFF,
                    f"next try in {left:.0f} s after: {self._last_failure}",
                )
        try:
            size = send_size(region, picture.width, picture.height, self._max_side)
            rgb = picture.rgb(region, size)
            sent = (int(rgb.shape[1]), int(rgb.shape[0]))  # what the picture really gave
            status, body = self._run_on_loop(encode_jpeg(rgb))
            detections = self._read(status, body, sent, region)
        except DetectorError as err:
            self._failed(err)
            raise
        self._retry_at = None
        self._last_failure = None
        self._backoff.reset()
        self._learn(detections)
        return detections

    def close(self) -> None:
        """Cancel a request in flight and refuse new ones (the session is not ours to close)."""
        with self._lock:
            self._closed = True
            inflight = self._inflight
        if inflight is not None:
            inflight.cancel()

    # Config flow ---------------------------------------------------------------------------

    async def async_check(self) -> None:
        """Send a small grey picture and read the answer (on the loop; no back-off).

        Raises DetectorError with the kind of the failure.
        """
        rgb = np.full((CHECK_SIDE, CHECK_SIDE, 3), 128, dtype=np.uint8)
        status, body = await self._post(encode_jpeg(rgb))
        self._read(status, body, (CHECK_SIDE, CHECK_SIDE), FULL_FRAME)

    # Internals ---------------------------------------------------------------------------

    def _run_on_loop(self, jpeg: bytes) -> tuple[int, bytes]:
        """Run the POST on the session's loop and wait for it in this thread."""
        coro = self._post(jpeg)
        with self._lock:
            if self._closed:
                coro.close()
                raise DetectorError(DetectorErrorKind.UNREACHABLE, "the detector is closed")
            try:
                future = asyncio.run_coroutine_threadsafe(coro, self._loop)
            except RuntimeError:  # the loop is closed: Home Assistant is stopping
                coro.close()
                raise DetectorError(
                    DetectorErrorKind.UNREACHABLE, "the event loop is closed"
                ) from None
            self._inflight = future
        try:
            return future.result(self._timeout + RESULT_MARGIN)
        except TimeoutError:
            future.cancel()
            raise DetectorError(
                DetectorErrorKind.TIMEOUT, "the event loop did not run the request in time"
            ) from None
        except concurrent.futures.CancelledError:
            raise DetectorError(
                DetectorErrorKind.UNREACHABLE, "the request was cancelled"
            ) from None
        finally:
            with self._lock:
                self._inflight = None

    async def _post(self, jpeg: bytes) -> tuple[int, bytes]:
        """POST the picture; the status and body, or DetectorError for a failed exchange."""
        form = aiohttp.FormData()
        form.add_field("image", jpeg, filename="image.jpg", content_type="image/jpeg")
        form.add_field("min_confidence", str(self._min_confidence))
        if self._api_key is not None:
            form.add_field("api_key", self._api_key)
        try:
            async with self._session.post(
                self._url, data=form, timeout=aiohttp.ClientTimeout(total=self._timeout)
            ) as response:
                return response.status, await response.read()
        # TimeoutError first: aiohttp's socket timeouts are connection errors as well.
        except TimeoutError:
            raise DetectorError(
                DetectorErrorKind.TIMEOUT, f"no answer within {self._timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as err:
            raise DetectorError(
                DetectorErrorKind.UNREACHABLE, f"{type(err).__name__}: {err}"
            ) from None

    def _read(
        self, status: int, body: bytes, size: tuple[int, int], region: Box
    ) -> list[Detection]:
        """Turn a status and body into detections or the DetectorError they mean."""
        if status in {401, 403}:
            refused = _error_text(body) or "the API key was refused"
            raise DetectorError(DetectorErrorKind.UNAUTHORIZED, f"HTTP {status}: {refused}")
        if not 200 <= status < 300:
            reason = _error_text(body)
            message = f"HTTP {status}" + (f": {reason}" if reason else "")
            raise DetectorError(DetectorErrorKind.HTTP_ERROR, message)
        try:
            data = json.loads(body)
        except ValueError:
            raise _bad(f"the answer is not JSON: {body[:80]!r}") from None
        return parse_predictions(data, size, region, self._min_confidence)

    def _failed(self, err: DetectorError) -> None:
        delay = self._backoff.next_delay()
        self._retry_at = self._clock() + delay
        self._last_failure = err
        _LOGGER.debug("%s failed (next try in %.0f s): %s", self._name, delay, err)

    def _learn(self, detections: list[Detection]) -> None:
        known = set(COCO_LABELS) | set(self._extra_labels)
        new = tuple(dict.fromkeys(d.label for d in detections if d.label not in known))
        if new:
            self._extra_labels += new
