"""Salvage the readable part of an unfinished (crash-truncated) fragmented MP4."""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, cast

import av

from .frames import jpeg_from_frame
from .mp4 import MP4_OPTIONS

if TYPE_CHECKING:
    from pathlib import Path

    from av.video.stream import VideoStream

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RemuxResult:
    """What could be read back."""

    duration: float
    video_frames: int
    thumbnail: bytes | None


def remux_readable(source: Path, target: Path) -> RemuxResult | None:
    """Copy every readable packet of ``source`` into ``target``; None when nothing is usable.

    A fragmented MP4 cut off mid-fragment reads fine up to the last complete fragment; the
    demuxer's error at the cut ends the copy instead of failing it.
    """
    try:
        src = av.open(str(source))
    except (av.error.FFmpegError, OSError) as err:
        _LOGGER.debug("cannot open %s: %s", source.name, err)
        return None
    try:
        if not src.streams.video:
            return None
        return _copy_streams(src, source, target)
    finally:
        src.close()


def _copy_streams(
    src: av.container.InputContainer, source: Path, target: Path
) -> RemuxResult | None:
    video = src.streams.video[0]
    streams = [video, *src.streams.audio[:1]]
    dst = av.open(str(target), "w", format="mp4", options=MP4_OPTIONS)
    mapping = {s.index: dst.add_stream_from_template(s) for s in streams}
    if video.codec_context.name == "hevc":
        mapping[video.index].codec_tag = "hvc1"
    file_size = source.stat().st_size
    frames = 0
    last = 0.0
    thumbnail: bytes | None = None
    try:
        for packet in src.demux(streams):
            if packet.dts is None or packet.size == 0:
                continue
            if packet.pos is not None and packet.pos + packet.size >= file_size:
                break  # the sample reaching the cut may be incomplete: one frame is a fair price
            if packet.stream.type == "video":
                if frames == 0 and not packet.is_keyframe:
                    continue
                if thumbnail is None:
                    thumbnail = _thumbnail(cast("av.Packet[VideoStream]", packet))
                frames += 1
                assert packet.time_base is not None
                last = float(
                    (packet.pts if packet.pts is not None else packet.dts) * packet.time_base
                )
            packet.stream = mapping[packet.stream.index]
            dst.mux(packet)
    except av.error.FFmpegError as err:
        _LOGGER.debug("%s readable up to a cut: %s", target.name, err)
    finally:
        dst.close()
    if frames == 0:
        target.unlink(missing_ok=True)
        return None
    return RemuxResult(last, frames, thumbnail)


def probe_clip(path: Path) -> RemuxResult:
    """Duration and picture count of a clip, read without decoding (zeros if unreadable)."""
    frames = 0
    last = 0.0
    try:
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                if packet.dts is None or packet.time_base is None:
                    continue
                frames += 1
                last = max(last, float(packet.dts * packet.time_base))
    except (av.error.FFmpegError, OSError, IndexError) as err:
        _LOGGER.debug("cannot probe %s: %s", path.name, err)
    return RemuxResult(last, frames, None)


def _thumbnail(packet: av.Packet[VideoStream]) -> bytes | None:
    try:
        decoded = packet.decode()
    except av.error.FFmpegError:
        return None
    return jpeg_from_frame(decoded[0]) if decoded else None
