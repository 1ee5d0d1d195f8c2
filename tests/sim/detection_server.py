"""An in-process object detection server for tests: the CodeProject.AI Server / DeepStack API.

Neither CodeProject.AI Server nor DeepStack can be installed here (both ship as large Docker
images or native installers with their own models, not as PyPI or apt packages), so this
serves ``POST /v1/vision/detection`` the way they do, as far as RemoteDetector relies on it:
a multipart form with the picture as ``image`` and optional ``min_confidence`` and ``api_key``
fields, answered with ``{"success": true, "predictions": [...], ...}`` in pixels of the image
received. Failures look like theirs: ``{"success": false, "error": "..."}`` with HTTP 200
(CodeProject.AI's way for a module error), 400 for a request without a usable image and 401
for a wrong API key (DeepStack).

Usage (on the test's event loop)::

    async with DetectionTestServer(predictions=[prediction("person", 0.9, 10, 20, 110, 220)]) as server:
        ...  # point the client at server.url
        assert server.requests[0].image_size == (640, 360)
        server.mode = ServerMode.FAILURE  # attributes may change while it runs

Predictions are canned (pixels of the image the client sends) or a function of the received
image's size. ``delay`` holds each answer (``stop`` releases held answers at once), ``status``
answers every request with that HTTP status, ``mode`` gives a failure answer, a body that is
not JSON, or JSON without predictions. Every request is recorded (``requests``), including the
refused ones; ``wait_for_requests`` lets a test await them instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass
from enum import StrEnum
import json
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web
from PIL import Image, UnidentifiedImageError

API_PATH: Final = "/v1/vision/detection"

Prediction = dict[str, Any]
PredictionSource = Sequence[Prediction] | Callable[[int, int], Sequence[Prediction]]


def prediction(
    label: str, confidence: float, x_min: float, y_min: float, x_max: float, y_max: float
) -> Prediction:
    """One prediction as the servers write it (pixels of the image received)."""
    return {
        "label": label,
        "confidence": confidence,
        "x_min": x_min,
        "y_min": y_min,
        "x_max": x_max,
        "y_max": y_max,
    }


class ServerMode(StrEnum):
    """How the server answers a request it accepted."""

    OK = "ok"  # success true with the predictions
    FAILURE = "failure"  # HTTP 200, success false with ``error``
    NOT_JSON = "not_json"  # HTTP 200, an HTML page
    NO_PREDICTIONS = "no_predictions"  # success true without a predictions list


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What the server received."""

    path: str
    fields: dict[str, str]
    """The form's text fields (``min_confidence``, ``api_key``...)."""
    image_size: tuple[int, int] | None
    """(width, height) of the ``image`` field as Pillow decoded it; None without one."""
    image_format: str | None
    content_type: str
    authorization: str | None
    """The Authorization header (basic auth from credentials in the URL)."""


class DetectionTestServer:
    """A detection API server on 127.0.0.1 and a free port, started and stopped by the test.

    The constructor's arguments are attributes of the same name, which may change while the
    server runs.
    """

    def __init__(
        self,
        *,
        predictions: PredictionSource = (),
        status: int = 200,
        delay: float = 0.0,
        mode: ServerMode = ServerMode.OK,
        error: str = "the object detection module failed",
        api_key: str | None = None,
    ) -> None:
        """Configure the answers; nothing listens before ``start``.

        Args:
            predictions: Canned predictions, or a function of the received image's (width,
                height) that returns them.
            status: Answer every request with this HTTP status (200: answer normally).
            delay: Seconds each answer is held (released at once by ``stop``).
            mode: How an accepted request is answered.
            error: The ``error`` text of a FAILURE answer.
            api_key: When set, requests without this ``api_key`` field get 401.
        """
        self.predictions = predictions
        self.status = status
        self.delay = delay
        self.mode = mode
        self.error = error
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()
        self._received = asyncio.Condition()

    async def start(self) -> int:
        """Listen on 127.0.0.1 on a free port; return the port."""
        app = web.Application()
        app.router.add_post(API_PATH, self._detect)
        self._released.clear()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        """Answer held requests now and close the server."""
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start; the server stops when the block ends."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (the server's base URL, without the API path)."""
        return f"http://127.0.0.1:{self.port}"

    async def wait_for_requests(self, count: int) -> None:
        """Return once ``count`` requests have been received (recorded before any delay)."""
        async with self._received:
            await self._received.wait_for(lambda: len(self.requests) >= count)

    # ------------------------------------------------------------------ the handler

    async def _detect(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        image = form.get("image")
        size: tuple[int, int] | None = None
        image_format: str | None = None
        if isinstance(image, web.FileField):
            with contextlib.suppress(UnidentifiedImageError), Image.open(image.file) as decoded:
                size, image_format = decoded.size, decoded.format
        async with self._received:
            self.requests.append(
                RecordedRequest(
                    request.path,
                    fields,
                    size,
                    image_format,
                    request.content_type,
                    request.headers.get("Authorization"),
                )
            )
            self._received.notify_all()
        if self.delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.delay):
                    await self._released.wait()
        if self.api_key is not None and fields.get("api_key") != self.api_key:
            return _json({"success": False, "error": "Incorrect api key"}, 401)
        if self.status != 200:
            return _json({"success": False, "error": f"status {self.status}"}, self.status)
        if size is None:
            return _json({"success": False, "error": "No valid image file was supplied"}, 400)
        return self._answer(size)

    def _answer(self, size: tuple[int, int]) -> web.Response:
        if self.mode is ServerMode.NOT_JSON:
            return web.Response(
                text="<html><body>Server Error</body></html>", content_type="text/html"
            )
        if self.mode is ServerMode.FAILURE:
            return _json({"success": False, "error": self.error})
        if self.mode is ServerMode.NO_PREDICTIONS:
            return _json({"success": True, "message": "no module answered"})
        source = self.predictions
        predictions = list(source(*size) if callable(source) else source)
        return _json(
            {
                "success": True,
                "message": f"Found {len(predictions)} objects",
                "predictions": predictions,
                "count": len(predictions),
                "inferenceMs": 1,
                "processMs": 1,
                "moduleId": "ObjectDetectionYOLOv5-6.2",
                "code": 200,
            }
        )


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")
