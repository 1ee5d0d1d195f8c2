"""DetectorWorker: queueing, fairness, drops, errors and shutdown of the shared detector thread.

The detector here is a fake on purpose: what is tested is the worker's scheduling and error
handling, and a fake that blocks on an Event until the test lets it go makes every interleaving
deterministic without sleeps (the real detectors have tests of their own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import logging
import threading

import pytest

from custom_components.lookback.core.objects.errors import DetectorError, DetectorErrorKind
from custom_components.lookback.core.objects.types import (
    FULL_FRAME,
    RGB,
    Box,
    Detection,
    Detector,
    Picture,
)
from custom_components.lookback.core.objects.worker import (
    DetectionOutcome,
    DetectionReason,
    DetectionRequest,
    DetectorWorker,
)

WAIT = 10.0  # seconds any single expected step may take
PERSON = Detection("person", 0.9, Box(0.1, 0.2, 0.3, 0.4))


class TagPicture:
    """A picture the fake detector never looks into: it only names the request."""

    width = 640
    height = 480

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def rgb(self, region: Box, size: tuple[int, int]) -> RGB:
        raise NotImplementedError


class FakeDetector:
    """Returns PERSON for every picture, or raises what a test asks; may wait for a gate."""

    def __init__(self, name: str = "fake") -> None:
        self._name = name
        self.seen: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Semaphore(0)  # released once per detect() call
        self.errors: dict[str, BaseException] = {}  # picture tag -> what detect raises

    @property
    def name(self) -> str:
        return self._name

    @property
    def labels(self) -> tuple[str, ...]:
        return ("person",)

    def detect(self, picture: Picture, region: Box) -> list[Detection]:
        del region
        assert isinstance(picture, TagPicture)
        self.seen.append(picture.tag)
        self.entered.release()
        assert self.gate.wait(WAIT)
        error = self.errors.get(picture.tag)
        if error is not None:
            raise error
        return [PERSON]

    def close(self) -> None:
        """Nothing to free."""

    def hold(self) -> None:
        """Make the next detect() calls wait for ``release``."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def wait_entered(self) -> None:
        assert self.entered.acquire(timeout=WAIT)


class Outcomes:
    """Collects the worker's outcomes (called in the worker thread)."""

    def __init__(self) -> None:
        self.items: list[DetectionOutcome] = []
        self.fail = False

    def __call__(self, outcome: DetectionOutcome) -> None:
        self.items.append(outcome)
        if self.fail:
            raise RuntimeError("a broken listener")

    @property
    def tags(self) -> list[str]:
        return [_tag(o.request) for o in self.items]


def _tag(request: DetectionRequest) -> str:
    picture = request.picture
    assert isinstance(picture, TagPicture)
    return picture.tag


def request(tag: str, key: str | None = None) -> DetectionRequest:
    """A request of camera ``tag[0]`` (e.g. "A3": camera A's third)."""
    return DetectionRequest(
        camera_id=tag[0],
        time=1000.0,
        picture=TagPicture(tag),
        region=FULL_FRAME,
        reason=DetectionReason.MOTION,
        detector_key=key,
    )


WorkerFactory = Callable[..., DetectorWorker]


@pytest.fixture
def detector() -> FakeDetector:
    return FakeDetector()


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture
def make_worker(detector: FakeDetector, outcomes: Outcomes) -> Iterator[WorkerFactory]:
    workers: list[DetectorWorker] = []

    def make(
        detector_for: Callable[[str | None], Detector] | None = None,
        *,
        start: bool = True,
        **options: int,
    ) -> DetectorWorker:
        worker = DetectorWorker(detector_for or (lambda key: detector), outcomes, **options)
        workers.append(worker)
        if start:
            worker.start()
        return worker

    yield make
    detector.release()
    for worker in workers:
        worker.stop(WAIT)


def test_detects_and_reports_the_outcome(make_worker: WorkerFactory, outcomes: Outcomes) -> None:
    worker = make_worker()

    sent = request("A1")
    assert worker.submit(sent)
    assert worker.wait_idle(WAIT)

    (outcome,) = outcomes.items
    assert outcome.request is sent
    assert outcome.detections == [PERSON]
    assert outcome.error is None
    assert outcome.inference_ms is not None
    assert 0 <= outcome.inference_ms <= outcome.total_ms
    stats = worker.stats
    assert (stats.detector, stats.submitted, stats.processed, stats.dropped) == ("fake", 1, 1, 0)
    assert (stats.errors, stats.last_error, stats.queued) == (0, None, 0)
    assert stats.last_inference_ms == outcome.inference_ms
    assert stats.average_inference_ms == outcome.inference_ms


def test_a_flooding_camera_does_not_starve_the_others(
    make_worker: WorkerFactory, detector: FakeDetector, outcomes: Outcomes
) -> None:
    worker = make_worker(per_camera=2)
    detector.hold()
    assert worker.submit(request("A1"))
    detector.wait_entered()  # A1 is being detected: the rest waits in the queues

    accepted = [worker.submit(request(f"A{n}")) for n in range(2, 7)]
    assert worker.submit(request("B1"))
    assert worker.submit(request("C1"))

    assert accepted == [True, True, False, False, False]  # bounded: the oldest went
    stats = worker.stats
    assert (stats.queued, stats.dropped, stats.dropped_by_camera) == (4, 3, {"A": 3})
    detector.release()
    assert worker.wait_idle(WAIT)
    # B and C were never served, A just was: they come first, then A's newest two.
    assert outcomes.tags == ["A1", "B1", "C1", "A5", "A6"]
    assert worker.stats.processed == 5
    assert worker.stats.submitted == 8


def test_cameras_take_turns(
    make_worker: WorkerFactory, detector: FakeDetector, outcomes: Outcomes
) -> None:
    worker = make_worker(per_camera=3)
    detector.hold()
    assert worker.submit(request("X0"))
    detector.wait_entered()
    for tag in ("A1", "A2", "A3", "B1", "B2", "C1"):
        assert worker.submit(request(tag))

    detector.release()
    assert worker.wait_idle(WAIT)

    assert outcomes.tags == ["X0", "A1", "B1", "C1", "A2", "B2", "A3"]


def test_a_detector_that_raises_does_not_end_the_thread(
    make_worker: WorkerFactory,
    detector: FakeDetector,
    outcomes: Outcomes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = make_worker()
    detector.errors["A1"] = RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        worker.submit(request("A1"))
        assert worker.wait_idle(WAIT)
    worker.submit(request("A2"))
    assert worker.wait_idle(WAIT)

    failed, fine = outcomes.items
    assert failed.error is not None
    assert failed.error.kind is DetectorErrorKind.MODEL_UNSUPPORTED
    assert failed.error.message == "RuntimeError: boom"
    assert failed.detections == []
    assert failed.inference_ms is not None
    assert (fine.error, fine.detections) == (None, [PERSON])
    assert "Detector fake failed on A" in caplog.text
    stats = worker.stats
    assert (stats.processed, stats.errors) == (2, 1)
    assert stats.last_error == "model_unsupported: RuntimeError: boom"


def test_a_detector_error_is_the_outcome(
    make_worker: WorkerFactory, detector: FakeDetector, outcomes: Outcomes
) -> None:
    worker = make_worker()
    backing_off = DetectorError(DetectorErrorKind.BACKING_OFF, "next try in 2 s")
    detector.errors["A1"] = backing_off

    worker.submit(request("A1"))
    assert worker.wait_idle(WAIT)

    (outcome,) = outcomes.items
    assert outcome.error is backing_off
    stats = worker.stats
    assert (stats.errors, stats.last_error) == (1, "backing_off: next try in 2 s")
    # A failed detection says nothing about inference speed.
    assert (stats.last_inference_ms, stats.average_inference_ms) == (None, None)


@pytest.mark.parametrize(
    ("raised", "kind", "message"),
    [
        (
            DetectorError(DetectorErrorKind.MODEL_MISSING, "no file /x.tflite"),
            DetectorErrorKind.MODEL_MISSING,
            "no file /x.tflite",
        ),
        (ValueError("bad bytes"), DetectorErrorKind.MODEL_INVALID, "ValueError: bad bytes"),
    ],
)
def test_a_detector_that_cannot_be_had_is_the_outcomes_error(
    make_worker: WorkerFactory,
    outcomes: Outcomes,
    detector: FakeDetector,
    raised: Exception,
    kind: DetectorErrorKind,
    message: str,
) -> None:
    keys: list[str | None] = []

    def detector_for(key: str | None) -> Detector:
        keys.append(key)
        if key == "/x.tflite":
            raise raised
        return detector

    worker = make_worker(detector_for)
    worker.submit(request("A1", key="/x.tflite"))
    worker.submit(request("B1"))
    assert worker.wait_idle(WAIT)

    failed, fine = outcomes.items
    assert failed.error is not None
    assert (failed.error.kind, failed.error.message) == (kind, message)
    assert (failed.detections, failed.inference_ms) == ([], None)
    assert fine.error is None
    assert keys == ["/x.tflite", None]
    assert detector.seen == ["B1"]


def test_set_detector_for_swaps_the_factory(make_worker: WorkerFactory, outcomes: Outcomes) -> None:
    old, new = FakeDetector("old"), FakeDetector("new")
    worker = make_worker(lambda key: old)
    worker.submit(request("A1"))
    assert worker.wait_idle(WAIT)
    assert worker.stats.detector == "old"

    worker.set_detector_for(lambda key: new)
    worker.submit(request("A2"))
    assert worker.wait_idle(WAIT)

    assert (old.seen, new.seen) == (["A1"], ["A2"])
    assert worker.stats.detector == "new"
    assert len(outcomes.items) == 2


def test_a_broken_listener_does_not_end_the_thread(
    make_worker: WorkerFactory, outcomes: Outcomes, caplog: pytest.LogCaptureFixture
) -> None:
    worker = make_worker()
    outcomes.fail = True

    with caplog.at_level(logging.ERROR):
        worker.submit(request("A1"))
        assert worker.wait_idle(WAIT)
    outcomes.fail = False
    worker.submit(request("A2"))
    assert worker.wait_idle(WAIT)

    assert outcomes.tags == ["A1", "A2"]
    assert "Handling a detection outcome failed" in caplog.text
    assert worker.stats.errors == 0  # the detection itself went fine


def test_stop_discards_waiting_requests_as_drops(
    make_worker: WorkerFactory, detector: FakeDetector, outcomes: Outcomes
) -> None:
    worker = make_worker()
    detector.hold()
    worker.submit(request("A1"))
    detector.wait_entered()
    worker.submit(request("A2"))
    worker.submit(request("B1"))

    stopper = threading.Thread(target=worker.stop, args=(WAIT,))
    stopper.start()
    assert worker._quit.wait(WAIT)  # set with the queues emptied, under the same lock
    detector.release()
    stopper.join()

    assert outcomes.tags == ["A1"]  # the detection in progress finished
    stats = worker.stats
    assert (stats.dropped, stats.dropped_by_camera, stats.queued) == (2, {"A": 1, "B": 1}, 0)
    assert not worker.submit(request("B2"))  # stopped: dropped at once
    assert worker.stats.dropped_by_camera == {"A": 1, "B": 2}
    assert worker.wait_idle(WAIT)


def test_requests_before_start_wait_for_it_and_it_restarts(
    make_worker: WorkerFactory, outcomes: Outcomes
) -> None:
    worker = make_worker(start=False)
    assert worker.submit(request("A1"))
    assert not worker.wait_idle(0)  # nobody serves it yet

    worker.start()
    worker.start()  # once is enough
    assert worker.wait_idle(WAIT)
    assert outcomes.tags == ["A1"]
    assert [t.name for t in threading.enumerate()].count("lookback-detector") == 1

    worker.stop(WAIT)
    worker.start()
    assert worker.submit(request("A2"))
    assert worker.wait_idle(WAIT)
    assert outcomes.tags == ["A1", "A2"]


def test_forget_camera_discards_its_requests_and_counters(
    make_worker: WorkerFactory, detector: FakeDetector, outcomes: Outcomes
) -> None:
    worker = make_worker(per_camera=1)
    detector.hold()
    worker.submit(request("A1"))
    detector.wait_entered()
    worker.submit(request("A2"))
    assert not worker.submit(request("A3"))  # drops A2
    worker.submit(request("B1"))

    worker.forget_camera("A")
    worker.forget_camera("Z")  # unknown: nothing happens

    assert (worker.stats.queued, worker.stats.dropped_by_camera) == (1, {})
    detector.release()
    assert worker.wait_idle(WAIT)
    assert outcomes.tags == ["A1", "B1"]  # A1 was already running
    assert worker.stats.dropped == 1  # the total keeps what was dropped before


def test_average_inference_is_over_successful_detections(
    make_worker: WorkerFactory, outcomes: Outcomes
) -> None:
    worker = make_worker()
    for n in range(3):
        worker.submit(request(f"{'ABC'[n]}1"))
    assert worker.wait_idle(WAIT)

    times = [o.inference_ms for o in outcomes.items]
    assert all(t is not None for t in times)
    stats = worker.stats
    assert stats.last_inference_ms == times[-1]
    assert stats.average_inference_ms == pytest.approx(
        sum(t for t in times if t is not None) / 3, abs=0.01
    )


def test_reasons_are_strings() -> None:
    assert [str(r) for r in DetectionReason] == ["motion", "alert", "interval", "snapshot"]


def test_a_worker_stopped_before_it_started_drops_requests(make_worker: WorkerFactory) -> None:
    worker = make_worker(start=False)
    worker.stop()
    assert not worker.submit(request("A1"))
    assert (worker.stats.dropped, worker.stats.queued) == (1, 0)
