"""AnalysisWorker: one thread per camera that decodes what the FrameFeed hands over and finds motion.

Quiet scenes cost one keyframe decode per GOP. While motion is on the feed hands over every
packet; the worker decodes them all (P-frames need their chain) but analyses at most
``active_fps`` frames a second, the newest first; a decoded frame overtaken by a newer one before
its turn is counted as replaced. Frames are scaled to the analysis size and turned grey by
libswscale (the Y plane, area-averaged), then go to the MotionDetector and MotionTracker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import logging
import threading
import time
from typing import TYPE_CHECKING

import av
import numpy as np

from .frames import new_decoder
from .motion import MotionDetector, MotionResult, analysis_size
from .motion_state import MotionPhase, MotionTracker, MotionUpdate

if TYPE_CHECKING:
    from av.stream import Stream
    from av.video.codeccontext import VideoCodecContext
    from av.video.frame import VideoFrame

    from .frame_feed import FrameFeed
    from .models import MotionConfig, TimedPacket

_LOGGER = logging.getLogger(__name__)

IDLE_WAKE_S = 1.0  # without frames (stream down, long GOP) motion still has to run out

UpdateListener = Callable[[MotionUpdate], None]
# A moving frame, for object detection: the decoded frame and what motion found in it.
MovingFrameListener = Callable[["VideoFrame", MotionResult], None]


@dataclass(frozen=True, slots=True)
class AnalysisStats:
    """What the worker has done, for diagnostics and sensors."""

    enabled: bool
    full_rate: bool
    frames_decoded: int
    frames_analysed: int
    frames_replaced: int
    decode_errors: int
    recalibrations: int
    last_analysis_ms: float | None


class AnalysisWorker:
    """Decodes a FrameFeed's packets and runs motion detection on them, in its own thread."""

    def __init__(
        self,
        name: str,
        config: MotionConfig,
        feed: FrameFeed,
        on_update: UpdateListener,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``on_update`` runs in the worker thread: hand it to the loop yourself."""
        self.name = name
        self.config = config
        self.feed = feed
        self.detector = MotionDetector(config)
        self.tracker = MotionTracker(config.min_duration)
        self._on_update = on_update
        self._clock = clock
        self._decoder: VideoCodecContext | None = None
        self._stream: Stream | None = None
        self._last_analysed: float | None = None
        self._thread: threading.Thread | None = None
        self._quit = threading.Event()
        self._enabled = config.enabled
        self._stale_background = False
        feed.set_enabled(config.enabled)
        self.frames_decoded = 0
        self.frames_analysed = 0
        self.frames_superseded = 0
        self.decode_errors = 0
        self.last_analysis_ms: float | None = None
        self.on_moving_frame: MovingFrameListener | None = None
        """Hears each analysed frame that moved (worker thread; must return at once)."""

    # Life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread."""
        self._quit.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"lookback-analysis-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to quit and wait for it (the frame being analysed finishes first)."""
        self._quit.set()
        self.feed.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def enabled(self) -> bool:
        """Whether motion detection runs."""
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Switch detection on or off; off ends motion now and costs nothing more."""
        self._enabled = enabled
        self.feed.set_enabled(enabled)
        if not enabled:
            self.feed.set_full_rate(False)
            self.feed.wake()  # motion ends now, not at the next idle wake-up
        else:
            self._stale_background = True  # the scene may have changed while off

    @property
    def stats(self) -> AnalysisStats:
        """The worker's counters."""
        return AnalysisStats(
            enabled=self._enabled,
            full_rate=self.feed.full_rate,
            frames_decoded=self.frames_decoded,
            frames_analysed=self.frames_analysed,
            frames_replaced=self.feed.replaced + self.frames_superseded,
            decode_errors=self.decode_errors,
            recalibrations=self.detector.recalibrations,
            last_analysis_ms=self.last_analysis_ms,
        )

    # The worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._quit.is_set():
            batch = self.feed.take(IDLE_WAKE_S)
            if self._quit.is_set():
                break
            if not self._enabled:  # switched off: motion ends now, not after its hold
                if self.tracker.active:
                    self.tracker.end()
                    self._emit(MotionUpdate(MotionPhase.ENDED, self._clock()))
                continue
            if batch is None:
                self._emit(self.tracker.expire(self._clock()))
                continue
            try:
                self.process(batch)
            except Exception:  # a bug must not kill detection for good
                _LOGGER.exception("%s: motion analysis failed", self.name)

    def process(self, batch: Sequence[TimedPacket]) -> None:
        """Decode a batch from the feed and analyse its newest due frame (worker thread)."""
        if self._stale_background:
            self._stale_background = False
            self.detector.reset()
        newest: tuple[VideoFrame, float] | None = None
        for timed in batch:
            decoded = self._decode(timed)
            self.frames_decoded += len(decoded)
            for frame in decoded:
                if self._due(timed.time, timed.is_keyframe):
                    if newest is not None:
                        self.frames_superseded += 1
                    newest = (frame, timed.time)
        if newest is not None:
            self._analyse(*newest)

    def _decode(self, timed: TimedPacket) -> list[VideoFrame]:
        if timed.stream is not self._stream or self._decoder is None:
            if not timed.is_keyframe:  # a new stream's chain starts at a keyframe
                return []
            self._decoder = new_decoder(timed.stream)
            self._stream = timed.stream
            self.detector.reset()  # a new connection: the scene may have changed meanwhile
        try:
            return list(self._decoder.decode(timed.packet))
        except av.error.FFmpegError as err:
            self.decode_errors += 1
            _LOGGER.debug("%s: packet did not decode: %s", self.name, err)
            self._decoder = None  # start again at the next keyframe
            return []

    def _due(self, time_: float, is_keyframe: bool) -> bool:
        """Keyframes always; other frames at most ``active_fps`` a second."""
        if is_keyframe or self._last_analysed is None:
            return True
        fps = self.config.active_fps
        return fps > 0 and time_ - self._last_analysed >= 0.95 / fps

    def _analyse(self, frame: VideoFrame, frame_time: float) -> None:
        started = time.perf_counter()
        width, height = analysis_size(frame.width, frame.height)
        grey = frame.to_ndarray(format="gray", width=width, height=height, interpolation="AREA")
        result = self.detector.analyse(np.asarray(grey, dtype=np.uint8), frame_time)
        self.frames_analysed += 1
        self._last_analysed = frame_time
        self.last_analysis_ms = round((time.perf_counter() - started) * 1000, 2)
        self._emit(self.tracker.update(result))
        if result.motion and self.on_moving_frame is not None:
            self.on_moving_frame(frame, result)

    def _emit(self, update: MotionUpdate | None) -> None:
        if update is None:
            return
        if update.phase is MotionPhase.STARTED and self.config.active_fps > 0:
            self.feed.set_full_rate(True)
        elif update.phase is MotionPhase.ENDED:
            self.feed.set_full_rate(False)
        self._on_update(update)
