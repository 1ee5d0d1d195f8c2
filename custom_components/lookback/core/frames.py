"""Decode single keyframes and turn them into JPEG stills (thumbnails, camera images)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, cast

import av
from PIL import Image

if TYPE_CHECKING:
    from av.stream import Stream
    from av.video.codeccontext import VideoCodecContext
    from av.video.frame import VideoFrame

    from .models import TimedPacket


def new_decoder(stream: Stream) -> VideoCodecContext:
    """A decoder of its own for a demuxed video stream (the demuxer's context is not touched).

    One thread: every camera has one, and a small box has two cores for all of them.
    """
    source = stream.codec_context
    decoder = cast("VideoCodecContext", av.CodecContext.create(source.name, "r"))
    if source.extradata:
        decoder.extradata = source.extradata
    decoder.thread_count = 1
    return decoder


def decode_keyframe(timed: TimedPacket) -> VideoFrame:
    """Decode one keyframe with a decoder of its own.

    Raises ``av.error.FFmpegError`` or ``ValueError`` when the packet yields no picture.
    """
    decoder = new_decoder(timed.stream)
    frames = [*decoder.decode(timed.packet), *decoder.decode(None)]
    if not frames:
        msg = "keyframe decoded to no picture"
        raise ValueError(msg)
    return frames[0]


def jpeg_from_frame(frame: VideoFrame, max_width: int = 640, quality: int = 80) -> bytes:
    """Encode a frame as JPEG, scaled down (never up) to ``max_width``."""
    width = min(max_width, frame.width)
    height = max(2, round(frame.height * width / frame.width))
    image = Image.fromarray(frame.reformat(width, height, "rgb24").to_ndarray())
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def jpeg_from_keyframe(timed: TimedPacket, max_width: int = 640) -> bytes:
    """Decode a keyframe packet and return it as a JPEG."""
    return jpeg_from_frame(decode_keyframe(timed), max_width)


def image_as_jpeg(data: bytes, content_type: str, quality: int = 85) -> bytes:
    """A picture that came with an alert, as JPEG: a JPEG as it is, a PNG re-encoded.

    Raises ValueError (Pillow's errors included) for a PNG that does not decode.
    """
    if content_type == "image/jpeg":
        return data
    try:
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=quality)
    except OSError as err:  # Pillow's "cannot identify" and truncated-file errors
        raise ValueError(str(err)) from err
    return out.getvalue()
