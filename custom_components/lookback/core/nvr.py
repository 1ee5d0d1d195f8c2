"""Nvr and CameraPipeline: wire source, ring, recorder and event tracker; async start/stop.

Threads (demux, writer) hand their results to the event loop with ``call_soon_threadsafe``;
listeners therefore always run on the loop and may touch loop-only state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import logging
import time
from typing import TYPE_CHECKING, Protocol

from .analysis import AnalysisWorker
from .events import EventListeners, EventTracker
from .frame_feed import FrameFeed
from .frames import jpeg_from_keyframe
from .motion_debug import debug_jpeg
from .recorder import ClipRecorder, RecorderOptions
from .ring import GopRing
from .source import SourceOptions, StreamSource
from .storage import ClipStore, RecoveryReport, RetentionLimits

if TYPE_CHECKING:
    from av.stream import Stream

    from .errors import SourceError
    from .models import CameraConfig, ClipInfo, Event, StreamStats, TimedPacket, Trigger
    from .motion_state import MotionUpdate

_LOGGER = logging.getLogger(__name__)

# Triggers reach the tracker a little after they happen (a mail is read, a loop is busy):
# the ring keeps this much more than the pre-roll so the keyframe before it is still there.
RING_MARGIN_S = 2.0


class PipelineListener(Protocol):
    """What the HA layer hears from a camera; every call runs on the event loop."""

    def event_started(self, event: Event) -> None:
        """An event opened."""

    def event_ended(self, event: Event) -> None:
        """An event's post-roll ran out."""

    def clip_saved(self, clip: ClipInfo) -> None:
        """A clip file is complete in the store."""

    def connection_changed(self, connected: bool, error: SourceError | None) -> None:
        """The stream came up or went down."""

    def write_failed(self, reason: str) -> None:
        """A clip could not be written (disk full, I/O error); what was written is kept."""

    def motion_changed(self, update: MotionUpdate) -> None:
        """Motion started, went on (a moving frame) or ended."""

    def detect_connection_changed(self, connected: bool, error: SourceError | None) -> None:
        """The detect (sub-)stream came up or went down (cameras with one only)."""


class CameraPipeline:
    """Everything one camera runs: StreamSource -> GopRing -> ClipRecorder, EventTracker.

    Video packets also go to a FrameFeed for motion analysis: the main stream's, or those of a
    second StreamSource on the detect (sub-)stream when the camera has one.
    """

    def __init__(
        self,
        config: CameraConfig,
        store: ClipStore,
        loop: asyncio.AbstractEventLoop,
        listener: PipelineListener,
    ) -> None:
        """Build the pieces; nothing runs before ``async_start``."""
        self.config = config
        self._loop = loop
        self._listener = listener
        self.ring = GopRing(config.pre_roll + RING_MARGIN_S, config.ring_max_bytes)
        self.recorder = ClipRecorder(
            config.camera_id,
            self.ring,
            store,
            RecorderOptions(
                max_clip_seconds=config.max_clip_seconds, audio_policy=config.audio_policy
            ),
            self._clip_saved_in_thread,
            self._write_failed_in_thread,
        )
        self.feed = FrameFeed()
        self.analysis = AnalysisWorker(
            config.camera_id, config.motion, self.feed, self._motion_in_thread
        )
        self.detect_source: StreamSource | None = None
        if config.detect_url:
            self.detect_source = StreamSource(
                f"{config.camera_id}-detect",
                SourceOptions(
                    url=config.detect_url,
                    transport=config.transport,
                    stall_timeout=config.stall_timeout,
                    with_audio=False,
                ),
                on_packet=self.feed.put,
                on_connection=self._detect_connection_in_thread,
            )
        self.source = StreamSource(
            config.camera_id,
            SourceOptions(
                url=config.url, transport=config.transport, stall_timeout=config.stall_timeout
            ),
            on_packet=self.recorder.on_packet if self.detect_source else self._record_and_analyse,
            on_connection=self._connection_in_thread,
            on_streams=self._streams_in_thread,
        )
        self.tracker = EventTracker(
            config.camera_id,
            config.pre_roll,
            config.post_roll,
            EventListeners(self._event_started, self.recorder.extend_event, self._event_ended),
            loop,
        )

    async def async_start(self) -> None:
        """Start the threads (returns at once; connecting happens in the demux threads)."""
        self.analysis.start()
        self.source.start()
        if self.detect_source is not None:
            self.detect_source.start()

    async def async_stop(self) -> None:
        """End any event, close its clip, stop both threads."""
        self.tracker.close()
        await self._loop.run_in_executor(None, self._stop_threads)

    def _stop_threads(self) -> None:
        if self.detect_source is not None:
            self.detect_source.stop()
        self.source.stop()
        self.analysis.stop()
        self.recorder.stop()

    @property
    def max_pre_roll(self) -> float:
        """The longest pre-roll the ring can give (its seconds before the newest keyframe)."""
        return self.config.pre_roll + RING_MARGIN_S

    def trigger(
        self, trigger: Trigger, post_roll: float | None = None, pre_roll: float | None = None
    ) -> Event:
        """Start or extend this camera's event (``pre_roll`` at most ``max_pre_roll``)."""
        if pre_roll is not None:
            pre_roll = min(pre_roll, self.max_pre_roll)
        return self.tracker.trigger(trigger, post_roll, pre_roll)

    def extend(self, time_: float) -> None:
        """Keep an open event going (a trigger that goes on, such as motion)."""
        self.tracker.extend(time_)

    def set_motion_enabled(self, enabled: bool) -> None:
        """Run motion detection or not (off: no decoding at all)."""
        self.analysis.set_enabled(enabled)

    def motion_debug_jpeg(self) -> bytes | None:
        """The last analysed frame's tuning picture; blocking, run in an executor."""
        debug = self.analysis.detector.last_debug
        return None if debug is None else debug_jpeg(debug, self.config.motion)

    def still_jpeg(self, max_width: int = 640) -> tuple[float, bytes] | None:
        """The newest keyframe in the ring as (its time, JPEG); blocking, run in an executor."""
        keyframe = self.ring.latest_keyframe()
        if keyframe is None:
            return None
        return keyframe.time, jpeg_from_keyframe(keyframe, max_width)

    @property
    def stats(self) -> StreamStats:
        """The stream's statistics."""
        return self.source.stats

    def _event_started(self, event: Event) -> None:
        self.recorder.start_event(event)
        self._listener.event_started(event)

    def _event_ended(self, event: Event) -> None:
        self.recorder.end_event(event)
        self._listener.event_ended(event)

    # Called in threads: hand over to the loop.

    def _record_and_analyse(self, timed: TimedPacket) -> None:
        self.recorder.on_packet(timed)
        self.feed.put(timed)

    def _motion_in_thread(self, update: MotionUpdate) -> None:
        self._loop.call_soon_threadsafe(self._listener.motion_changed, update)

    def _detect_connection_in_thread(self, connected: bool, error: SourceError | None) -> None:
        if not connected:
            self.feed.clear()
        self._loop.call_soon_threadsafe(self._listener.detect_connection_changed, connected, error)

    def _streams_in_thread(self, streams: Sequence[Stream]) -> None:
        self.recorder.on_streams(streams)

    def _connection_in_thread(self, connected: bool, error: SourceError | None) -> None:
        if not connected:  # pre-roll from before an outage is no pre-roll for a new event
            self.ring.clear()
            if self.detect_source is None:
                self.feed.clear()
        self._loop.call_soon_threadsafe(self._listener.connection_changed, connected, error)

    def _clip_saved_in_thread(self, clip: ClipInfo) -> None:
        self._loop.call_soon_threadsafe(self._listener.clip_saved, clip)

    def _write_failed_in_thread(self, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._listener.write_failed, reason)


class Nvr:
    """The clip store and every camera's pipeline."""

    def __init__(self, store: ClipStore, loop: asyncio.AbstractEventLoop) -> None:
        """Hold the store; cameras are added with ``add_camera``."""
        self.store = store
        self._loop = loop
        self.cameras: dict[str, CameraPipeline] = {}

    async def async_prepare(self) -> RecoveryReport:
        """Check the folder (its parent must exist), finish what a crash left, rebuild the index.

        All file work runs in an executor.
        """
        await self._loop.run_in_executor(None, self.store.check_writable, False)
        report = await self._loop.run_in_executor(None, self.store.recover)
        _LOGGER.info(
            "storage ready: %d clips indexed, %d recovered, %d removed",
            report.indexed,
            report.finalised,
            report.removed,
        )
        return report

    async def async_add_camera(
        self, config: CameraConfig, listener: PipelineListener
    ) -> CameraPipeline:
        """Start a camera."""
        self.store.set_retention(
            config.camera_id, RetentionLimits(config.retention_days, config.retention_bytes)
        )
        pipeline = CameraPipeline(config, self.store, self._loop, listener)
        self.cameras[config.camera_id] = pipeline
        await pipeline.async_start()
        return pipeline

    async def async_remove_camera(self, camera_id: str) -> None:
        """Stop one camera (its open clip is closed); the others go on recording."""
        if (pipeline := self.cameras.pop(camera_id, None)) is not None:
            await pipeline.async_stop()

    async def async_enforce_retention(self) -> list[ClipInfo]:
        """Apply age and size limits now (file deletes run in an executor)."""
        return await self._loop.run_in_executor(None, self.store.enforce_retention, time.time())

    async def async_stop(self) -> None:
        """Stop every camera; returns when no thread of ours is left."""
        await asyncio.gather(*(p.async_stop() for p in self.cameras.values()))
        self.cameras.clear()
