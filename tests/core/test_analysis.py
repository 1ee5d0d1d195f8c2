"""AnalysisWorker on real generated H.264: keyframe and adaptive mode, errors, its thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import itertools
import logging
import queue
import threading
import time
from typing import Any, cast

import av
import pytest

from custom_components.lookback.core import analysis
from custom_components.lookback.core.analysis import AnalysisStats, AnalysisWorker
from custom_components.lookback.core.frame_feed import FrameFeed
from custom_components.lookback.core.models import MotionConfig, TimedPacket
from custom_components.lookback.core.motion import MotionResult
from custom_components.lookback.core.motion_state import MotionPhase, MotionUpdate
from tests.sim.media import Clip, ClipFactory

T0 = 1000.0  # wall time of the clip's first frame
FPS = 10
GOP = 10  # frames: 1 s
MOTION = (4.0, 7.0)  # the person crosses the picture in these clip seconds
TIMEOUT = 5.0


@dataclass(frozen=True)
class Media:
    clip: Clip
    packets: list[TimedPacket]

    def gop(self, second: int) -> list[TimedPacket]:
        """The packets of the GOP that starts at clip second ``second``."""
        return self.packets[second * GOP : (second + 1) * GOP]

    def key(self, second: int) -> TimedPacket:
        return self.gop(second)[0]


def demux(clip: Clip) -> list[TimedPacket]:
    """The clip's video packets, timed from T0 (a stream keeps its container alive)."""
    container = av.open(str(clip.path))
    packets: list[TimedPacket] = []
    for packet in container.demux():
        if packet.size == 0 or packet.stream.type != "video":
            continue
        assert packet.pts is not None
        assert packet.time_base is not None
        timed = TimedPacket(
            packet,
            packet.stream,
            T0 + float(packet.pts * packet.time_base),
            packet.is_keyframe,
            True,
            packet.size,
        )
        packets.append(timed)
    return packets


@pytest.fixture(scope="module")
def media(make_media: ClipFactory) -> Media:
    clip = make_media(
        width=320, height=180, fps=FPS, seconds=12, gop_seconds=GOP / FPS, motion=[MOTION]
    )
    packets = demux(clip)
    assert len(packets) == clip.frames
    assert [p.time - T0 for p in packets if p.is_keyframe] == pytest.approx(clip.keyframe_times)
    return Media(clip, packets)


class FakeClock:
    """Wall time under test control; ``ticks`` is released at every reading."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.ticks = threading.Semaphore(0)

    def __call__(self) -> float:
        self.ticks.release()
        return self.now


class Updates:
    """Collects a worker's updates (in whichever thread they come) and lets a test await them."""

    def __init__(self) -> None:
        self.all: list[MotionUpdate] = []
        self.queue: queue.Queue[MotionUpdate] = queue.Queue()

    def __call__(self, update: MotionUpdate) -> None:
        self.all.append(update)
        self.queue.put(update)

    def next(self, timeout: float = TIMEOUT) -> MotionUpdate:
        return self.queue.get(timeout=timeout)

    def phases(self) -> list[MotionPhase]:
        return [update.phase for update in self.all]


def make_worker(
    updates: Updates, clock: Callable[[], float] = time.time, **config: Any
) -> AnalysisWorker:
    settings: dict[str, Any] = {"min_duration": 1.0, "active_fps": 0.0}
    settings.update(config)
    return AnalysisWorker("cam", MotionConfig(**settings), FrameFeed(), updates, clock)


def spy_analysed(worker: AnalysisWorker, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the time of every frame the detector is given (the real detector still runs)."""
    times: list[float] = []
    analyse = worker.detector.analyse

    def recording(grey: Any, time_: float) -> MotionResult:
        times.append(round(time_ - T0, 3))
        return analyse(grey, time_)

    monkeypatch.setattr(worker.detector, "analyse", recording)
    return times


def drive(worker: AnalysisWorker, packets: list[TimedPacket], every: int = 1) -> None:
    """Play packets through the feed as the demux thread would.

    The worker takes after every ``every`` packets (more than one: a worker too slow for the
    stream).
    """
    for index, packet in enumerate(packets, start=1):
        worker.feed.put(packet)
        if index % every == 0 or index == len(packets):
            batch = worker.feed.take(0)
            if batch:
                worker.process(batch)


@pytest.fixture
def workers() -> Iterator[list[AnalysisWorker]]:
    """Workers whose threads a test starts: stopped at teardown even when the test fails."""
    started: list[AnalysisWorker] = []
    yield started
    for worker in started:
        worker.stop(TIMEOUT)


def start(worker: AnalysisWorker, workers: list[AnalysisWorker]) -> threading.Thread:
    workers.append(worker)
    worker.start()
    assert worker._thread is not None
    return worker._thread


# Synchronous: process() driven by the test ----------------------------------------------------


def test_keyframe_mode_starts_within_a_gop_and_ends_after(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    updates = Updates()
    worker = make_worker(updates, active_fps=0.0)
    analysed = spy_analysed(worker, monkeypatch)
    drive(worker, media.packets)
    assert analysed == [float(s) for s in range(12)]  # keyframes only
    assert worker.frames_decoded == 12
    assert worker.frames_analysed == 12
    phases = updates.phases()
    assert phases[0] is MotionPhase.STARTED
    assert phases[-1] is MotionPhase.ENDED
    assert phases.count(MotionPhase.STARTED) == phases.count(MotionPhase.ENDED) == 1
    started, *moving, ended = updates.all
    start_s, end_s = MOTION
    gop_s = GOP / FPS
    assert start_s <= started.time - T0 <= start_s + gop_s
    for update in [started, *moving]:
        assert update.score > 0
        clip_time = update.time - T0
        if clip_time >= end_s:
            # gone, but the background still remembers where the person was a moment ago
            # (test_motion.py::test_a_person_who_left_leaves_no_ghost): one keyframe at most
            assert clip_time < end_s + gop_s
            continue
        box = media.clip.object_box(clip_time)
        assert box is not None
        x, _, w, _ = box
        found = update.boxes[0]
        # the largest box overlaps the person horizontally
        assert found.x * media.clip.width < x + w
        assert (found.x + found.width) * media.clip.width > x
    last_moving = [started, *moving][-1].time
    assert ended.time == pytest.approx(last_moving + worker.config.min_duration)
    assert end_s <= ended.time - T0 <= end_s + worker.config.min_duration + gop_s
    assert not worker.feed.full_rate  # keyframes only, always
    stats = worker.stats
    assert stats.frames_replaced == 0
    assert stats.decode_errors == 0
    assert stats.recalibrations == 1


def test_adaptive_mode_decodes_every_frame_and_analyses_at_active_fps(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_rate_seen: list[bool] = []
    updates = Updates()

    def listener(update: MotionUpdate) -> None:
        full_rate_seen.append(worker.feed.full_rate)
        updates(update)

    worker = AnalysisWorker(
        "cam", MotionConfig(min_duration=1.0, active_fps=5.0), FrameFeed(), listener
    )
    analysed = spy_analysed(worker, monkeypatch)
    drive(worker, media.packets)
    started, *moving, ended = updates.all
    assert started.phase is MotionPhase.STARTED
    assert ended.phase is MotionPhase.ENDED
    assert all(update.phase is MotionPhase.CONTINUED for update in moving)
    on, off = round(started.time - T0, 3), round(ended.time - T0, 3)
    # while motion is on: every frame decoded, five a second analysed
    during = [t for t in analysed if on <= t <= off]
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(during)}
    assert gaps == {0.2}
    assert worker.frames_decoded > 12
    p_frames_on = [p for p in media.packets if not p.is_keyframe and on < p.time - T0 <= off]
    assert worker.frames_decoded == 12 + len(p_frames_on)
    # quiet: keyframes only
    assert all(t == int(t) for t in analysed if t < on or t > off)
    # the end comes one hold after the last moving frame, to the frame
    assert off == pytest.approx(moving[-1].time - T0 + 1.0)
    assert MOTION[1] <= off < MOTION[1] + 1.0 + GOP / FPS
    assert full_rate_seen[0] is True  # switched on with the start
    assert full_rate_seen[-1] is False  # and off with the end
    assert not worker.feed.full_rate
    stats = worker.stats
    assert stats == AnalysisStats(
        enabled=True,
        full_rate=False,
        frames_decoded=worker.frames_decoded,
        frames_analysed=len(analysed),
        frames_replaced=0,
        decode_errors=0,
        recalibrations=1,
        last_analysis_ms=stats.last_analysis_ms,
    )
    assert stats.last_analysis_ms is not None
    assert stats.last_analysis_ms > 0


def test_a_slow_worker_analyses_the_newest_due_frame_and_counts_the_rest(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    updates = Updates()
    worker = make_worker(updates, active_fps=5.0)
    analysed = spy_analysed(worker, monkeypatch)
    drive(worker, media.packets, every=GOP)  # the worker takes once a GOP
    assert MotionPhase.STARTED in updates.phases()
    assert worker.frames_superseded > 0
    assert worker.feed.replaced > 0
    assert worker.stats.frames_replaced == worker.feed.replaced + worker.frames_superseded
    # a whole GOP at full rate: decoded to its end, and its newest frame is the one analysed
    assert 6.9 in analysed
    assert 6.0 not in analysed


def test_keyframes_only_mode_skips_p_frames_it_is_given(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = make_worker(Updates(), active_fps=0.0)
    analysed = spy_analysed(worker, monkeypatch)
    worker.process(media.gop(0))
    worker.process(media.gop(1))
    assert worker.frames_decoded == 2 * GOP
    # nothing analysed yet: the newest frame is due; after that only keyframes are
    assert analysed == [0.9, 1.0]
    assert worker.frames_superseded == GOP - 1


def test_a_new_stream_gets_a_new_decoder_and_a_fresh_background(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    updates = Updates()
    worker = make_worker(updates)
    analysed = spy_analysed(worker, monkeypatch)
    worker.process([media.key(0)])
    first_decoder = worker._decoder
    assert first_decoder is not None
    reconnected = demux(media.clip)  # a second container: new stream objects
    assert reconnected[0].stream is not media.packets[0].stream
    # the new connection's chain starts at a keyframe: P-frames before it are skipped
    worker.process(reconnected[51:53])
    assert worker.frames_decoded == 1
    assert worker._decoder is first_decoder
    # the person is in the first keyframe after reconnecting: it is not motion but background
    worker.process([reconnected[50]])
    assert worker._decoder is not first_decoder
    assert worker._stream is reconnected[50].stream
    assert worker.detector.recalibrations == 2
    assert updates.all == []
    assert analysed == [0.0, 5.0]


def test_corrupt_packet_counts_an_error_and_decoding_restarts_at_a_keyframe(
    media: Media, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=analysis.__name__)
    worker = make_worker(Updates())
    worker.process([media.key(0)])
    good = media.key(1)
    broken = TimedPacket(av.Packet(bytes(good.packet)[:50]), good.stream, good.time, True, True, 50)
    worker.process([broken])
    assert worker.decode_errors == 1
    decoder_after_error = worker._decoder
    assert decoder_after_error is None
    assert "did not decode" in caplog.text
    worker.process(media.gop(1)[1:4])  # P-frames of the broken chain: not decoded
    assert worker.frames_decoded == 1
    assert worker.frames_analysed == 1
    worker.process([media.key(2)])
    assert worker._decoder is not None
    assert worker.frames_decoded == 2
    assert worker.frames_analysed == 2
    stats = worker.stats
    assert stats.decode_errors == 1
    assert stats.recalibrations == 2  # the restarted decoder starts a fresh background


def test_disabled_from_the_start_feeds_nothing(media: Media) -> None:
    updates = Updates()
    worker = make_worker(updates, enabled=False)
    enabled_before, stats_before = worker.enabled, worker.stats
    assert not enabled_before
    assert not stats_before.enabled
    drive(worker, media.packets)
    assert worker.frames_decoded == 0
    worker.set_enabled(True)
    assert worker.enabled
    drive(worker, media.packets)
    assert worker.frames_analysed == 12
    assert MotionPhase.STARTED in updates.phases()


# The worker thread ----------------------------------------------------------------------------


def test_thread_reports_motion_through_the_callback(
    media: Media, workers: list[AnalysisWorker]
) -> None:
    got = threading.Event()
    seen: list[tuple[MotionUpdate, str]] = []

    def listener(update: MotionUpdate) -> None:
        seen.append((update, threading.current_thread().name))
        got.set()

    worker = AnalysisWorker("cam", MotionConfig(active_fps=0.0), FrameFeed(), listener)
    worker.process([media.key(0)])  # the quiet scene is the background
    thread = start(worker, workers)
    for packet in media.gop(5):
        worker.feed.put(packet)
    assert got.wait(TIMEOUT)
    update, thread_name = seen[0]
    assert update.phase is MotionPhase.STARTED
    assert update.time == media.key(5).time
    assert thread_name == "lookback-analysis-cam"  # the listener runs in the worker thread
    assert worker.frames_analysed == 2
    worker.stop(TIMEOUT)
    assert not thread.is_alive()
    assert worker._thread is None


def test_motion_ends_when_frames_stop_coming(
    media: Media, workers: list[AnalysisWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis, "IDLE_WAKE_S", 0.01)
    clock = FakeClock(media.key(5).time)
    updates = Updates()
    worker = make_worker(updates, clock, min_duration=5.0)
    worker.process([media.key(0)])
    start(worker, workers)
    worker.feed.put(media.key(5))
    assert updates.next().phase is MotionPhase.STARTED
    # the worker wakes without frames but the hold has not run out: nothing yet
    for _ in range(3):
        assert clock.ticks.acquire(timeout=TIMEOUT)
    assert updates.queue.empty()
    clock.now = media.key(5).time + 5.0
    ended = updates.next()
    assert ended.phase is MotionPhase.ENDED
    assert ended.time == media.key(5).time + 5.0
    assert updates.phases() == [MotionPhase.STARTED, MotionPhase.ENDED]


def test_switching_off_ends_motion_and_on_resumes(
    media: Media, workers: list[AnalysisWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis, "IDLE_WAKE_S", 0.05)
    updates = Updates()
    worker = make_worker(updates, FakeClock(media.key(5).time), active_fps=5.0, min_duration=60)
    worker.process([media.key(0)])
    start(worker, workers)
    worker.feed.put(media.key(5))
    assert updates.next().phase is MotionPhase.STARTED
    full_rate_on = worker.feed.full_rate
    assert full_rate_on
    worker.set_enabled(False)
    assert not worker.feed.full_rate
    assert not worker.stats.enabled
    ended = updates.next()
    assert ended.phase is MotionPhase.ENDED
    assert not worker.tracker.active
    decoded = worker.frames_decoded
    for packet in media.gop(6):
        worker.feed.put(packet)
    assert worker.feed.take(0) is None  # off: nothing reaches the worker
    assert worker.frames_decoded == decoded
    worker.set_enabled(True)
    assert worker.enabled
    # Back on, the scene may have changed meanwhile: the first frame re-learns the background
    # (run in this thread once the worker has stopped, so nothing races it).
    worker.stop(TIMEOUT)
    recalibrations = worker.detector.recalibrations
    worker.process([media.key(6)])
    assert worker.detector.recalibrations == recalibrations + 1
    assert updates.queue.empty()


def test_switching_off_ends_motion_at_once(media: Media, workers: list[AnalysisWorker]) -> None:
    updates = Updates()
    worker = make_worker(updates, FakeClock(media.key(5).time), min_duration=60)
    worker.process([media.key(0)])
    start(worker, workers)
    worker.feed.put(media.key(5))
    assert updates.next().phase is MotionPhase.STARTED
    worker.set_enabled(False)
    assert updates.next(timeout=0.5).phase is MotionPhase.ENDED


def test_stop_wakes_an_idle_worker_and_joins_it(
    workers: list[AnalysisWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis, "IDLE_WAKE_S", 60.0)
    worker = make_worker(Updates())
    thread = start(worker, workers)
    assert thread.name == "lookback-analysis-cam"
    assert thread.daemon
    started = time.monotonic()
    worker.stop(TIMEOUT)
    assert time.monotonic() - started < TIMEOUT  # woken by close(), not by the idle timeout
    assert not thread.is_alive()
    assert worker._thread is None
    worker.stop()  # stopping again is harmless


def test_stop_lets_the_frame_being_analysed_finish(
    media: Media, workers: list[AnalysisWorker]
) -> None:
    in_listener = threading.Event()
    release = threading.Event()
    seen: list[MotionUpdate] = []

    def listener(update: MotionUpdate) -> None:
        seen.append(update)
        in_listener.set()
        assert release.wait(TIMEOUT)

    worker = AnalysisWorker("cam", MotionConfig(active_fps=0.0), FrameFeed(), listener)
    worker.process([media.key(0)])
    thread = start(worker, workers)
    worker.feed.put(media.key(5))
    assert in_listener.wait(TIMEOUT)
    worker.stop(timeout=0.01)  # the thread is busy: stop() returns after its timeout
    assert thread.is_alive()
    release.set()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert [update.phase for update in seen] == [MotionPhase.STARTED]
    assert worker.frames_analysed == 2


def test_a_failing_batch_is_logged_and_the_thread_goes_on(
    media: Media,
    workers: list[AnalysisWorker],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    updates = Updates()
    worker = make_worker(updates)
    worker.process([media.key(0)])
    processed = threading.Event()
    process = worker.process

    def signalling_process(batch: Any) -> None:
        try:
            process(batch)
        finally:
            processed.set()

    monkeypatch.setattr(worker, "process", signalling_process)
    start(worker, workers)
    key = media.key(1)
    # a keyframe of a "stream" that has no codec: new_decoder raises AttributeError
    worker.feed.put(TimedPacket(key.packet, cast(Any, object()), key.time, True, True, key.size))
    assert processed.wait(TIMEOUT)
    worker.feed.put(media.key(5))
    assert updates.next().phase is MotionPhase.STARTED
    assert "cam: motion analysis failed" in caplog.text
    assert any(record.exc_info for record in caplog.records)


# Moving frames for object detection -----------------------------------------------------------


class MovingFrames:
    """An ``on_moving_frame`` listener: the frames and results it heard, and in which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[av.VideoFrame, MotionResult, str]] = []
        self.heard = threading.Event()

    def __call__(self, frame: av.VideoFrame, result: MotionResult) -> None:
        self.calls.append((frame, result, threading.current_thread().name))
        self.heard.set()


def spy_results(worker: AnalysisWorker, monkeypatch: pytest.MonkeyPatch) -> list[MotionResult]:
    """Every result the real detector gives, moving or not, in order."""
    results: list[MotionResult] = []
    analyse = worker.detector.analyse

    def recording(grey: Any, time_: float) -> MotionResult:
        result = analyse(grey, time_)
        results.append(result)
        return result

    monkeypatch.setattr(worker.detector, "analyse", recording)
    return results


def test_moving_frames_are_handed_over_with_their_result_and_still_ones_are_not(
    media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = MovingFrames()
    worker = make_worker(Updates(), active_fps=5.0)
    worker.on_moving_frame = listener
    results = spy_results(worker, monkeypatch)
    drive(worker, media.packets)
    moving = [result for result in results if result.motion]
    still = [result for result in results if not result.motion]
    assert moving
    assert still  # the quiet seconds before and after the person
    # exactly the moving results, each once, in order (the very objects the detector gave)
    heard = [result for _, result, _ in listener.calls]
    assert len(heard) == len(moving)
    assert all(h is m for h, m in zip(heard, moving, strict=True))
    start_s, end_s = MOTION
    for frame, result, thread_name in listener.calls:
        assert thread_name == threading.current_thread().name  # process() ran here
        assert isinstance(frame, av.VideoFrame)
        assert (frame.width, frame.height) == (media.clip.width, media.clip.height)
        # the decoded frame that was analysed, not another one of its batch
        assert frame.time is not None
        assert T0 + frame.time == pytest.approx(result.time)
        assert result.boxes
        assert start_s <= result.time - T0 < end_s + GOP / FPS
    # the person is in the frames: while crossing, frames at full rate (five a second) moved
    assert len(listener.calls) > 5 * (end_s - start_s) // 2


def test_keyframe_mode_hands_over_moving_keyframes(media: Media) -> None:
    listener = MovingFrames()
    worker = make_worker(Updates(), active_fps=0.0)
    worker.on_moving_frame = listener
    drive(worker, media.packets)
    times = [round(result.time - T0, 3) for _, result, _ in listener.calls]
    assert times
    assert all(t == int(t) for t in times)  # keyframes only
    assert set(times) >= {5.0, 6.0}  # the person is in the middle of the picture
    assert 0.0 not in times
    assert [f.key_frame for f, _, _ in listener.calls] == [True] * len(times)


def test_without_a_listener_analysis_is_unchanged(media: Media) -> None:
    quiet_updates, heard_updates = Updates(), Updates()
    quiet = make_worker(quiet_updates, active_fps=5.0)
    assert quiet.on_moving_frame is None  # the default
    heard = make_worker(heard_updates, active_fps=5.0)
    listener = MovingFrames()
    heard.on_moving_frame = listener
    drive(quiet, media.packets)
    drive(heard, media.packets)
    assert listener.calls
    assert quiet_updates.all == heard_updates.all
    assert quiet.frames_decoded == heard.frames_decoded
    assert quiet.frames_analysed == heard.frames_analysed


def test_clearing_the_listener_stops_the_hand_over_at_once(media: Media) -> None:
    listener = MovingFrames()
    worker = make_worker(Updates(), active_fps=5.0)
    worker.on_moving_frame = listener
    worker.process([media.key(0)])
    worker.process(media.gop(5)[:3])
    heard = len(listener.calls)
    assert heard == 1  # the newest due frame of the batch
    worker.on_moving_frame = None  # object detection switched off
    drive(worker, media.gop(5)[3:] + media.gop(6))
    assert len(listener.calls) == heard
    assert worker.tracker.active  # motion itself goes on


def test_the_listener_hears_moving_frames_in_the_worker_thread(
    media: Media, workers: list[AnalysisWorker]
) -> None:
    updates = Updates()
    listener = MovingFrames()
    worker = make_worker(updates, active_fps=0.0)
    worker.on_moving_frame = listener
    worker.process([media.key(0)])  # the quiet scene is the background: not moving
    assert listener.calls == []
    start(worker, workers)
    worker.feed.put(media.key(5))
    assert listener.heard.wait(TIMEOUT)
    ((frame, result, thread_name),) = listener.calls
    assert thread_name == "lookback-analysis-cam"
    assert result.time == media.key(5).time
    assert result.motion
    assert frame.key_frame
    assert updates.next().phase is MotionPhase.STARTED
