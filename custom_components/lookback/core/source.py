"""StreamSource: one demux thread per camera that turns a URL into timed packets.

The thread never decodes: it demuxes with PyAV, checks timestamps, stamps each packet with its
wall-clock time and hands it to a sink (the camera's ring and recorder). Failures reconnect
with capped exponential back-off; every message is credential-free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import logging
import threading
import time
from typing import TYPE_CHECKING

import av

from .errors import SourceError, SourceErrorKind, classify_error, redact_url
from .models import StreamStats, TimedPacket, Transport
from .timing import Backoff, WallClock

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.stream import Stream

_LOGGER = logging.getLogger(__name__)

SUPPORTED_VIDEO_CODECS = frozenset({"h264", "hevc"})
STATS_WINDOW_S = 5.0

PacketSink = Callable[[TimedPacket], None]
ConnectionListener = Callable[[bool, SourceError | None], None]
StreamsListener = Callable[[Sequence["Stream"]], None]


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read one camera stream."""

    url: str
    transport: Transport = Transport.TCP
    # No answer for this long, while connecting or streaming: reconnect. FFmpeg's socket
    # timeout also bounds each RTSP handshake step, and cameras (and the test simulator with
    # several clients) can take several seconds to answer one: 5 s failed connects, 10 s does not.
    stall_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    # Wrong credentials are retried this seldom: cameras lock an account (or an address)
    # after a few failed logins, and the user's corrected password would then fail too.
    auth_retry: float = 600.0
    with_audio: bool = True

    def av_options(self) -> dict[str, str]:
        """FFmpeg options for this URL's protocol, including its socket timeout.

        FFmpeg's own socket timeouts bound connecting and every read. PyAV's ``timeout=``
        would do the same through an interrupt callback that takes the GIL before every
        socket wait: 11 % of the demux thread's CPU in bench/buffering.py.
        """
        micros = str(round(self.stall_timeout * 1_000_000))
        url = self.url.lower()
        if url.startswith(("rtsp://", "rtsps://")):
            return {"rtsp_transport": self.transport.value, "timeout": micros}
        if "://" in url:  # http(s), HLS and other network protocols
            return {"rw_timeout": micros}
        return {}


def open_container(options: SourceOptions) -> InputContainer:
    """Open the URL with its protocol options."""
    return av.open(options.url, options=options.av_options())


def open_stream(options: SourceOptions) -> InputContainer:
    """Open the URL like ``open_container``; an open that used up the whole timeout is TIMEOUT.

    A socket timeout during the handshake surfaces as "invalid data" or a bare error: had it
    waited the whole timeout, the camera did not answer in time.
    """
    started = time.monotonic()
    try:
        return open_container(options)
    except av.error.FFmpegError as err:
        if time.monotonic() - started >= 0.9 * options.stall_timeout:
            raise SourceError(
                SourceErrorKind.TIMEOUT, f"no answer within {options.stall_timeout:g} s"
            ) from err
        raise


def retry_delay(kind: SourceErrorKind, backoff: Backoff, auth_retry: float) -> float:
    """Seconds to wait before reconnecting after an error of ``kind``."""
    delay = backoff.next_delay()
    return max(delay, auth_retry) if kind is SourceErrorKind.AUTH_FAILED else delay


def pick_streams(container: InputContainer, with_audio: bool) -> list[Stream]:
    """Return the first video stream (required, H.264/H.265) and the first audio stream."""
    if not container.streams.video:
        raise SourceError(SourceErrorKind.NOT_VIDEO, "the source has no video stream")
    video: Stream = container.streams.video[0]
    codec = video.codec_context.name
    if codec not in SUPPORTED_VIDEO_CODECS:
        raise SourceError(
            SourceErrorKind.UNSUPPORTED_CODEC,
            f"video codec {codec} is not supported (H.264 or H.265 needed)",
        )
    streams: list[Stream] = [video]
    if with_audio and container.streams.audio:
        streams.append(container.streams.audio[0])
    return streams


@dataclass(slots=True)
class _StreamState:
    """Timestamp bookkeeping of one demuxed stream."""

    stream: Stream
    is_video: bool
    seconds_per_tick: float  # the stream's time base, once, as a float (a Fraction is slow)
    frame_ticks: int = 0  # one frame's duration in ticks, 0 when the rate is unknown
    clock: WallClock = field(default_factory=WallClock)
    last_dts: int | None = None
    pending: av.Packet[Stream] | None = None
    pending_arrival: float = 0.0
    untimed: bool = False  # the pending packet is the first keyframe, still without DTS

    @classmethod
    def of(cls, stream: Stream) -> _StreamState:
        """State for a stream of a new connection."""
        tick = float(stream.time_base or 0)
        rate = getattr(stream, "guessed_rate", None) if stream.type == "video" else None
        frame_ticks = round(1 / (float(rate) * tick)) if rate and tick else 0
        return cls(stream, stream.type == "video", tick, frame_ticks)


@dataclass(slots=True)
class _Counters:
    """Mutable statistics, written by the demux thread only."""

    connected: bool = False
    reconnects: int = 0
    stalls: int = 0
    dropped: int = 0
    merged: int = 0
    packets: int = 0
    last_packet_time: float | None = None
    last_error: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    bitrate: float | None = None
    keyframe_interval: float | None = None
    last_keyframe_time: float | None = None
    window_start: float | None = None
    window_frames: int = 0
    window_bytes: int = 0


class StreamSource:
    """Demuxes one camera in its own thread and feeds timed packets to a sink."""

    def __init__(
        self,
        name: str,
        options: SourceOptions,
        on_packet: PacketSink,
        on_connection: ConnectionListener | None = None,
        on_streams: StreamsListener | None = None,
    ) -> None:
        """Prepare; nothing connects before ``start``.

        All callbacks run in the demux thread: ``on_streams`` once per connection before its
        first packet, ``on_packet`` per packet, ``on_connection`` when video starts or stops.
        """
        self.name = name
        self.options = options
        self._on_packet = on_packet
        self._on_connection = on_connection
        self._on_streams = on_streams
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._counters = _Counters()
        self._safe_url = redact_url(options.url)
        self._keyframe_seen = False

    @property
    def running(self) -> bool:
        """True while the demux thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the demux thread."""
        if self.running:
            return
        self._quit.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"lookback-source-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to quit and wait for it.

        A flowing stream stops within one packet. A blocked open or read gives up on its
        timeout (FFmpeg's interrupt check was measured to take up to twice the read timeout),
        so the default wait covers the longer of the two.
        """
        self._quit.set()
        if self._thread is not None:
            if timeout is None:  # connecting and each read are bounded by the stall timeout
                timeout = 2 * self.options.stall_timeout + 2.0
            self._thread.join(timeout)
            if self._thread.is_alive():  # pragma: no cover - only with a hung FFmpeg call
                _LOGGER.error("%s: demux thread did not stop in time", self.name)
            self._thread = None

    @property
    def stats(self) -> StreamStats:
        """A consistent-enough snapshot of the counters (ints are read atomically)."""
        c = self._counters
        return StreamStats(
            connected=c.connected,
            fps=c.fps,
            bitrate_bps=c.bitrate,
            keyframe_interval_s=c.keyframe_interval,
            reconnects=c.reconnects,
            stalls=c.stalls,
            dropped_packets=c.dropped,
            merged_packets=c.merged,
            packets=c.packets,
            last_packet_time=c.last_packet_time,
            video_codec=c.codec,
            width=c.width,
            height=c.height,
            last_error=c.last_error,
        )

    # The demux thread ------------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self.options.backoff_initial, self.options.backoff_max)
        last_kind: SourceErrorKind | None = None
        while not self._quit.is_set():
            error = self._read_once()
            if self._quit.is_set():
                break
            if self._counters.connected:  # this connection delivered video
                backoff.reset()
            self._set_disconnected(error)
            if error.kind is not last_kind:  # log a reason once, not at every retry
                _LOGGER.warning("%s: %s (%s); reconnecting", self.name, error, self._safe_url)
                last_kind = error.kind
            else:
                _LOGGER.debug("%s: %s; reconnecting", self.name, error)
            self._counters.reconnects += 1
            self._quit.wait(retry_delay(error.kind, backoff, self.options.auth_retry))
        self._set_disconnected(None)

    def _read_once(self) -> SourceError:
        """Read one connection; return why it ended."""
        try:
            self._read_until_failure()
        except Exception as err:  # noqa: BLE001 - every failure must reconnect
            error = classify_error(err, self.options.url)
        else:
            return SourceError(SourceErrorKind.ENDED, "the stream ended")
        if error.kind is SourceErrorKind.TIMEOUT and self._counters.connected:
            self._counters.stalls += 1
            return SourceError(
                SourceErrorKind.STALLED,
                f"no data for {self.options.stall_timeout:g} s",
            )
        return error

    def _set_disconnected(self, error: SourceError | None) -> None:
        c = self._counters
        if error is not None:
            c.last_error = str(error)
        if c.connected or error is not None:
            c.connected = False
            if self._on_connection is not None:
                self._on_connection(False, error)

    def _read_until_failure(self) -> None:
        """Read one connection until it ends (or raises)."""
        container = open_stream(self.options)
        streams = pick_streams(container, self.options.with_audio)
        states = {s.index: _StreamState.of(s) for s in streams}
        video = streams[0]
        c = self._counters
        c.codec = video.codec_context.name
        c.width = container.streams.video[0].width
        c.height = container.streams.video[0].height
        c.window_start = c.last_keyframe_time = None
        self._keyframe_seen = False
        if self._on_streams is not None:
            self._on_streams(streams)
        for packet in container.demux(streams):
            if self._quit.is_set():
                break
            if packet.size == 0:  # demuxer flush packets at end of stream
                continue
            self._accept(packet, states[packet.stream_index])
        for state in states.values():  # the stream ended: nothing held back is lost
            self._flush(state)
        # The container is not closed here: buffered packets keep it (and its codec data)
        # alive, and it closes when the last of them is released.

    def _accept(self, packet: av.Packet[Stream], state: _StreamState) -> None:
        """Check DTS order; hold one packet back so that split access units can be merged."""
        dts = packet.dts
        if state.pending is not None and dts == state.last_dts and not state.untimed:
            # Two packets of one access unit (a multi-slice IDR with in-band parameter sets
            # arrives like this from real cameras): join them, MP4 needs increasing DTS.
            state.pending = _join(state.pending, packet)
            self._counters.merged += 1
            return
        if (
            dts is None
            and state.last_dts is None
            and state.pending is None
            and state.is_video
            and packet.is_keyframe
            and state.frame_ticks
        ):
            # Over RTSP FFmpeg gives a connection's first IDR no timestamps: it gets them
            # from the next packet, one frame earlier, instead of losing a whole GOP.
            state.pending, state.untimed = packet, True
            state.pending_arrival = time.time()
            return
        if dts is None or (state.last_dts is not None and dts <= state.last_dts):
            self._counters.dropped += 1
            return
        if state.untimed and state.pending is not None:
            state.pending.dts = state.pending.pts = dts - state.frame_ticks
            state.untimed = False
        self._flush(state)
        state.pending = packet
        state.pending_arrival = time.time()
        state.last_dts = dts

    def _flush(self, state: _StreamState) -> None:
        packet = state.pending
        if packet is None:
            return
        state.pending = None
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:  # a first keyframe the stream ended before timing
            self._counters.dropped += 1
            return
        media_time = ts * state.seconds_per_tick
        wall = state.clock.to_wall(media_time, state.pending_arrival)
        keyframe = packet.is_keyframe
        if not self._keyframe_seen:  # a connection is usable from its first keyframe on
            if not (state.is_video and keyframe):
                return
            self._keyframe_seen = True
        timed = TimedPacket(packet, state.stream, wall, keyframe, state.is_video, packet.size)
        self._count(timed, media_time, state.pending_arrival)
        self._on_packet(timed)
        if not self._counters.connected:  # up once a keyframe is usable (and in the ring)
            self._set_connected()

    def _set_connected(self) -> None:
        c = self._counters
        c.connected = True
        c.last_error = None
        _LOGGER.info("%s: connected to %s (%s)", self.name, self._safe_url, c.codec)
        if self._on_connection is not None:
            self._on_connection(True, None)

    def _count(self, timed: TimedPacket, media_time: float, arrival: float) -> None:
        """Update statistics.

        Rates use the stream's own clock: the burst of packets at connect would inflate rates
        measured by arrival.
        """
        c = self._counters
        c.packets += 1
        c.last_packet_time = arrival
        c.window_bytes += timed.size
        if not timed.is_video:
            return
        if timed.is_keyframe:
            if c.last_keyframe_time is not None and media_time > c.last_keyframe_time:
                c.keyframe_interval = media_time - c.last_keyframe_time
            c.last_keyframe_time = media_time
        if c.window_start is None or media_time < c.window_start:
            if timed.is_keyframe:
                c.window_start, c.window_frames, c.window_bytes = media_time, 0, 0
            return
        c.window_frames += 1
        span = media_time - c.window_start
        # Windows end on a keyframe, so they hold whole GOPs: a window with one keyframe more
        # than the next would make a steady stream's bitrate swing.
        if timed.is_keyframe and span >= STATS_WINDOW_S:
            c.fps = c.window_frames / span
            c.bitrate = c.window_bytes * 8 / span
            c.window_start, c.window_frames, c.window_bytes = media_time, 0, 0


def _join(first: av.Packet[Stream], second: av.Packet[Stream]) -> av.Packet[Stream]:
    """One packet carrying both payloads with the first one's timing."""
    joined = av.Packet(bytes(first) + bytes(second))
    joined.pts = first.pts
    joined.dts = first.dts
    joined.time_base = first.time_base
    joined.duration = first.duration
    joined.is_keyframe = first.is_keyframe or second.is_keyframe
    return joined
