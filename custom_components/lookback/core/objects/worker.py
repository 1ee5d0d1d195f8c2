"""DetectorWorker: the one thread that runs object detection for every camera.

A TFLite interpreter is not thread-safe and a small machine has few cores, so all cameras
share one thread and one detector. ``submit`` never waits (analysis threads and the event loop
call it): each camera has a small queue whose oldest request is dropped, and counted, when a
newer one comes while it is full, because a detection on the newest picture is worth more than
one on a stale picture. Cameras are served in turn, the one served least recently first, so a
busy street camera cannot starve the quiet back-door one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
import itertools
import logging
import threading
import time
from typing import Final

from .errors import DetectorError, DetectorErrorKind
from .types import Box, Detection, Detector, DetectorStats, Picture

_LOGGER = logging.getLogger(__name__)

AVERAGE_OVER: Final = 50  # inferences in the average: recent, so a slow spell shows
# No DetectorErrorKind means "a bug": an exception that is not a DetectorError is reported as
# the failure it most likely is (a model the runtime choked on).
UNEXPECTED_LOAD_KIND: Final = DetectorErrorKind.MODEL_INVALID
UNEXPECTED_DETECT_KIND: Final = DetectorErrorKind.MODEL_UNSUPPORTED

DetectorFactory = Callable[[str | None], Detector]


class DetectionReason(StrEnum):
    """Why a picture is sent to the detector."""

    MOTION = "motion"  # a moving frame, cropped around the motion
    ALERT = "alert"  # the camera's own alert (ONVIF, mail, entity): is it a person?
    INTERVAL = "interval"  # the periodic check whatever moves
    SNAPSHOT = "snapshot"  # a snapshot camera's new still


@dataclass(frozen=True, slots=True)
class DetectionRequest:
    """One picture of one camera to detect objects in."""

    camera_id: str
    time: float
    """Wall-clock time of the picture."""
    picture: Picture
    region: Box
    """The part of the picture the detector is shown (boxes come back for the whole)."""
    reason: str
    """A DetectionReason (or another word the caller understands)."""
    detector_key: str | None = None
    """Which detector: passed to ``detector_for`` (None: the NVR's default)."""
    owner: object = None
    """Who asked (a camera's CameraDetection): a restarted camera ignores its old results."""


@dataclass(frozen=True, slots=True)
class DetectionOutcome:
    """What became of a request: detections, or the error that prevented them."""

    request: DetectionRequest
    detections: list[Detection]
    error: DetectorError | None
    inference_ms: float | None
    """Time in ``detect`` (None when no detector could be had)."""
    total_ms: float
    """Time from ``submit`` to the outcome: queueing, loading and inference."""


@dataclass(slots=True)
class _Queued:
    request: DetectionRequest
    submitted: float  # perf_counter at submit
    order: int  # submission order, breaks ties between cameras never served


class DetectorWorker:
    """Runs detections for all cameras in one thread, taking turns between cameras."""

    def __init__(
        self,
        detector_for: DetectorFactory,
        on_outcome: Callable[[DetectionOutcome], None],
        *,
        per_camera: int = 2,
    ) -> None:
        """Nothing runs before ``start`` (requests submitted before wait for it).

        Args:
            detector_for: Returns the detector for a request's ``detector_key``. Called in
                the worker thread, so it may load a model; caching is the caller's job. A
                DetectorError it raises becomes the outcome's error.
            on_outcome: Called in the worker thread with each outcome: hand it to the loop.
            per_camera: Requests a camera may have waiting; the oldest is dropped beyond.
        """
        self._detector_for = detector_for
        self._on_outcome = on_outcome
        self._per_camera = max(1, per_camera)
        self._cond = threading.Condition()
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._queues: dict[str, deque[_Queued]] = {}
        self._last_turn: dict[str, int] = {}  # camera -> turn it was last served in
        self._turns = itertools.count()
        self._orders = itertools.count()
        self._busy = False
        self._closed = False
        self._submitted = 0
        self._processed = 0
        self._dropped = 0
        self._dropped_by_camera: dict[str, int] = {}
        self._errors = 0
        self._last_error: str | None = None
        self._detector_name: str | None = None
        self._inference_ms: deque[float] = deque(maxlen=AVERAGE_OVER)

    # Life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (again after ``stop``)."""
        if self._thread is not None:
            return
        # A fresh event per thread: one that outlived stop's timeout still sees its own set.
        quit_ = self._quit = threading.Event()
        with self._cond:
            self._closed = False
        self._thread = threading.Thread(
            target=self._run, args=(quit_,), name="lookback-detector", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread; waiting requests are discarded and counted as dropped.

        A detection in progress finishes first (up to ``timeout``; the thread is a daemon and
        ends by itself after). Detectors are not closed: they are the caller's.
        """
        with self._cond:
            self._quit.set()
            self._closed = True
            for camera_id, queue in self._queues.items():
                self._count_dropped(camera_id, len(queue))
            self._queues.clear()
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def set_detector_for(self, detector_for: DetectorFactory) -> None:
        """Use another factory from the next request on (settings changed)."""
        with self._cond:
            self._detector_for = detector_for

    def forget_camera(self, camera_id: str) -> None:
        """Discard a removed camera's waiting requests and its counters (not counted as drops).

        An outcome for it may still come if its request is being detected right now.
        """
        with self._cond:
            self._queues.pop(camera_id, None)
            self._last_turn.pop(camera_id, None)
            self._dropped_by_camera.pop(camera_id, None)
            self._cond.notify_all()

    # Requests ----------------------------------------------------------------------------

    def submit(self, request: DetectionRequest) -> bool:
        """Queue a request without waiting; False when one was dropped for it (or stopped).

        A full camera queue drops its oldest request; after ``stop`` the request itself is
        dropped.
        """
        with self._cond:
            self._submitted += 1
            camera_id = request.camera_id
            if self._closed:
                self._count_dropped(camera_id, 1)
                return False
            queue = self._queues.setdefault(camera_id, deque())
            dropped = len(queue) >= self._per_camera
            if dropped:
                queue.popleft()
                self._count_dropped(camera_id, 1)
            queue.append(_Queued(request, time.perf_counter(), next(self._orders)))
            self._cond.notify_all()
            return not dropped

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no request waits or runs; False on timeout (for tests and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._queues, timeout)

    @property
    def stats(self) -> DetectorStats:
        """The counters: ``processed`` counts outcomes, ``errors`` outcomes with an error."""
        with self._cond:
            recent = self._inference_ms
            return DetectorStats(
                detector=self._detector_name,
                submitted=self._submitted,
                processed=self._processed,
                dropped=self._dropped,
                dropped_by_camera=dict(self._dropped_by_camera),
                errors=self._errors,
                last_error=self._last_error,
                last_inference_ms=recent[-1] if recent else None,
                average_inference_ms=round(sum(recent) / len(recent), 2) if recent else None,
                queued=sum(len(queue) for queue in self._queues.values()),
            )

    # The worker thread -------------------------------------------------------------------

    def _run(self, quit_: threading.Event) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: quit_.is_set() or bool(self._queues))
                if quit_.is_set():
                    return
                queued = self._take()
                detector_for = self._detector_for
                self._busy = True
            outcome = self._process(queued, detector_for)
            with self._cond:
                self._processed += 1
                if outcome.error is not None:
                    self._errors += 1
                    self._last_error = str(outcome.error)
                if outcome.inference_ms is not None and outcome.error is None:
                    self._inference_ms.append(outcome.inference_ms)
            try:
                self._on_outcome(outcome)
            except Exception:  # a listener's bug must not end detection for every camera
                _LOGGER.exception("Handling a detection outcome failed")
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _take(self) -> _Queued:
        """The next request: of the camera served least recently (lock held, queues not empty)."""
        camera_id = min(
            self._queues,
            key=lambda cam: (self._last_turn.get(cam, -1), self._queues[cam][0].order),
        )
        queue = self._queues[camera_id]
        queued = queue.popleft()
        if not queue:
            del self._queues[camera_id]
        self._last_turn[camera_id] = next(self._turns)
        return queued

    def _process(self, queued: _Queued, detector_for: DetectorFactory) -> DetectionOutcome:
        request = queued.request
        inference_ms: float | None = None
        detections: list[Detection] = []
        error: DetectorError | None = None
        try:
            detector = detector_for(request.detector_key)
        except DetectorError as err:
            error = err
        except Exception as err:  # a loader's bug: report it, keep the thread
            _LOGGER.exception("Loading the detector %r failed", request.detector_key)
            error = DetectorError(UNEXPECTED_LOAD_KIND, f"{type(err).__name__}: {err}")
        else:
            started = time.perf_counter()
            try:
                self._detector_name = detector.name
                detections = detector.detect(request.picture, request.region)
            except DetectorError as err:
                error = err
            except Exception as err:  # a runtime's or model's surprise: report it, go on
                _LOGGER.exception(
                    "Detector %s failed on %s", self._detector_name, request.camera_id
                )
                error = DetectorError(UNEXPECTED_DETECT_KIND, f"{type(err).__name__}: {err}")
            inference_ms = round((time.perf_counter() - started) * 1000, 2)
        if error is not None:
            _LOGGER.debug("Detection for %s failed: %s", request.camera_id, error)
        total_ms = round((time.perf_counter() - queued.submitted) * 1000, 2)
        return DetectionOutcome(request, detections, error, inference_ms, total_ms)

    def _count_dropped(self, camera_id: str, count: int) -> None:
        self._dropped += count
        self._dropped_by_camera[camera_id] = self._dropped_by_camera.get(camera_id, 0) + count
