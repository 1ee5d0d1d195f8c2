"""DetectorHub: the NVR's object detector in HA (runtime install, model, remote server, worker).

Local detection needs ai-edge-litert, which has glibc wheels only: it is installed on demand
through HA's requirements machinery, and where that fails (HA OS and the HA container are
musl) a repair issue points to the remote option. The model is loaded (checksum, layout) in an
executor. One DetectorWorker thread serves every camera; its results are handed to the loop.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from pathlib import Path
import time
from typing import TYPE_CHECKING, Any

from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.requirements import RequirementsNotFound, async_process_requirements

from . import repairs
from .const import (
    CONF_DETECTOR,
    CONF_DETECTOR_API_KEY,
    CONF_DETECTOR_MODEL,
    CONF_DETECTOR_URL,
    CONF_OBJECT_MODEL,
    DEFAULT_DETECTOR,
    DETECTOR_LOCAL,
    DETECTOR_OFF,
    DETECTOR_REMOTE,
    DOMAIN,
    LITERT_REQUIREMENT,
)
from .core.objects.errors import DetectorError, DetectorErrorKind
from .core.objects.model import BUNDLED_LABELS, BUNDLED_MODEL, BUNDLED_SHA256, labels_beside
from .core.objects.remote import RemoteDetector
from .core.objects.tflite import TFLiteDetector
from .core.objects.worker import DetectionOutcome, DetectionRequest, DetectorWorker

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .core.objects.types import Detector, DetectorStats
    from .hub import LookbackHub

_LOGGER = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
# The camera's own minimum score filters the answers: let the server send what a 10 % slider
# setting would keep.
REMOTE_MIN_CONFIDENCE = 0.1
# A camera's own model that failed to load is tried again after this long, not per picture.
CAMERA_MODEL_RETRY_S = 300.0
# Errors of a detector that loaded but cannot answer now (the remote server): the label
# sensors go unavailable rather than saying "nothing there".
UNHEALTHY_KINDS = frozenset(
    {
        DetectorErrorKind.UNREACHABLE,
        DetectorErrorKind.TIMEOUT,
        DetectorErrorKind.UNAUTHORIZED,
        DetectorErrorKind.HTTP_ERROR,
        DetectorErrorKind.BAD_RESPONSE,
        DetectorErrorKind.BACKING_OFF,
    }
)


def detector_choice(data: Mapping[str, Any]) -> str:
    """Which detector the NVR entry asks for (off, local or remote)."""
    return str(data.get(CONF_DETECTOR) or DEFAULT_DETECTOR)


def load_local_detector(model: str | None) -> TFLiteDetector:
    """The bundled model (checksum verified) or the user's own, with its labels (blocking)."""
    if not model:
        return TFLiteDetector(BUNDLED_MODEL, BUNDLED_LABELS, expected_sha256=BUNDLED_SHA256)
    labels = labels_beside(Path(model))
    return TFLiteDetector(Path(model), labels)


async def async_ensure_runtime(hass: HomeAssistant) -> None:
    """Install ai-edge-litert if missing; raises DetectorError(RUNTIME_MISSING) if it cannot."""
    try:
        await async_process_requirements(hass, DOMAIN, [LITERT_REQUIREMENT])
    except RequirementsNotFound as err:
        raise DetectorError(
            DetectorErrorKind.RUNTIME_MISSING, f"{LITERT_REQUIREMENT} could not be installed"
        ) from err


class DetectorHub:
    """The NVR's detector: loaded at start, one worker thread, results to the cameras."""

    def __init__(self, hub: LookbackHub, data: Mapping[str, Any]) -> None:
        """Read the NVR entry's detector settings; nothing loads before ``async_start``."""
        self.hass = hub.hass
        self._hub = hub
        self.choice = detector_choice(data)
        self.model = str(data.get(CONF_DETECTOR_MODEL) or "").strip() or None
        self.url = str(data.get(CONF_DETECTOR_URL) or "").strip()
        self.api_key = str(data.get(CONF_DETECTOR_API_KEY) or "") or None
        self.detector: Detector | None = None
        self.error: DetectorError | None = None
        # A camera's own models, loaded in the worker thread; a failure is kept with its time.
        self._camera_models: dict[str, TFLiteDetector | tuple[DetectorError, float]] = {}
        self.worker: DetectorWorker | None = None
        self.failing: DetectorError | None = None  # the NVR detector's last answer failed

    @property
    def enabled(self) -> bool:
        """Whether the NVR detects objects at all."""
        return self.choice != DETECTOR_OFF

    @property
    def available(self) -> bool:
        """Whether the detector loaded (a remote server may still be down: see ``stats``)."""
        return self.detector is not None

    @property
    def healthy(self) -> bool:
        """Whether the detector's last answer came (False while the remote server fails)."""
        return self.failing is None

    @property
    def stats(self) -> DetectorStats | None:
        """The worker's counters; None while no detector runs."""
        return self.worker.stats if self.worker is not None else None

    async def async_start(self) -> None:
        """Install the runtime if needed, load the model, start the worker.

        Failing is never a failed setup: recording goes on without labels, and a repair
        issue says what is wrong and what to do.
        """
        if not self.enabled:
            repairs.async_clear_detector(self.hass)
            return
        try:
            self.detector = await self._async_load()
        except DetectorError as err:
            self.error = err
            self._report(err)
            return
        except Exception as err:  # a bug or a runtime's surprise: still no failed setup
            _LOGGER.exception("object detector did not load")
            self.error = DetectorError(DetectorErrorKind.MODEL_INVALID, repr(err))
            self._report(self.error)
            return
        repairs.async_clear_detector(self.hass)
        self.worker = DetectorWorker(self._detector_for, self._outcome_in_thread)
        self.worker.start()
        _LOGGER.info("object detection ready: %s", self.detector.name)
        self._notify_cameras()

    async def _async_load(self) -> Detector:
        if self.choice == DETECTOR_LOCAL:
            await async_ensure_runtime(self.hass)
        elif any(
            camera.subentry_data.get(CONF_OBJECT_MODEL) for camera in self._hub.cameras.values()
        ):
            try:  # a camera's own model needs the runtime; the remote NVR detector does not
                await async_ensure_runtime(self.hass)
            except DetectorError as err:
                _LOGGER.warning("cameras with their own model detect nothing: %s", err)
        if self.choice == DETECTOR_REMOTE:
            return RemoteDetector(
                self.url,
                async_get_clientsession(self.hass),
                self.hass.loop,
                api_key=self.api_key,
                min_confidence=REMOTE_MIN_CONFIDENCE,
            )
        return await self.hass.async_add_executor_job(load_local_detector, self.model)

    def _report(self, err: DetectorError) -> None:
        _LOGGER.error("object detection is off: %s", err)
        if err.kind is DetectorErrorKind.RUNTIME_MISSING:
            repairs.async_report_detector_runtime_missing(self.hass, LITERT_REQUIREMENT)
        else:
            repairs.async_report_detector_model(
                self.hass, self.model or BUNDLED_MODEL.name, err.message
            )

    async def async_stop(self) -> None:
        """Stop the worker (what is queued is dropped) and free the models."""
        worker, self.worker = self.worker, None
        if isinstance(self.detector, RemoteDetector):  # cancels a request in flight now
            self.detector.close()
        if worker is not None:
            await self.hass.async_add_executor_job(worker.stop, STOP_TIMEOUT_S)
        for detector in [self.detector, *self._camera_models.values()]:
            if detector is not None and not isinstance(detector, tuple):
                detector.close()
        self.detector = None
        self._camera_models.clear()

    def submit(self, request: DetectionRequest) -> bool:
        """Queue a picture for detection (any thread; never waits)."""
        return self.worker.submit(request) if self.worker is not None else False

    def forget_camera(self, camera_id: str) -> None:
        """Drop a stopped camera's queued pictures."""
        if self.worker is not None:
            self.worker.forget_camera(camera_id)

    # Worker thread ---------------------------------------------------------------------

    def _detector_for(self, key: str | None) -> Detector:
        """The NVR's detector, or a camera's own model (loaded once, in the worker thread)."""
        if key is None:
            if self.detector is None:  # pragma: no cover - the worker starts after loading
                raise DetectorError(DetectorErrorKind.MODEL_MISSING, "no detector")
            return self.detector
        known = self._camera_models.get(key)
        if isinstance(known, tuple):  # failed before: not again per picture
            error, failed_at = known
            if time.monotonic() - failed_at < CAMERA_MODEL_RETRY_S:
                raise error
        elif known is not None:
            return known
        try:
            detector = load_local_detector(key)
        except DetectorError as err:
            _LOGGER.warning("camera model %s does not load: %s", key, err)
            self._camera_models[key] = (err, time.monotonic())
            raise
        self._camera_models[key] = detector
        return detector

    def _outcome_in_thread(self, outcome: DetectionOutcome) -> None:
        self.hass.loop.call_soon_threadsafe(self._deliver, outcome)

    def _deliver(self, outcome: DetectionOutcome) -> None:
        if outcome.request.detector_key is None:
            self._note_health(outcome.error)
        camera = self._hub.cameras.get(outcome.request.camera_id)
        if camera is not None:
            camera.objects.async_outcome(outcome)

    def _note_health(self, error: DetectorError | None) -> None:
        """Follow whether the NVR's detector answers; the label sensors show it."""
        failing = error if error is not None and error.kind in UNHEALTHY_KINDS else None
        if (failing is None) == (self.failing is None):
            if failing is not None:
                self.failing = failing  # the newest reason, for diagnostics
            return
        if failing is not None:
            _LOGGER.warning("object detector does not answer: %s", failing)
        else:
            _LOGGER.info("object detector answers again")
        self.failing = failing
        self._notify_cameras()

    def _notify_cameras(self) -> None:
        for camera in self._hub.cameras.values():
            camera.async_notify()
        self._hub.async_notify()
