"""Camera-like test media, generated with PyAV at test time.

Frames are built from the photographs shipped inside the scikit-image wheel (the files behind
``skimage.data.astronaut()`` and friends, read with Pillow straight from the wheel's data folder:
importing ``skimage.data`` costs over a second and adds nothing). Real photographs give the
encoder real detail, so I-frames have camera sizes (1080p H.264 at the default bitrate: about
120-220 KB) instead of the few KB a flat synthetic pattern would give.

The scene is a fixed background; during each motion interval a masked photo crop of a person
crosses it from left to right, entering at the interval's start and leaving at its end. Outside
the intervals the picture is static (plus optional sensor noise). Encoding is camera-like: fixed
GOP (keyint = min-keyint, no scene-cut keyframes), no B-frames, one slice per frame unless asked,
bitrate-capped rate control (VBV of one second), so a static scene still costs bits per P-frame.

Files are cached: the name is derived from every parameter, written atomically, and reused when
present, so a session asks for the same clip as often as it likes and encodes it once.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
import hashlib
import importlib.util
import os
from pathlib import Path
import threading
from typing import Final, Literal, Protocol, TypedDict, Unpack, get_args

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

VideoCodec = Literal["h264", "h265"]
AudioCodec = Literal["aac", "alaw", "mulaw"]
Interval = tuple[float, float]
U8 = npt.NDArray[np.uint8]

VIDEO_ENCODERS: Final[dict[VideoCodec, str]] = {"h264": "libx264", "h265": "libx265"}
# Encoder name and sample rate: AAC at 16 kHz and G.711 at 8 kHz, mono, as cameras send them.
AUDIO_ENCODERS: Final[dict[AudioCodec, tuple[str, int]]] = {
    "aac": ("aac", 16000),
    "alaw": ("pcm_alaw", 8000),
    "mulaw": ("pcm_mulaw", 8000),
}
# Photographs usable as a single-picture background (file names in skimage's data folder).
PHOTOS: Final = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "grass.png",
    "hubble_deep_field.jpg",
    "motorcycle_left.png",
    "rocket.jpg",
)
# The default background: a 3x2 mosaic, busy enough for camera-sized I-frames.
MOSAIC: Final = (
    "rocket.jpg",
    "coffee.png",
    "motorcycle_left.png",
    "chelsea.png",
    "hubble_deep_field.jpg",
    "grass.png",
)
OBJECT_PHOTO: Final = "astronaut.png"
# Crop box (left, top, right, bottom) of the person in OBJECT_PHOTO.
OBJECT_CROP: Final = (90, 0, 430, 512)
NOISE_FIELDS: Final = 8


class ClipOptions(TypedDict, total=False):
    """Keyword arguments of make_clip (for typed factories such as the make_media fixture)."""

    codec: VideoCodec
    width: int
    height: int
    fps: int
    seconds: float
    gop_seconds: float
    bitrate: int | None
    motion: Sequence[Interval]
    audio: AudioCodec | None
    slices: int
    noise: float
    background: str
    preset: str


class ClipFactory(Protocol):
    """make_clip bound to a directory: the type of the make_media fixture."""

    def __call__(self, **options: Unpack[ClipOptions]) -> Clip:
        """Make (or reuse) a clip with these options."""
        ...


@dataclass(frozen=True, slots=True)
class Clip:
    """What a generated clip contains, so tests can assert against known ground truth.

    Times are seconds from the clip's first frame. A clip played in a loop (the simulator's
    live mode) repeats its motion intervals every ``duration`` seconds.
    """

    path: Path
    codec: VideoCodec
    width: int
    height: int
    fps: int
    gop: int
    """Frames from one keyframe to the next."""
    frames: int
    bitrate: int
    """Target bits per second (also the VBV cap)."""
    motion: tuple[Interval, ...]
    audio: AudioCodec | None
    audio_rate: int | None
    slices: int
    background: str

    @property
    def duration(self) -> float:
        """Length in seconds (frames / fps)."""
        return self.frames / self.fps

    @property
    def gop_seconds(self) -> float:
        """Seconds from one keyframe to the next."""
        return self.gop / self.fps

    @property
    def keyframe_times(self) -> tuple[float, ...]:
        """Presentation times of the keyframes, the first being 0.0."""
        return tuple(i / self.fps for i in range(0, self.frames, self.gop))

    def clip_time(self, t: float, *, looped: bool = False) -> float:
        """Map a time to the clip's own timeline (modulo duration when played in a loop)."""
        return t % self.duration if looped else t

    def moving_at(self, t: float, *, looped: bool = False) -> bool:
        """Whether the object is in the picture at time ``t``."""
        return self.object_box(t, looped=looped) is not None

    def object_box(self, t: float, *, looped: bool = False) -> tuple[int, int, int, int] | None:
        """Visible bounding box (x, y, width, height) of the moving object at ``t``, if any."""
        t = self.clip_time(t, looped=looped)
        obj_w, obj_h, top = _object_geometry(self.width, self.height)
        left = _object_left(t, self.motion, self.width, obj_w)
        if left is None:
            return None
        x0, x1 = max(left, 0), min(left + obj_w, self.width)
        return (x0, top, x1 - x0, obj_h)


def make_clip(
    directory: Path | str,
    *,
    codec: VideoCodec = "h264",
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    seconds: float = 10.0,
    gop_seconds: float = 2.0,
    bitrate: int | None = None,
    motion: Sequence[Interval] = (),
    audio: AudioCodec | None = None,
    slices: int = 1,
    noise: float = 0.0,
    background: str = "mosaic",
    preset: str = "ultrafast",
) -> Clip:
    """Make (or reuse) a camera-like clip in ``directory`` and describe it.

    ``motion`` lists (start, end) seconds when the object crosses the scene. ``noise`` is the
    standard deviation, in 8-bit levels, of Gaussian luma noise added to every frame (0: the
    static scene is bit-identical from frame to frame). ``background`` is "mosaic" or one of
    PHOTOS. ``slices`` > 1 splits each frame into that many slices, as some cameras do.
    The container is MP4, or MOV when the audio is G.711 (MP4 cannot hold A-law/mu-law).
    """
    if codec not in VIDEO_ENCODERS:
        raise ValueError(f"codec must be one of {sorted(VIDEO_ENCODERS)}, not {codec!r}")
    if audio is not None and audio not in get_args(AudioCodec):
        raise ValueError(f"audio must be None or one of {get_args(AudioCodec)}, not {audio!r}")
    if width % 4 or height % 4 or width < 64 or height < 64:
        raise ValueError("width and height must be multiples of 4, at least 64")
    if background != "mosaic" and background not in PHOTOS:
        raise ValueError(f"background must be 'mosaic' or one of {PHOTOS}")
    frames = round(seconds * fps)
    gop = round(gop_seconds * fps)
    if frames < 1 or gop < 1 or slices < 1 or fps < 1:
        raise ValueError("seconds, gop_seconds, fps and slices must give at least one frame")
    intervals = tuple((float(start), float(end)) for start, end in motion)
    for start, end in intervals:
        if not 0 <= start < end:
            raise ValueError(f"bad motion interval {(start, end)}")
    rate = bitrate if bitrate is not None else default_bitrate(width, height, fps)
    audio_rate = AUDIO_ENCODERS[audio][1] if audio else None
    key = repr(
        (
            codec,
            width,
            height,
            fps,
            frames,
            gop,
            rate,
            intervals,
            audio,
            slices,
            noise,
            background,
            preset,
        )
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    suffix = ".mov" if audio in ("alaw", "mulaw") else ".mp4"
    name = f"{codec}_{width}x{height}_{fps}fps_{frames}f_gop{gop}_{audio or 'noaudio'}_{digest}{suffix}"
    path = Path(directory) / name
    clip = Clip(
        path=path,
        codec=codec,
        width=width,
        height=height,
        fps=fps,
        gop=gop,
        frames=frames,
        bitrate=rate,
        motion=intervals,
        audio=audio,
        audio_rate=audio_rate,
        slices=slices,
        background=background,
    )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unique per process and thread: concurrent makers of one clip each write their own.
        partial = path.with_name(
            f".{path.stem}.{os.getpid()}.{threading.get_ident()}.partial{suffix}"
        )
        try:
            _encode(clip, partial, noise=noise, preset=preset)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    return clip


def expected_luma(clip: Clip, t: float) -> U8:
    """The luma plane the encoder was given at clip time ``t`` (before noise and compression).

    Ground truth for pixel-level checks: compare decoded frames against it.
    """
    scene = _background(clip.background, clip.width, clip.height)
    obj_w, _, _ = _object_geometry(clip.width, clip.height)
    left = _object_left(t, clip.motion, clip.width, obj_w)
    if left is None:
        return scene[: clip.height].copy()
    buffer = scene.copy()
    _paste_object(buffer, clip.width, clip.height, left)
    return buffer[: clip.height].copy()


def default_bitrate(width: int, height: int, fps: int) -> int:
    """Bitrate a camera would use: about 3 Mbit/s for 1080p at 25 fps, scaled by pixel rate."""
    return max(200_000, round(width * height * fps * 0.06 / 1000) * 1000)


def split_nal_units(data: bytes) -> list[bytes]:
    """Split an H.264/H.265 access unit into NAL units (Annex-B start codes or 4-byte lengths).

    Files (MP4) hold length-prefixed units; FFmpeg's RTSP demuxer hands out Annex-B. A length
    prefix can itself look like a start code (00 00 01 xx for a 256-511 byte unit), so the
    length-prefixed reading wins whenever its lengths tile the whole buffer exactly.
    """
    units: list[bytes] = []
    pos = 0
    while pos + 4 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 0 or pos + 4 + size > len(data):
            break
        units.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    if pos == len(data) and units:
        return units
    # A 4-byte start code leaves a zero at the end of the previous unit: strip it.
    return [unit for chunk in data.split(b"\x00\x00\x01") if (unit := chunk.rstrip(b"\x00"))]


def nal_type(unit: bytes, codec: VideoCodec) -> int:
    """Type of a NAL unit (H.264: 5 = IDR slice, 7 = SPS; H.265: 19/20 = IDR, 32-34 = VPS/SPS/PPS)."""
    return unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F


def count_slices(data: bytes, codec: VideoCodec) -> int:
    """Number of coded slices (VCL NAL units) in one access unit."""
    vcl = range(1, 6) if codec == "h264" else range(32)
    return sum(1 for unit in split_nal_units(data) if unit and nal_type(unit, codec) in vcl)


# --- internals -----------------------------------------------------------------------------


def _photo_dir() -> Path:
    """The data folder of the installed scikit-image wheel, found without importing skimage."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise RuntimeError("scikit-image is not installed (requirements_test.txt)")
    return Path(spec.origin).parent / "data"


def _photo(name: str) -> Image.Image:
    """One photograph as RGB; grayscale textures (grass) get a green tint to look like a lawn."""
    with Image.open(_photo_dir() / name) as image:
        if image.mode == "L":
            gray = np.asarray(image, dtype=np.float32)
            tint = np.stack([gray * 0.75, gray * 0.95, gray * 0.55], axis=-1)
            return Image.fromarray(tint.clip(0, 255).astype(np.uint8))
        return image.convert("RGB")


def _to_yuv420(rgb: Image.Image) -> tuple[U8, U8, U8]:
    """Convert an RGB picture (even size) to separate Y, U and V planes via libswscale."""
    frame = av.VideoFrame.from_ndarray(np.asarray(rgb, dtype=np.uint8), format="rgb24")
    flat = np.asarray(frame.reformat(format="yuv420p").to_ndarray(), dtype=np.uint8).reshape(-1)
    width, height = rgb.size
    luma = width * height
    chroma = luma // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )


@cache
def _background(background: str, width: int, height: int) -> U8:
    """The static scene as one yuv420p buffer (height * 3 / 2 rows), as PyAV's from_ndarray wants."""
    if background == "mosaic":
        canvas = Image.new("RGB", (width, height))
        cols, rows = 3, 2
        for index, name in enumerate(MOSAIC):
            col, row = index % cols, index // cols
            x0, x1 = col * width // cols, (col + 1) * width // cols
            y0, y1 = row * height // rows, (row + 1) * height // rows
            canvas.paste(
                _photo(name).resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS), (x0, y0)
            )
    else:
        canvas = _photo(background).resize((width, height), Image.Resampling.LANCZOS)
    luma, u, v = _to_yuv420(canvas)
    buffer = np.concatenate([luma.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, width)
    buffer.setflags(write=False)
    return buffer


def _object_geometry(width: int, height: int) -> tuple[int, int, int]:
    """Width, height and top row of the moving object: a standing person ~45% of frame height."""
    obj_h = max(4, round(height * 0.45) // 4 * 4)
    obj_w = max(4, round(obj_h * 0.66) // 4 * 4)
    top = (height - obj_h - round(height * 0.05)) // 2 * 2
    return obj_w, obj_h, top


def _object_left(t: float, motion: Sequence[Interval], width: int, obj_w: int) -> int | None:
    """Left edge (even, maybe negative) of the object at time t, or None when it is off-screen."""
    for start, end in motion:
        if start <= t < end:
            progress = (t - start) / (end - start)
            left = int(-obj_w + progress * (width + obj_w)) // 2 * 2
            if left <= -obj_w or left >= width:
                return None
            return left
    return None


@cache
def _object(
    width: int, height: int
) -> tuple[U8, U8, U8, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Y/U/V planes of the person crop and its elliptic masks (luma and chroma resolution)."""
    obj_w, obj_h, _ = _object_geometry(width, height)
    crop = _photo(OBJECT_PHOTO).crop(OBJECT_CROP).resize((obj_w, obj_h), Image.Resampling.LANCZOS)
    luma, u, v = _to_yuv420(crop)

    def ellipse(w: int, h: int) -> npt.NDArray[np.bool_]:
        yy, xx = np.mgrid[0:h, 0:w]
        inside: npt.NDArray[np.bool_] = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + (
            (yy + 0.5 - h / 2) / (h / 2)
        ) ** 2 <= 1.0
        return inside

    return luma, u, v, ellipse(obj_w, obj_h), ellipse(obj_w // 2, obj_h // 2)


def _paste_object(buffer: U8, width: int, height: int, left: int) -> None:
    """Draw the object with its left edge at ``left`` into a yuv420p buffer, clipped to the frame."""
    obj_y, obj_u, obj_v, mask_y, mask_c = _object(width, height)
    obj_w, obj_h, top = _object_geometry(width, height)
    flat = buffer.reshape(-1)
    luma = width * height
    chroma = luma // 4
    planes = (
        (flat[:luma].reshape(height, width), obj_y, mask_y, 1),
        (flat[luma : luma + chroma].reshape(height // 2, width // 2), obj_u, mask_c, 2),
        (flat[luma + chroma :].reshape(height // 2, width // 2), obj_v, mask_c, 2),
    )
    for plane, pixels, mask, scale in planes:
        x, y, w, h = left // scale, top // scale, obj_w // scale, obj_h // scale
        x0, x1 = max(x, 0), min(x + w, plane.shape[1])
        if x1 <= x0:
            continue
        np.copyto(
            plane[y : y + h, x0:x1],
            pixels[:, x0 - x : x1 - x],
            where=mask[:, x0 - x : x1 - x],
        )


def _frames(clip: Clip, noise: float) -> Iterator[av.VideoFrame]:
    """Yield the clip's video frames; the static ones share one frame object (encoders copy)."""
    width, height = clip.width, clip.height
    scene = _background(clip.background, width, height)
    static = av.VideoFrame.from_ndarray(scene, format="yuv420p")
    obj_w, _, _ = _object_geometry(width, height)
    rng = np.random.default_rng(1234)
    fields = [
        rng.normal(0.0, noise, (height, width)).round().astype(np.int16)
        for _ in range(NOISE_FIELDS if noise else 0)
    ]
    for index in range(clip.frames):
        left = _object_left(index / clip.fps, clip.motion, width, obj_w)
        if left is None and not fields:
            frame = static
        else:
            buffer = scene.copy()
            if left is not None:
                _paste_object(buffer, width, height, left)
            if fields:
                luma = buffer[:height]
                np.clip(
                    luma.astype(np.int16) + fields[index % len(fields)],
                    0,
                    255,
                    out=luma,
                    casting="unsafe",
                )
            frame = av.VideoFrame.from_ndarray(buffer, format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, clip.fps)
        yield frame


def _audio_chunk(
    clip: Clip, start: int, count: int, rng: np.random.Generator
) -> npt.NDArray[np.int16]:
    """Mono s16 samples [start, start+count): quiet room noise, a loud hum while motion lasts.

    The hum gives audio-triggered features something to find at known times.
    """
    assert clip.audio_rate is not None
    times = (start + np.arange(count)) / clip.audio_rate
    samples = rng.normal(0.0, 150.0, count)
    moving = np.zeros(count, dtype=bool)
    for begin, end in clip.motion:
        moving |= (times >= begin) & (times < end)
    tone = 6000.0 * np.sin(2 * np.pi * 440.0 * times) + 3000.0 * np.sin(2 * np.pi * 880.0 * times)
    samples += np.where(moving, tone, 0.0)
    return samples.clip(-32768, 32767).astype(np.int16)


def _encode(clip: Clip, target: Path, *, noise: float, preset: str) -> None:
    """Encode ``clip`` into ``target`` with camera-like settings (see the module docstring)."""
    kbps = clip.bitrate // 1000
    common = (
        f"keyint={clip.gop}:min-keyint={clip.gop}:scenecut=0:bframes=0:slices={clip.slices}"
        f":vbv-maxrate={kbps}:vbv-bufsize={kbps}"
    )
    options: dict[str, object] = {"preset": preset}
    if clip.codec == "h264":
        options["x264-params"] = common
    else:  # open-gop=0: IDR keyframes (not CRA), as cameras send
        options["x265-params"] = f"{common}:open-gop=0:info=0:log-level=error"
    container_format = "mov" if target.suffix == ".mov" else "mp4"
    with av.open(str(target), mode="w", format=container_format) as output:
        video = output.add_stream(VIDEO_ENCODERS[clip.codec], rate=clip.fps)
        assert isinstance(video, av.VideoStream)
        video.width = clip.width
        video.height = clip.height
        video.pix_fmt = "yuv420p"
        video.bit_rate = clip.bitrate
        # FFmpeg's default for libx264 is sliced threads (one slice per core); cameras send one.
        video.codec_context.thread_type = "FRAME"
        video.options = options
        sound: av.AudioStream | None = None
        if clip.audio is not None and clip.audio_rate is not None:
            added = output.add_stream(AUDIO_ENCODERS[clip.audio][0], rate=clip.audio_rate)
            assert isinstance(added, av.AudioStream)
            sound = added
            sound.layout = "mono"
        rng = np.random.default_rng(99)
        written = 0
        for index, frame in enumerate(_frames(clip, noise)):
            output.mux(video.encode(frame))
            if sound is not None and clip.audio_rate is not None:
                until = (index + 1) * clip.audio_rate // clip.fps
                chunk = _audio_chunk(clip, written, until - written, rng)
                piece = av.AudioFrame.from_ndarray(
                    chunk.reshape(1, -1), format="s16", layout="mono"
                )
                piece.sample_rate = clip.audio_rate
                piece.pts = written
                piece.time_base = Fraction(1, clip.audio_rate)
                output.mux(sound.encode(piece))
                written = until
        output.mux(video.encode(None))
        if sound is not None:
            output.mux(sound.encode(None))
