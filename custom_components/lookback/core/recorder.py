"""ClipRecorder: turns a camera's events into clip files, off the demux thread.

The demux thread only appends to the ring and, while an event is open, queues the packet.
A writer thread takes the ring's pre-roll and the queued live packets, in order, and writes
them with Mp4Writer. Snapshot and go-live happen under the ring's lock, and packets carry a
sequence number, so the pre-roll and live parts neither overlap nor leave a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass, field
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

import av

from .frames import jpeg_from_keyframe
from .models import AudioPolicy, ClipInfo, Event, TimedPacket
from .mp4 import Mp4Writer
from .recorder_messages import STOP, End, Extend, Live, NewStreams, Start, Thumbnail
from .storage import ClipPaths, ClipStore, clip_id_for

if TYPE_CHECKING:
    from av.stream import Stream

    from .ring import GopRing

_LOGGER = logging.getLogger(__name__)

ClipListener = Callable[[ClipInfo], None]
FailureListener = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RecorderOptions:
    """How clips are cut."""

    max_clip_seconds: float = 600.0  # longer events roll over to a new file at a keyframe
    audio_policy: AudioPolicy = AudioPolicy.TRANSCODE
    close_grace: float = 10.0  # an ended event with no packets closes after this long
    thumbnail_width: int = 640


@dataclass(slots=True)
class _Recording:
    """The writer thread's view of the event being recorded."""

    start: Start
    event: dict[str, Any]
    end_time: float
    streams: Sequence[Stream]
    ended: bool = False
    part: int = 0
    writer: Mp4Writer | None = None
    paths: ClipPaths | None = None
    thumb: TimedPacket | None = None
    picture: bytes | None = None  # set_thumbnail's JPEG: wins over the keyframe at the trigger
    broken: bool = False  # a write failed: the rest of the event is skipped
    last_packet_at: float = field(default_factory=time.time)


class ClipRecorder:
    """Records one camera's events; one recording at a time."""

    def __init__(
        self,
        camera_id: str,
        ring: GopRing,
        store: ClipStore,
        options: RecorderOptions,
        on_clip: ClipListener,
        on_failure: FailureListener | None = None,
    ) -> None:
        """Wire to the camera's ring and the NVR's store; listeners run in the writer thread."""
        self.camera_id = camera_id
        self.ring = ring
        self.store = store
        self.options = options
        self._on_clip = on_clip
        self._on_failure = on_failure
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._seq = 0
        self._live = False
        self._wanted: str | None = None
        self._streams: Sequence[Stream] = ()
        self._thread: threading.Thread | None = None
        self.failed_writes = 0
        self.last_failure: str | None = None
        self.skipped_packets = 0  # packets that could not start a file (no keyframe yet)

    # Demux thread ----------------------------------------------------------------------

    def on_streams(self, streams: Sequence[Stream]) -> None:
        """A new connection: its packets restart timestamps, so old ones are forgotten."""
        self.ring.clear()
        with self.ring.lock:
            self._streams = streams
            if self._live:
                self._queue.put(NewStreams(streams))

    def on_packet(self, timed: TimedPacket) -> None:
        """Buffer the packet, and queue it while an event is open."""
        with self.ring.lock:
            self.ring.append(timed)
            self._seq += 1
            if self._live:
                self._queue.put(Live(self._seq, timed))

    # Event loop ------------------------------------------------------------------------

    def start_event(self, event: Event) -> None:
        """Begin recording ``event`` from the keyframe at or before its trigger - pre-roll."""
        self._ensure_thread()
        with self.ring.lock:
            packets = self.ring.snapshot_from(event.first_trigger_time - event.pre_roll)
            self._live = True
            self._wanted = event.event_id
            self._queue.put(
                Start(
                    event=event.as_dict(),
                    event_id=event.event_id,
                    trigger_time=event.first_trigger_time,
                    pre_roll=event.pre_roll,
                    end_time=event.end_time,
                    packets=packets,
                    streams=self._streams,
                    upto=self._seq,
                )
            )

    def extend_event(self, event: Event) -> None:
        """A retrigger moved the event's end."""
        self._queue.put(Extend(event.event_id, event.end_time, event.as_dict()))

    def set_thumbnail(self, event_id: str, jpeg: bytes) -> None:
        """Use ``jpeg`` as the thumbnail of the event's clips (the best detection, drawn)."""
        self._queue.put(Thumbnail(event_id, jpeg))

    def end_event(self, event: Event) -> None:
        """The event ended: close once packets pass its end time (or none come)."""
        self._queue.put(End(event.event_id))

    def stop(self, timeout: float = 15.0) -> None:
        """Close any open clip and stop the thread."""
        if self._thread is None:
            return
        self._queue.put(STOP)
        self._thread.join(timeout)
        self._thread = None

    @property
    def recording(self) -> bool:
        """True while an event is being recorded."""
        return self._live

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name=f"lookback-recorder-{self.camera_id}", daemon=True
            )
            self._thread.start()

    # Writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        rec: _Recording | None = None
        while True:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                item = None
            if item is STOP:
                if rec is not None:
                    self._close(rec, final=True)
                return
            rec = self._handle(rec, item)
            if (
                rec is not None
                and rec.ended
                and time.time() - rec.last_packet_at > (self.options.close_grace)
            ):
                _LOGGER.debug("%s: no packets after the event's end; closing", self.camera_id)
                self._close(rec, final=True)
                rec = None

    def _handle(self, rec: _Recording | None, item: object) -> _Recording | None:
        if isinstance(item, Live):
            if rec is None or item.seq <= rec.start.upto:
                return rec  # no event, or already written as part of the pre-roll
            rec.last_packet_at = time.time()
            if rec.ended and item.timed.time > rec.end_time:
                self._close(rec, final=True)
                return None
            self._write(rec, item.timed)
            return rec
        if isinstance(item, Start):
            if rec is not None:
                self._close(rec, final=True)
            rec = _Recording(item, item.event, item.end_time, item.streams)
            for timed in item.packets:
                self._write(rec, timed)
            return rec
        if rec is None or (
            isinstance(item, (Extend, End, Thumbnail)) and item.event_id != rec.start.event_id
        ):
            return rec
        if isinstance(item, Extend):
            rec.end_time = max(rec.end_time, item.end_time)
            rec.event = item.event
        elif isinstance(item, Thumbnail):
            rec.picture = item.jpeg
        elif isinstance(item, End):
            rec.ended = True
            rec.last_packet_at = time.time()
        elif isinstance(item, NewStreams):
            if rec.writer is not None:  # a reconnect: the next keyframe opens a new part
                self._close(rec, final=False)
            rec.streams = item.streams
        return rec

    def _write(self, rec: _Recording, timed: TimedPacket) -> None:
        if rec.broken:
            self.skipped_packets += 1
            return
        writer = rec.writer
        if (
            writer is not None
            and timed.is_video
            and timed.is_keyframe
            and timed.time - writer.start_time >= self.options.max_clip_seconds
        ):
            self._close(rec, final=False)  # roll over: this keyframe starts the next part
            writer = None
        if writer is None:
            if not (timed.is_video and timed.is_keyframe):
                self.skipped_packets += 1
                return
            writer = self._open(rec, timed)
            if writer is None:
                return
        if not writer.accepts(timed):
            self.skipped_packets += 1
            return
        if timed.is_video and timed.is_keyframe:
            self._consider_thumbnail(rec, timed)
        try:
            writer.write(timed)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._failed(rec, f"writing {writer.path.name} failed: {err}")

    def _consider_thumbnail(self, rec: _Recording, timed: TimedPacket) -> None:
        """Keep the keyframe nearest the trigger."""
        trigger = rec.start.trigger_time
        if rec.thumb is None or abs(timed.time - trigger) < abs(rec.thumb.time - trigger):
            rec.thumb = timed

    def _open(self, rec: _Recording, keyframe: TimedPacket) -> Mp4Writer | None:
        rec.part += 1
        clip_id = clip_id_for(rec.start.event_id, rec.part)
        video = keyframe.stream
        audio = next((s for s in rec.streams if s.type == "audio"), None)
        try:
            paths = self.store.paths_for(self.camera_id, clip_id, keyframe.time)
            self.store.begin(paths, self._info(rec, clip_id, keyframe.time, keyframe.time, 0))
            rec.writer = Mp4Writer(paths.part, video, audio, self.options.audio_policy)
        except (av.error.FFmpegError, OSError) as err:
            self._failed(rec, f"cannot open clip {clip_id}: {err}")
            return None
        rec.paths = paths
        _LOGGER.debug(
            "%s: recording %s (audio %s)",
            self.camera_id,
            paths.mp4.name,
            rec.writer.audio_description,
        )
        return rec.writer

    def _info(
        self,
        rec: _Recording,
        clip_id: str,
        start: float,
        end: float,
        frames: int,
        audio: str | None = None,
        status: str = "recording",
    ) -> ClipInfo:
        return ClipInfo(
            clip_id=clip_id,
            event_id=rec.start.event_id,
            camera_id=self.camera_id,
            path="",
            thumbnail=None,
            start_time=start,
            end_time=end,
            trigger_time=rec.start.trigger_time,
            pre_roll=rec.start.pre_roll,
            size=0,
            video_frames=frames,
            audio=audio,
            status=status,
            part=rec.part,
            event=rec.event,
        )

    def _failed(self, rec: _Recording, reason: str) -> None:
        """Writing failed (disk full, I/O error): keep what is written, skip the rest.

        Logged once per event; the ``.part`` file left behind, if any, is salvaged by the
        store's recovery at the next start.
        """
        self.failed_writes += 1
        self.last_failure = reason
        _LOGGER.error(
            "%s: %s; the rest of event %s is not recorded",
            self.camera_id,
            reason,
            rec.start.event_id,
        )
        rec.broken = True
        writer, paths = self._take_file(rec)
        if writer is not None and paths is not None:
            # The file may end inside a fragment: it stays a .part for recovery to salvage.
            with contextlib.suppress(av.error.FFmpegError, OSError):
                writer.close()
            self.store.release(paths)
        if self._on_failure is not None:
            self._on_failure(reason)

    @staticmethod
    def _take_file(rec: _Recording) -> tuple[Mp4Writer | None, ClipPaths | None]:
        """Detach the open file (if any) from the recording."""
        writer, paths = rec.writer, rec.paths
        rec.writer = rec.paths = None
        return writer, paths

    def _close(self, rec: _Recording, *, final: bool) -> None:
        """Close the current file (if any); ``final`` also ends the recording."""
        writer, paths = self._take_file(rec)
        if writer is not None and paths is not None:
            self._finish_file(rec, writer, paths)
        rec.thumb = None
        if final:
            with self.ring.lock:
                if self._wanted == rec.start.event_id:
                    self._live = False
                    self._wanted = None

    def _finish_file(self, rec: _Recording, writer: Mp4Writer, paths: ClipPaths) -> None:
        try:
            result = writer.close()
        except (av.error.FFmpegError, OSError) as err:
            # The .part file stays: recovery at the next start salvages what it holds.
            self.failed_writes += 1
            _LOGGER.error("%s: closing %s failed: %s", self.camera_id, paths.part.name, err)
            return
        try:
            jpeg = rec.picture  # the best detection, drawn; else the keyframe at the trigger
            if jpeg is None and rec.thumb is not None:
                jpeg = jpeg_from_keyframe(rec.thumb, self.options.thumbnail_width)
            if jpeg is not None:
                self.store.save_thumbnail(paths, jpeg)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            _LOGGER.warning("%s: no thumbnail for %s: %s", self.camera_id, paths.mp4.name, err)
        clip_id = clip_id_for(rec.start.event_id, rec.part)
        info = self._info(
            rec,
            clip_id,
            result.first_time,
            result.last_time,
            result.video_frames,
            result.audio,
            "complete",
        )
        try:
            info = self.store.finish(paths, info)
        except OSError as err:
            self.failed_writes += 1
            _LOGGER.error("%s: finishing %s failed: %s", self.camera_id, paths.mp4.name, err)
            return
        self._on_clip(info)
