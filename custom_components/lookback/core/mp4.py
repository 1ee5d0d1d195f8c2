"""Mp4Writer: remux one clip's packets into a browser-playable fragmented MP4.

Video is copied as it came from the camera. Audio is copied when a browser can play it from
MP4 (AAC, Opus); G.711 is transcoded to AAC at its own sample rate or dropped, by policy.
Timestamps are rebased so the clip starts at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
import logging
from typing import TYPE_CHECKING, cast

import av

from .models import AudioPolicy, TimedPacket

if TYPE_CHECKING:
    from pathlib import Path

    from av.audio.codeccontext import AudioCodecContext
    from av.audio.stream import AudioStream
    from av.container import OutputContainer
    from av.stream import Stream

_LOGGER = logging.getLogger(__name__)

# frag_keyframe: a fragment per GOP, so a crash loses at most one GOP and the file plays while
# written; empty_moov + default_base_moof: what browsers' MSE and <video> expect.
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
COPY_AUDIO = frozenset({"aac", "opus"})
G711 = frozenset({"pcm_mulaw", "pcm_alaw"})


@dataclass(frozen=True, slots=True)
class Mp4Result:
    """What was written."""

    first_time: float
    last_time: float
    video_frames: int
    audio: str | None  # "copy:aac", "transcoded:pcm_alaw->aac", or None


def audio_plan(codec: str, policy: AudioPolicy) -> str | None:
    """How a clip treats audio of this codec: "copy", "transcode" or None (dropped)."""
    if codec in COPY_AUDIO:
        return "copy"
    if codec in G711 and policy is AudioPolicy.TRANSCODE:
        return "transcode"
    return None


class _G711ToAac:
    """Decodes G.711 and encodes AAC at the same (8 kHz) rate: a few % of a core at most."""

    def __init__(self, out: OutputContainer, source: AudioStream) -> None:
        rate = source.codec_context.sample_rate or 8000
        self.decoder = cast(
            "AudioCodecContext", av.CodecContext.create(source.codec_context.name, "r")
        )
        self.decoder.sample_rate = rate
        self.decoder.layout = source.codec_context.layout.name or "mono"
        self.stream: AudioStream = out.add_stream("aac", rate=rate, layout="mono")
        self.rate = rate
        self.next_pts: int | None = None

    def encode(self, packet: av.Packet[Stream], start_sample: int) -> list[av.Packet[Stream]]:
        """Turn one G.711 packet (starting at ``start_sample`` of the clip) into AAC packets."""
        if self.next_pts is None:
            self.next_pts = start_sample
        out: list[av.Packet[Stream]] = []
        for frame in self.decoder.decode(packet):
            frame.pts = self.next_pts
            frame.time_base = Fraction(1, self.rate)
            self.next_pts += frame.samples
            out.extend(self.stream.encode(frame))
        return out

    def flush(self) -> list[av.Packet[Stream]]:
        """Encode what the AAC encoder still holds."""
        return list(self.stream.encode(None))


class Mp4Writer:
    """One fragmented MP4 file; ``write`` packets in arrival order, then ``close``."""

    def __init__(
        self,
        path: Path,
        video: Stream,
        audio: Stream | None,
        audio_policy: AudioPolicy,
    ) -> None:
        """Open ``path`` for writing with streams modelled on the camera's."""
        self.path = path
        self._out = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        self._video_in = video
        self._video = self._out.add_stream_from_template(video)
        if video.codec_context.name == "hevc":
            self._video.codec_tag = "hvc1"  # browsers play hvc1, not hev1 (in-band params)
        self._audio_in = audio
        self._audio_copy: Stream | None = None
        self._transcoder: _G711ToAac | None = None
        self.audio_description: str | None = None
        if audio is not None:
            self._add_audio(audio, audio_policy)
        self._video_origin: int | None = None
        self._start_time = 0.0
        self._last_time = 0.0
        self._audio_origin: int | None = None
        self.video_frames = 0

    def _add_audio(self, audio: Stream, policy: AudioPolicy) -> None:
        codec = audio.codec_context.name
        plan = audio_plan(codec, policy)
        if plan == "copy":
            self._audio_copy = self._out.add_stream_from_template(audio)
            self.audio_description = f"copy:{codec}"
        elif plan == "transcode":
            assert audio.type == "audio"
            self._transcoder = _G711ToAac(self._out, audio)  # type: ignore[arg-type]
            self.audio_description = f"transcoded:{codec}->aac"
        else:
            _LOGGER.info("%s: audio codec %s dropped (policy %s)", self.path.name, codec, policy)

    @property
    def start_time(self) -> float:
        """Wall time of the first picture written."""
        return self._start_time

    def accepts(self, timed: TimedPacket) -> bool:
        """True when the packet belongs to the streams this file was opened for."""
        return timed.stream is self._video_in or (
            self._audio_in is not None and timed.stream is self._audio_in
        )

    def write(self, timed: TimedPacket) -> None:
        """Mux one packet; the first one written must be a video keyframe."""
        if timed.is_video:
            self._write_video(timed)
        elif self._video_origin is not None and timed.time >= self._start_time:
            self._write_audio(timed)

    def _write_video(self, timed: TimedPacket) -> None:
        src = timed.packet
        assert src.dts is not None
        if self._video_origin is None:
            if not timed.is_keyframe:
                msg = "a clip must start with a keyframe"
                raise ValueError(msg)
            self._video_origin = src.dts
            self._start_time = timed.time
        pts = src.pts if src.pts is not None else src.dts
        self._mux_copy(src, self._video, pts - self._video_origin, src.dts - self._video_origin)
        self.video_frames += 1
        self._last_time = timed.time

    def _write_audio(self, timed: TimedPacket) -> None:
        src = timed.packet
        assert src.pts is not None
        assert src.time_base is not None
        if self._audio_origin is None:
            # Place the first audio packet at its wall-clock offset from the first picture.
            offset = round((timed.time - self._start_time) / src.time_base)
            self._audio_origin = src.pts - offset
        pts = src.pts - self._audio_origin
        if self._audio_copy is not None:
            self._mux_copy(src, self._audio_copy, pts, pts)
        elif self._transcoder is not None:
            rate = self._transcoder.rate
            start_sample = round(pts * src.time_base * rate)
            self._out.mux(self._transcoder.encode(_copy(src), start_sample))

    def _mux_copy(self, src: av.Packet[Stream], stream: Stream, pts: int, dts: int) -> None:
        # A copy, because the ring's packet may go into another clip and mux rescales in place.
        packet = _copy(src)
        packet.pts = pts
        packet.dts = dts
        packet.stream = stream
        self._out.mux(packet)

    def close(self) -> Mp4Result:
        """Flush and close the file."""
        try:
            if self._transcoder is not None:
                self._out.mux(self._transcoder.flush())
        finally:
            self._out.close()
        return Mp4Result(
            self._start_time, self._last_time, self.video_frames, self.audio_description
        )


def _copy(src: av.Packet[Stream]) -> av.Packet[Stream]:
    packet = av.Packet(bytes(src))
    packet.pts = src.pts
    packet.dts = src.dts
    packet.time_base = src.time_base
    packet.duration = src.duration
    packet.is_keyframe = src.is_keyframe
    return packet
