"""Decode a written clip and report what a player would see."""

from __future__ import annotations

from dataclasses import dataclass
import itertools
from pathlib import Path

import av


@dataclass(frozen=True, slots=True)
class ClipReport:
    video_codec: str
    codec_tag: str
    audio_codec: str | None
    first_packet_is_keyframe: bool
    first_pts: float
    video_packets: int
    decoded_frames: int
    dts_steps: frozenset[int]
    duration: float
    audio_packets: int

    @property
    def dts_gap_free(self) -> bool:
        """No frame is missing: every DTS step is positive and under 1.5 frame durations.

        Steps are not all equal on real streams: RTP clocks are 90 kHz and servers round each
        frame's time (6000 and 6001 both mean one frame at 15 fps), and FFmpeg shifts a
        stream's timestamps by a few ms once RTCP syncs it to the audio. A lost frame would
        show as a step of two frames or more.
        """
        frame = min(self.dts_steps)
        return frame > 0 and max(self.dts_steps) < 1.5 * frame


def inspect_clip(path: Path) -> ClipReport:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        dts: list[int] = []
        first_key: bool | None = None
        first_pts = 0.0
        decoded = 0
        audio_packets = 0
        last_pts = 0.0
        streams = [video] if audio is None else [video, audio]
        for packet in container.demux(streams):
            if packet.size == 0:
                continue
            if packet.stream.type == "audio":
                audio_packets += 1
                continue
            assert packet.dts is not None
            assert packet.pts is not None
            assert packet.time_base is not None
            if first_key is None:
                first_key = packet.is_keyframe
                first_pts = float(packet.pts * packet.time_base)
            dts.append(packet.dts)
            last_pts = max(last_pts, float(packet.pts * packet.time_base))
            decoded += len(packet.decode())
        decoded += len(video.codec_context.decode(None))
        steps = frozenset(b - a for a, b in itertools.pairwise(dts))
        return ClipReport(
            video_codec=video.codec_context.name,
            codec_tag=video.codec_context.codec_tag,
            audio_codec=audio.codec_context.name if audio else None,
            first_packet_is_keyframe=bool(first_key),
            first_pts=first_pts,
            video_packets=len(dts),
            decoded_frames=decoded,
            dts_steps=steps,
            duration=last_pts - first_pts,
            audio_packets=audio_packets,
        )


def write_audio_only(path: Path) -> None:
    """An MP4 with one second of silent AAC and no video."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000, layout="mono")
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate = 8000
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def write_mjpeg(path: Path) -> None:
    """A tiny MJPEG AVI: video, but not a codec an NVR can record."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
        frame = av.VideoFrame(64, 64, "yuvj420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
