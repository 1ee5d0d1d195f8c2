"""Probe a camera stream once: what it sends (codec, size, rate, keyframe interval, audio).

Used when a camera is added, so that a wrong URL, password or codec is reported at once with a
reason the user can act on, and the user sees what the camera actually sends. Blocking: the
HA layer runs it in an executor. It never decodes, it only demuxes a few seconds of packets.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import TYPE_CHECKING

from .errors import classify_error
from .models import Transport
from .source import SourceOptions, open_stream, pick_streams

if TYPE_CHECKING:
    from fractions import Fraction

    import av
    from av.container import InputContainer
    from av.stream import Stream

# Enough for a 12 s GOP at 25 fps; a camera with longer GOPs gets no keyframe interval.
MAX_PROBE_PACKETS = 300
# Frame rates outside this range are a stream's placeholder values, not real rates.
_PLAUSIBLE_FPS = (0.1, 300.0)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a stream sends, as seen in its first packets."""

    video_codec: str
    """FFmpeg's codec name: "h264" or "hevc"."""
    width: int
    height: int
    fps: float | None
    keyframe_interval_s: float | None
    """Seconds from one keyframe to the next; None when fewer than two were seen in time."""
    audio_codec: str | None
    """FFmpeg's codec name of the first audio stream (e.g. "aac", "pcm_alaw"), or None."""


def probe_source(url: str, transport: Transport, timeout: float) -> ProbeResult:
    """Open ``url`` and read video packets until two keyframes, ``timeout`` or enough packets.

    ``timeout`` bounds the open's socket waits and the time spent reading packets. Raises
    SourceError (redacted message) with kind auth_failed, not_found, unreachable, timeout,
    not_video, unsupported_codec or unknown.
    """
    options = SourceOptions(url=url, transport=transport, stall_timeout=timeout)
    try:
        container = open_stream(options)
    except Exception as err:
        raise classify_error(err, url) from err
    try:
        return _read(container, time.monotonic() + timeout, url)
    finally:
        container.close()


def _read(container: InputContainer, deadline: float, url: str) -> ProbeResult:
    """Describe the container's streams and time its first video packets."""
    streams = pick_streams(container, with_audio=True)  # raises not_video, unsupported_codec
    video = streams[0]
    timing = _VideoTiming(video)
    try:
        for packet in container.demux(video):
            if packet.size == 0:  # demuxer flush packet at the end of a stream
                continue
            timing.add(packet)
            if timing.done or time.monotonic() >= deadline:
                break
    except Exception as err:  # a stream that ends early simply ends demux(), no error
        raise classify_error(err, url) from err
    size = container.streams.video[0]  # the same stream as ``video``, typed as video
    return ProbeResult(
        video_codec=video.codec_context.name,
        width=size.width,
        height=size.height,
        fps=timing.fps(),
        keyframe_interval_s=timing.keyframe_interval(),
        audio_codec=streams[1].codec_context.name if len(streams) > 1 else None,
    )


class _VideoTiming:
    """Frame rate and keyframe interval from the decode timestamps of video packets.

    DTS, not PTS: it increases by one frame per packet even with B-frames, and the distance
    between two keyframes is the same either way. Over RTSP FFmpeg gives a connection's first
    keyframe no timestamps; it is placed one frame before the next packet, as StreamSource does,
    so that the probe need not wait for a third keyframe.
    """

    def __init__(self, stream: Stream) -> None:
        self._tick = float(stream.time_base or 0)
        self._declared = _declared_fps(stream)
        self._packets = 0
        self._first_dts: int | None = None
        self._last_dts: int | None = None
        self._timed = 0  # packets with a DTS
        self._keyframes: list[float] = []
        self._untimed_keyframe = False

    @property
    def done(self) -> bool:
        """Two keyframes are timed, or the packet budget is spent."""
        return len(self._keyframes) >= 2 or self._packets >= MAX_PROBE_PACKETS

    def add(self, packet: av.Packet[Stream]) -> None:
        """Account for one video packet, in decode order."""
        self._packets += 1
        dts = packet.dts if packet.dts is not None else packet.pts
        if dts is None:
            self._untimed_keyframe = packet.is_keyframe
            return
        if self._untimed_keyframe and self._declared and self._tick:
            self._keyframes.append(dts * self._tick - 1 / self._declared)
        self._untimed_keyframe = False
        if self._first_dts is None:
            self._first_dts = dts
        self._last_dts = dts
        self._timed += 1
        if packet.is_keyframe:
            self._keyframes.append(dts * self._tick)

    def fps(self) -> float | None:
        """The measured rate of the packets seen, else the rate the stream declares."""
        if self._first_dts is not None and self._last_dts is not None and self._tick:
            span = (self._last_dts - self._first_dts) * self._tick
            if span > 0 and _plausible(fps := (self._timed - 1) / span):
                return fps
        return self._declared

    def keyframe_interval(self) -> float | None:
        """Seconds between the first two keyframes, if two were seen."""
        if len(self._keyframes) < 2 or self._keyframes[1] <= self._keyframes[0]:
            return None
        return self._keyframes[1] - self._keyframes[0]


def _declared_fps(stream: Stream) -> float | None:
    """The stream's average frame rate, else FFmpeg's guess, when plausible."""
    rates: tuple[Fraction | None, ...] = (
        getattr(stream, "average_rate", None),
        getattr(stream, "guessed_rate", None),
    )
    for rate in rates:
        if rate and _plausible(float(rate)):
            return float(rate)
    return None


def _plausible(fps: float) -> bool:
    return _PLAUSIBLE_FPS[0] <= fps <= _PLAUSIBLE_FPS[1]
