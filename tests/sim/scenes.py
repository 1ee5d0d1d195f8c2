"""Labelled camera-like scenes for judging motion detection, generated with PyAV.

Each scene is a recipe (``Scene``) for a clip of a yard seen from a wall-mounted camera: a
brick wall, a lawn and a gravel path built from the photographs in scikit-image's wheel (see
``tests/sim/media.py``). On top of it, as the recipe asks:

* objects: cut-out photographs that enter from either side, walk (or ride) across, maybe stop
  and go on or turn back, at known times: a person in a dark coat (``camera.png``, cut out by
  its dark silhouette), a person in an orange suit (``astronaut.png``, a soft elliptic cut-out)
  and a motorcycle (``motorcycle_left.png``, cut out with the stereo disparity map shipped next
  to it). Sizes go from far (15 % of the frame height) to near (60 %); people bob as they walk
  and sway slightly while they stand;
* a slow lighting ramp (dawn: the gain rises over a minute);
* IR switches: the camera's day/night change, from a dim dusk picture: luma gain and gamma
  jump, colour goes, the IR illuminator's hot spot appears, grass and leaves glow (they reflect
  near infrared), the sensor gets noisier, and the auto exposure overshoots and settles for
  about a second; and back to day;
* sensor noise: Gaussian luma noise on every frame (2 levels by default, 6 for a dim evening);
* leaves: a bush of a few percent of the frame whose leaves sway by a couple of pixels;
* a flag waving on the wall (about 11 % of the frame with its sweep): constant large motion
  that a user covers with a mask; the clip carries that mask (relative polygon, with a margin).

Encoding is a camera sub-stream's: H.264, fixed GOP (no scene-cut keyframes), no B-frames,
bitrate capped by a one-second VBV at about 0.15 bit per pixel. The same recipe gives the same
file, bit for bit (seeded noise, one encoder thread). Ground truth comes from the
same geometry that draws the frames: for every object entry, when any part of it is first in
the picture, when half of its silhouette is, and when the last part of it left.

Files are cached like ``media.py`` does: the name carries a hash of the recipe (and of
``VERSION``, to bump when drawing changes), written atomically and reused when present.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
import hashlib
import itertools
import math
import os
from pathlib import Path
import threading
from typing import Final, Literal
import zlib

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from tests.sim.media import OBJECT_CROP, Clip, _photo, _photo_dir

VERSION: Final = 6
SceneKind = Literal["objects", "lighting", "ir_switch", "noise", "leaves", "masked", "mixed"]
ObjectKind = Literal["person", "vehicle"]
Actor = Literal["astronaut", "cameraman", "motorcycle"]
Point = tuple[float, float]
Polygon = tuple[Point, ...]
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

ACTOR_KIND: Final[dict[Actor, ObjectKind]] = {
    "astronaut": "person",
    "cameraman": "person",
    "motorcycle": "vehicle",
}
# Scene kinds with nothing in them that should trigger.
QUIET_KINDS: Final = frozenset({"lighting", "ir_switch", "noise", "leaves", "masked"})
MIN_QUIET_GAP_S: Final = 8.0  # between one object leaving and the next entering
# Layout, as fractions of the frame: wall above WALL_BOTTOM, lawn down to LAWN_BOTTOM, path below.
WALL_BOTTOM: Final = 0.40
LAWN_BOTTOM: Final = 0.58
BUSH_BOX: Final = (0.70, 0.24, 0.86, 0.46)  # left, top, right, bottom
FLAG_BOX: Final = (0.05, 0.03, 0.33, 0.37)  # the cloth at rest, its pole on the left
FLAG_MASK_MARGIN: Final = 0.04  # the mask a user draws: the flag's sweep plus a margin
# Day/night: night luma = NIGHT_GAIN * (day luma ** NIGHT_GAMMA) on 0-1, times the hot spot
# and the foliage's IR glow; no colour, more noise.
NIGHT_GAMMA: Final = 0.65
NIGHT_GAIN: Final = 0.80
NIGHT_NOISE: Final = 4.0
FOLIAGE_IR_BOOST: Final = 0.5
AE_OVERSHOOT: Final = 0.30  # exposure right after a switch, settling with AE_SETTLE_S
AE_SETTLE_S: Final = 0.4


@dataclass(frozen=True, slots=True)
class Walk:
    """One object entry: it enters at ``start`` from one side and leaves the picture again.

    ``start`` is when its leading edge reaches the frame edge. ``height`` and ``ground`` (its
    feet) are fractions of the frame height, ``speed`` frame widths per second. With
    ``stop_at`` (the frame fraction where its centre stops) it stands ``stop_seconds``, then goes
    on, or back the way it came with ``turn_back``.
    """

    actor: Actor
    start: float
    height: float
    ground: float
    speed: float
    leftwards: bool = False
    stop_at: float | None = None
    stop_seconds: float = 0.0
    turn_back: bool = False


@dataclass(frozen=True, slots=True)
class Scene:
    """The recipe of one labelled clip."""

    name: str
    kind: SceneKind
    seconds: float
    width: int = 640
    height: int = 360
    fps: int = 12
    gop_seconds: float = 2.0
    noise: float = 2.0
    """Luma noise standard deviation (8-bit levels) by day."""
    brightness: float = 1.0
    """Luma gain of the whole clip (below 1: a dim scene)."""
    ramp: tuple[float, float, float] | None = None
    """(start s, end s, gain at the end): the luma gain goes linearly from 1 to it."""
    ir_switches: tuple[float, ...] = ()
    """Times of day/night switches: the first goes to night, the next back to day."""
    leaves: bool = False
    sway: float = 2.0
    """How far the bush's leaves sway, in pixels at 640 wide (scaled with the width)."""
    flag: bool = False
    walks: tuple[Walk, ...] = ()
    preset: str = "veryfast"
    """x264 preset: veryfast deblocks and uses CABAC like camera encoders (ultrafast does not)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """Ground truth of one object entry (seconds from the clip's first frame)."""

    kind: ObjectKind
    actor: Actor
    enter: float
    """First frame with any part of it in the picture."""
    appear: float
    """First frame with at least half of its silhouette in the picture."""
    leave: float
    """The frame after the last one with any part of it in the picture."""
    height: float
    """Its height as a fraction of the frame height."""


@dataclass(frozen=True, slots=True)
class LabelledClip:
    """A generated scene and its ground truth."""

    scene: Scene
    path: Path
    gop: int
    """Frames from one keyframe to the next."""
    frames: int
    bitrate: int
    entries: tuple[Entry, ...]
    masks: tuple[Polygon, ...] = field(default=())
    """Polygons (relative x, y) a user would draw over the scene's constant motion."""

    @property
    def name(self) -> str:
        """The scene's name."""
        return self.scene.name

    @property
    def kind(self) -> SceneKind:
        """The scene's kind."""
        return self.scene.kind

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.scene.fps

    @property
    def gop_seconds(self) -> float:
        """Seconds from one keyframe to the next."""
        return self.gop / self.scene.fps

    def as_clip(self) -> Clip:
        """The scene as a media.Clip, for the RTSP simulator (motion: each entry's time in view)."""
        scene = self.scene
        return Clip(
            path=self.path,
            codec="h264",
            width=scene.width,
            height=scene.height,
            fps=scene.fps,
            gop=self.gop,
            frames=self.frames,
            bitrate=self.bitrate,
            motion=tuple((entry.enter, entry.leave) for entry in self.entries),
            audio=None,
            audio_rate=None,
            slices=1,
            background="scene",
        )

    def object_box(self, index: int, t: float) -> tuple[float, float, float, float] | None:
        """Where the object of entry ``index`` is at ``t``, None when it is not in the picture.

        The bounding box of its visible silhouette: x, y, width, height relative to the picture.
        """
        width, height = self.scene.width, self.scene.height
        placed = _place(self.scene.walks[index], t, width, height)
        if placed is None:
            return None
        _, alpha, x, y = placed
        rows = np.flatnonzero((alpha > 0.5).any(axis=1))
        cols = np.flatnonzero((alpha > 0.5).any(axis=0))
        x0, x1 = max(0, x + int(cols[0])), min(width, x + int(cols[-1]) + 1)
        y0, y1 = max(0, y + int(rows[0])), min(height, y + int(rows[-1]) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height


def standard_scenes(*, hd: bool = False) -> tuple[Scene, ...]:
    """The evaluation set: every situation of the module docstring, 40-90 s each.

    ``hd`` adds 1280x720 versions of the object and mixed scenes.
    """
    people = (
        Walk("cameraman", 4.0, 0.55, 0.97, 0.22),
        Walk("astronaut", 18.0, 0.16, 0.56, 0.07, leftwards=True),
        Walk("motorcycle", 42.0, 0.34, 0.90, 0.45),
        Walk(
            "cameraman",
            53.5,
            0.30,
            0.74,
            0.12,
            leftwards=True,
            stop_at=0.55,
            stop_seconds=5.0,
            turn_back=True,
        ),
        Walk("astronaut", 76.0, 0.15, 0.55, 0.11, stop_at=0.40, stop_seconds=4.0),
    )
    visitors = (
        Walk("astronaut", 3.0, 0.45, 0.92, 0.18, leftwards=True),
        Walk("motorcycle", 18.5, 0.20, 0.66, 0.20, leftwards=True, stop_at=0.35, stop_seconds=8.0),
        Walk("cameraman", 47.0, 0.16, 0.57, 0.07),
        Walk("astronaut", 72.0, 0.60, 1.00, 0.30),
    )
    mixed = (
        Walk("cameraman", 6.0, 0.40, 0.86, 0.15, leftwards=True),
        Walk("astronaut", 25.0, 0.18, 0.58, 0.08),
        Walk("motorcycle", 50.0, 0.28, 0.82, 0.30, leftwards=True),
        Walk("cameraman", 64.0, 0.22, 0.66, 0.10, stop_at=0.5, stop_seconds=3.0),
    )
    scenes = [
        Scene("people", "objects", 90.0, walks=people),
        Scene("visitors", "objects", 90.0, fps=10, walks=visitors),
        Scene("lighting", "lighting", 70.0, brightness=0.7, ramp=(5.0, 65.0, 1.43)),
        # Dusk: a dim, noisier colour picture, then the IR illuminator, then day again.
        Scene("ir-switch", "ir_switch", 70.0, noise=3.0, brightness=0.45, ir_switches=(21.3, 50.7)),
        Scene("noise", "noise", 60.0, noise=6.0, brightness=0.6),
        Scene("leaves", "leaves", 60.0, leaves=True),
        Scene("masked", "masked", 60.0, flag=True),
        Scene(
            "mixed",
            "mixed",
            85.0,
            fps=15,
            brightness=0.85,
            ramp=(0.0, 85.0, 1.25),
            leaves=True,
            flag=True,
            walks=mixed,
        ),
    ]
    if hd:
        scenes += [
            Scene("people-720p", "objects", 90.0, 1280, 720, walks=people),
            Scene(
                "mixed-720p",
                "mixed",
                85.0,
                1280,
                720,
                fps=15,
                brightness=0.85,
                ramp=(0.0, 85.0, 1.25),
                leaves=True,
                flag=True,
                walks=mixed,
            ),
        ]
    return tuple(scenes)


def stress_scenes() -> tuple[Scene, ...]:
    """Harder variants, 30-45 s each, to see where the margins end (not goals)."""

    def far(height: float, ground: float) -> tuple[Walk, ...]:
        return (
            Walk("astronaut", 3.0, height, ground, 0.08),
            Walk("cameraman", 24.0, height, ground, 0.08, leftwards=True),
        )

    close = (
        Walk("astronaut", 3.0, 0.70, 1.0, 0.30),
        Walk("cameraman", 16.0, 0.75, 1.0, 0.25, leftwards=True),
    )
    return (
        Scene("leaves-3px", "leaves", 40.0, leaves=True, sway=3.0),
        Scene("leaves-4px", "leaves", 40.0, leaves=True, sway=4.0),
        Scene("leaves-8px", "leaves", 40.0, leaves=True, sway=8.0),
        Scene("noise-10", "noise", 40.0, noise=10.0, brightness=0.6),
        Scene("noise-6-dark", "noise", 40.0, noise=6.0, brightness=0.3),
        # Switching in daylight: no jump of the mean light, only gamma, colour, hot spot.
        Scene("ir-daylight", "ir_switch", 40.0, ir_switches=(11.3, 27.7)),
        Scene("cloud-gone", "lighting", 40.0, brightness=0.7, ramp=(11.0, 14.0, 1.43)),
        Scene("cloud-comes", "lighting", 40.0, ramp=(11.0, 13.0, 0.6)),
        Scene("far-10", "objects", 45.0, walks=far(0.10, 0.52)),
        Scene("far-8", "objects", 45.0, walks=far(0.08, 0.50)),
        Scene("close-75", "objects", 30.0, walks=close),
        Scene(
            "close-cloud",
            "objects",
            30.0,
            brightness=0.8,
            ramp=(4.0, 6.0, 1.3),
            walks=(Walk("astronaut", 3.0, 0.45, 0.95, 0.12),),
        ),
    )


def make_scene(directory: Path | str, scene: Scene) -> LabelledClip:
    """Make (or reuse) the clip of ``scene`` in ``directory`` and return it with its labels."""
    if scene.width % 4 or scene.height % 4 or scene.width < 160 or scene.height < 90:
        raise ValueError("width and height must be multiples of 4, at least 160x90")
    frames = round(scene.seconds * scene.fps)
    gop = round(scene.gop_seconds * scene.fps)
    if frames < 1 or gop < 1:
        raise ValueError("seconds, fps and gop_seconds must give at least one frame")
    bitrate = _bitrate(scene)
    entries = tuple(_entry(scene, walk, frames) for walk in scene.walks)
    _check_gaps(scene, entries)
    masks = (_flag_mask(),) if scene.flag else ()
    digest = hashlib.sha256(repr((VERSION, scene)).encode()).hexdigest()[:12]
    name = f"scene_{scene.name}_{scene.width}x{scene.height}_{scene.fps}fps_{digest}.mp4"
    path = Path(directory) / name
    clip = LabelledClip(scene, path, gop, frames, bitrate, entries, masks)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.partial.mp4")
        try:
            _encode(clip, partial)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    return clip


def render(scene: Scene, t: float, rng: np.random.Generator | None = None) -> U8:
    """The yuv420p buffer (height * 3 / 2 rows) given to the encoder at time ``t``.

    Without ``rng`` no sensor noise is added (for looking at a scene).
    """
    width, height = scene.width, scene.height
    canvas = _background(width, height).copy()
    if scene.flag:
        _draw_flag(canvas, t)
    if scene.leaves:
        _draw_bush(canvas, t, scene.sway)
    for walk in scene.walks:
        placed = _place(walk, t, width, height)
        if placed is not None:
            _blend(canvas, *placed)
    buffer = _yuv420(canvas)
    luma = buffer[:height]
    gain, gamma, saturation, night = _light(scene, t)
    levels = np.arange(256, dtype=np.float32) / 255.0
    curve = np.clip(255.0 * gain * levels**gamma, 0, 255).astype(np.float32)
    picture = curve[luma]
    if night:
        picture *= _hot_spot(width, height) * _foliage(buffer, width, height)
    sigma = max(scene.noise, NIGHT_NOISE) if night else scene.noise
    if rng is not None and sigma > 0:
        picture += rng.standard_normal(picture.shape, dtype=np.float32) * np.float32(sigma)
    np.copyto(luma, np.clip(picture + 0.5, 0, 255), casting="unsafe")
    if saturation != 1.0:
        chroma = buffer[height:].astype(np.float32)
        np.copyto(buffer[height:], (chroma - 128.0) * saturation + 128.5, casting="unsafe")
    return buffer


# --- lighting ------------------------------------------------------------------------------


def _light(scene: Scene, t: float) -> tuple[float, float, float, bool]:
    """Luma gain, luma gamma, chroma saturation and whether the camera is in night mode.

    At night the IR illuminator lights the scene: its gain does not depend on the daylight.
    """
    gain = scene.brightness
    if scene.ramp is not None:
        start, end, final = scene.ramp
        progress = min(1.0, max(0.0, (t - start) / (end - start)))
        gain *= 1.0 + (final - 1.0) * progress
    passed = [switch for switch in scene.ir_switches if switch <= t]
    night = len(passed) % 2 == 1
    gamma, saturation = 1.0, 1.0
    if night:
        gain, gamma, saturation = NIGHT_GAIN, NIGHT_GAMMA, 0.0
    if passed:  # the auto exposure overshoots after a switch and settles
        gain *= 1.0 + AE_OVERSHOOT * math.exp(-(t - passed[-1]) / AE_SETTLE_S)
    return gain, gamma, saturation, night


def _foliage(buffer: U8, width: int, height: int) -> F32:
    """Leaves and grass reflect near infrared strongly: green parts turn bright at night."""
    chroma = buffer[height:].reshape(2, height // 2, width // 2).astype(np.float32)
    green = np.clip((256.0 - chroma[0] - chroma[1]) / 30.0, 0.0, 1.0)
    boost = (1.0 + FOLIAGE_IR_BOOST * green).astype(np.float32)
    full: F32 = np.repeat(np.repeat(boost, 2, axis=0), 2, axis=1)
    return full


@cache
def _hot_spot(width: int, height: int) -> F32:
    """The IR illuminator's light: bright in the middle, 30 % darker in the corners."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height * 0.55) / (height / 2)) ** 2
    spot: F32 = (1.15 - 0.22 * r2).astype(np.float32)
    spot.setflags(write=False)
    return spot


# --- the static scene ----------------------------------------------------------------------


def _texture(name: str, width: int, height: int, tile: int, tint: tuple[float, ...]) -> U8:
    """A greyscale texture photo tiled at ``tile`` pixels per tile, tinted to RGB."""
    with Image.open(_photo_dir() / name) as image:
        grey = image.convert("L").resize((tile, tile), Image.Resampling.LANCZOS)
    cells = np.asarray(grey, dtype=np.float32)
    reps = (-(-height // tile), -(-width // tile))
    plane = np.tile(cells, reps)[:height, :width]
    rgb = np.stack([plane * k for k in tint], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@cache
def _background(width: int, height: int) -> U8:
    """The yard as RGB: brick wall, lawn, gravel path, with soft shading."""
    wall_h, lawn_h = round(height * WALL_BOTTOM), round(height * LAWN_BOTTOM)
    canvas = np.empty((height, width, 3), np.uint8)
    tile = max(64, width // 2)
    canvas[:wall_h] = _texture("brick.png", width, wall_h, tile, (0.95, 0.62, 0.48))
    canvas[wall_h:lawn_h] = _texture(
        "grass.png", width, lawn_h - wall_h, tile // 2, (0.55, 0.78, 0.40)
    )
    canvas[lawn_h:] = _texture("gravel.png", width, height - lawn_h, tile // 2, (0.92, 0.86, 0.74))
    # A window on the wall (dark glass with a frame) breaks the texture like real facades do.
    x0, x1 = round(width * 0.42), round(width * 0.58)
    y0, y1 = round(height * 0.06), round(height * 0.30)
    canvas[y0:y1, x0:x1] = (70, 78, 86)
    canvas[y0 + 3 : y1 - 3, x0 + 3 : x1 - 3] = (34, 40, 48)
    canvas[y0:y1, (x0 + x1) // 2 - 1 : (x0 + x1) // 2 + 1] = (70, 78, 86)
    # Daylight from the upper left: a gentle gradient, as no real scene is evenly lit.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 1.05 - 0.15 * (xx / width) - 0.05 * (yy / height)
    out: U8 = np.clip(canvas * shade[..., None], 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def _yuv420(rgb: U8) -> U8:
    """RGB (even size) to one writable yuv420p buffer via libswscale."""
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return np.array(frame.reformat(format="yuv420p").to_ndarray(), dtype=np.uint8)


def _box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, ...]:
    left, top, right, bottom = box
    return round(left * width), round(top * height), round(right * width), round(bottom * height)


# --- leaves and flag -----------------------------------------------------------------------


@cache
def _bush_source(width: int, height: int) -> tuple[F32, F32, int]:
    """The bush's leaf texture and soft outline, with a margin of ``pad`` pixels for the sway."""
    x0, y0, x1, y1 = _box(BUSH_BOX, width, height)
    pad = max(8, width // 40)
    w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    # Gravel's stones, tinted green and with more contrast, look like leaves in the sun with
    # dark gaps between them (a few pixels each at 640 wide): swaying, they change a lot.
    leaves = _texture("gravel.png", w, h, max(64, width * 2 // 5), (0.55, 0.85, 0.35))
    texture = leaves.astype(np.float32)
    texture = np.clip((texture - texture.mean()) * 1.6 + texture.mean() * 1.1, 0, 255)
    # Clumps of darker and lighter foliage, as a bush is not a uniform lawn.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    clumps = 0.8 + 0.25 * np.sin(xx / w * 9.0) * np.cos(yy / h * 7.0)
    texture *= clumps[..., None]
    inside = ((xx - w / 2) / (w / 2 - pad)) ** 2 + ((yy - h * 0.6) / (h * 0.6 - pad)) ** 2
    alpha = np.clip((1.0 - inside) / 0.15, 0.0, 1.0).astype(np.float32)
    return texture.astype(np.float32), alpha, pad


def _draw_bush(canvas: U8, t: float, sway: float) -> None:
    """Draw the bush with its leaves swaying up to ``sway`` px at 640 wide, most at the top."""
    height, width = canvas.shape[:2]
    texture, alpha, pad = _bush_source(width, height)
    h, w = alpha.shape
    amplitude = sway * width / 640
    rows = np.arange(h, dtype=np.float32)
    lift = 1.0 - rows / h  # the top moves, the stem stays
    # Two gust rhythms and a per-row phase: leaves flutter rather than move as one block.
    shift = (
        amplitude
        * lift
        * (
            0.7 * np.sin(2 * np.pi * (t / 2.3 + rows / 37.0))
            + 0.3 * np.sin(2 * np.pi * (t / 0.9 + rows / 11.0))
        )
    )
    source_x = np.arange(w, dtype=np.float32)[None, :] - shift[:, None]
    left = np.clip(np.floor(source_x).astype(np.int32), 0, w - 2)
    frac = np.clip(source_x - left, 0.0, 1.0)[..., None]
    row_index = np.arange(h)[:, None]
    moved = texture[row_index, left] * (1 - frac) + texture[row_index, left + 1] * frac
    moved_alpha = (
        alpha[row_index, left] * (1 - frac[..., 0]) + alpha[row_index, left + 1] * frac[..., 0]
    )
    x0, y0, _, _ = _box(BUSH_BOX, width, height)
    _blend(canvas, moved, moved_alpha, x0 - pad, y0 - pad)


@cache
def _flag_cloth(width: int, height: int) -> tuple[F32, int, int]:
    """The flag at rest: red and white stripes and a blue canton with white dots."""
    x0, y0, x1, y1 = _box(FLAG_BOX, width, height)
    w, h = x1 - x0, y1 - y0
    yy, xx = np.mgrid[0:h, 0:w]
    stripe = (yy * 13 // h) % 2 == 0
    red, white = np.array([178, 34, 52], np.float32), np.array([240, 240, 240], np.float32)
    cloth = np.where(stripe[..., None], red, white)
    canton = (yy < h * 7 // 13) & (xx < w * 2 // 5)
    cloth[canton] = (40, 50, 110)
    dots = canton & ((yy % max(3, h // 14)) < 2) & ((xx % max(3, w // 16)) < 2)
    cloth[dots] = (240, 240, 240)
    return cloth.astype(np.float32), w, h


def _draw_flag(canvas: U8, t: float) -> None:
    """A flag waving in the wind: a travelling wave that lifts and shades the cloth."""
    height, width = canvas.shape[:2]
    cloth, w, h = _flag_cloth(width, height)
    x0, y0, _, _ = _box(FLAG_BOX, width, height)
    # The pole.
    pole_x = max(0, x0 - max(2, width // 320))
    canvas[y0 : y0 + round(height * 0.55), pole_x:x0] = (90, 90, 95)
    u = np.arange(w, dtype=np.float32) / w  # 0 at the pole, 1 at the free end
    phase = 2 * np.pi * (1.3 * t - 1.6 * u)
    lift = (0.10 * h) * u * np.sin(phase)  # the free end flaps most
    shading = 1.0 + 0.45 * u * np.cos(phase)  # folds facing the light, folds in shadow
    # Each output row samples the cloth row the wave lifted there, from a band that covers
    # everywhere the cloth can reach.
    sweep = round(0.10 * h) + 1
    source_y = np.arange(-sweep, h + sweep, dtype=np.float32)[:, None] - lift[None, :]
    alpha = ((source_y >= 0) & (source_y <= h - 1)).astype(np.float32)
    index = np.clip(np.round(source_y).astype(np.int32), 0, h - 1)
    picture = cloth[index, np.arange(w)[None, :]] * shading[None, :, None]
    _blend(canvas, picture, alpha, x0, y0 - sweep)


def _flag_mask() -> Polygon:
    """The mask over the flag's sweep, with a margin (relative coordinates)."""
    left, top, right, bottom = FLAG_BOX
    sweep = 0.12 * (bottom - top)
    m = FLAG_MASK_MARGIN
    x0, y0 = round(max(0.0, left - m), 3), round(max(0.0, top - sweep - m), 3)
    x1, y1 = round(min(1.0, right + m), 3), round(min(1.0, bottom + sweep + m), 3)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


# --- objects -------------------------------------------------------------------------------


def _close(mask: BoolArray, radius: int) -> BoolArray:
    """Morphological closing (fills gaps narrower than ``radius`` pixels)."""
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    size = 2 * radius + 1
    image = image.filter(ImageFilter.MaxFilter(size)).filter(ImageFilter.MinFilter(size))
    return np.asarray(image) > 127


def _open(mask: BoolArray, radius: int) -> BoolArray:
    """Morphological opening (drops specks smaller than ``radius`` pixels)."""
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    size = 2 * radius + 1
    image = image.filter(ImageFilter.MinFilter(size)).filter(ImageFilter.MaxFilter(size))
    return np.asarray(image) > 127


def _component(mask: BoolArray, seed: tuple[int, int]) -> BoolArray:
    """The connected part of ``mask`` holding ``seed`` (x, y), its holes filled."""
    # fromarray may share the array read-only, and floodfill would then change nothing: copy.
    image = Image.fromarray(mask.astype(np.uint8) * 100).copy()
    ImageDraw.floodfill(image, seed, 255)
    part = np.asarray(image) == 255
    # Holes: what the outside cannot reach. Flood the outside from a padded border.
    outside = Image.fromarray(np.pad(~part, 1, constant_values=True).astype(np.uint8) * 100).copy()
    ImageDraw.floodfill(outside, (0, 0), 255)
    reached = np.asarray(outside)[1:-1, 1:-1] == 255
    filled: BoolArray = ~reached
    return filled


def _soft(mask: BoolArray, radius: float) -> F32:
    """A binary silhouette as alpha with a soft edge of about ``radius`` pixels."""
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, dtype=np.float32) / 255.0


@cache
def _cutout(actor: Actor) -> tuple[Image.Image, Image.Image]:
    """The actor's photo crop (RGB) and its alpha (L), at the photo's resolution."""
    if actor == "astronaut":
        crop = _photo("astronaut.png").crop(OBJECT_CROP)
        w, h = crop.size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        radius = np.sqrt(((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2)
        alpha = np.clip((1.0 - radius) / 0.06, 0.0, 1.0)
    elif actor == "cameraman":
        # A dark coat and hair against light sky and grass: the silhouette is the dark part.
        with Image.open(_photo_dir() / "camera.png") as image:
            grey = np.asarray(image.convert("L"))
        box = (0, 60, 335, 512)
        part = grey[box[1] : box[3], box[0] : box[2]]
        dark = _close(_open(part < 80, 2), 10)
        # The face and hands are light: add the head's ellipse (measured on the photo).
        yy, xx = np.mgrid[0 : part.shape[0], 0 : part.shape[1]]
        dark |= ((xx - 212) / 48) ** 2 + ((yy - 92) / 60) ** 2 <= 1.0
        dark |= ((xx - 262) / 70) ** 2 + ((yy - 125) / 26) ** 2 <= 1.0
        alpha = _soft(_component(dark, (60, 300)), 1.5)
        crop = Image.fromarray(part).convert("RGB")
    else:
        # The stereo pair's disparity tells the bike (near) from the garage behind it; the
        # floor's disparity grows down the picture, so compare with the floor at each row.
        with np.load(_photo_dir() / "motorcycle_disp.npz") as data:
            disparity = np.nan_to_num(data["arr_0"], posinf=0.0, neginf=0.0)
        rows = np.arange(disparity.shape[0], dtype=np.float64)
        sides = np.concatenate([disparity[:, :60], disparity[:, -40:]], axis=1)
        floor_rows = rows > 300
        slope, offset = np.polyfit(rows[floor_rows], np.median(sides[floor_rows], axis=1), 1)
        floor = (slope * rows + offset)[:, None]
        near = (disparity > floor + 4) & (disparity > 38)
        near[:, :100] = False
        near[:80] = False
        bike = _component(_close(_open(near, 2), 5), (400, 260))
        ys, xs = np.nonzero(bike)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        alpha = _soft(bike, 1.5)[box[1] : box[3], box[0] : box[2]]
        crop = _photo("motorcycle_left.png").crop(box)
    mask = Image.fromarray(np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8))
    return crop, mask


@cache
def _sprite(actor: Actor, pixels_high: int, mirrored: bool) -> tuple[F32, F32]:
    """The actor scaled to ``pixels_high`` rows: RGB and alpha, float."""
    crop, mask = _cutout(actor)
    w = max(2, round(crop.size[0] * pixels_high / crop.size[1]))
    rgb = np.asarray(crop.resize((w, pixels_high), Image.Resampling.LANCZOS), dtype=np.float32)
    alpha = np.asarray(mask.resize((w, pixels_high), Image.Resampling.BILINEAR), np.float32)
    alpha = alpha / 255.0
    if mirrored:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    return np.ascontiguousarray(rgb), np.ascontiguousarray(alpha)


def _size(walk: Walk, width: int, height: int) -> tuple[int, int]:
    crop, _ = _cutout(walk.actor)
    h = max(4, round(walk.height * height))
    return max(2, round(crop.size[0] * h / crop.size[1])), h


def _path(walk: Walk, t: float, width: int, obj_w: int) -> tuple[float, bool, bool] | None:
    """Left edge (pixels), whether it faces left, whether it stands; None before it starts."""
    if t < walk.start:
        return None
    speed = walk.speed * width
    sign = -1.0 if walk.leftwards else 1.0
    first = width if walk.leftwards else -float(obj_w)  # left edge when the entry starts
    elapsed = t - walk.start
    if walk.stop_at is None:
        return first + sign * speed * elapsed, walk.leftwards, False
    stop_left = walk.stop_at * width - obj_w / 2
    reach = abs(stop_left - first) / speed
    if elapsed < reach:
        return first + sign * speed * elapsed, walk.leftwards, False
    if elapsed < reach + walk.stop_seconds:
        return stop_left, walk.leftwards, True
    after = elapsed - reach - walk.stop_seconds
    if walk.turn_back:
        return stop_left - sign * speed * after, not walk.leftwards, False
    return stop_left + sign * speed * after, walk.leftwards, False


def _place(walk: Walk, t: float, width: int, height: int) -> tuple[F32, F32, int, int] | None:
    """The actor's sprite and top-left position at ``t``, or None when out of the picture."""
    obj_w, obj_h = _size(walk, width, height)
    where = _path(walk, t, width, obj_w)
    if where is None:
        return None
    left, mirrored, standing = where
    top = walk.ground * height - obj_h
    if ACTOR_KIND[walk.actor] == "person":
        if standing:  # nobody stands perfectly still
            left += 0.004 * obj_h * math.sin(2 * np.pi * 0.4 * t)
        else:  # a walker's head bobs with each step
            top -= 0.02 * obj_h * abs(math.sin(np.pi * 1.8 * (t - walk.start)))
    x, y = round(left), round(top)
    if x >= width or x + obj_w <= 0:
        return None
    rgb, alpha = _sprite(walk.actor, obj_h, mirrored)
    return rgb, alpha, x, y


def _blend(canvas: U8, rgb: F32, alpha: F32, x: int, y: int) -> None:
    """Alpha-blend a float RGB picture into ``canvas`` at (x, y), clipped to the canvas."""
    height, width = canvas.shape[:2]
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        return
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    src = rgb[y0 - y : y1 - y, x0 - x : x1 - x]
    np.copyto(
        canvas[y0:y1, x0:x1], np.clip(region + a * (src - region) + 0.5, 0, 255), casting="unsafe"
    )


# --- ground truth --------------------------------------------------------------------------


def _visible_share(walk: Walk, t: float, width: int, height: int) -> float:
    """Share of the actor's silhouette inside the picture at ``t`` (0 when out of it)."""
    placed = _place(walk, t, width, height)
    if placed is None:
        return 0.0
    _, alpha, x, _ = placed
    columns = alpha.sum(axis=0)
    inside = columns[max(0, -x) : max(0, min(alpha.shape[1], width - x))]
    return float(inside.sum() / columns.sum())


def _entry(scene: Scene, walk: Walk, frames: int) -> Entry:
    """When ``walk``'s actor enters, is half in and has left, on the clip's frame times."""
    width, height = scene.width, scene.height
    _, obj_h = _size(walk, width, height)
    if walk.ground > 1.0 or walk.ground * height - obj_h * 1.03 < 0:
        raise ValueError(f"{scene.name}: {walk.actor} does not fit the picture vertically")
    enter = appear = leave = None
    for index in range(frames):
        t = index / scene.fps
        if t < walk.start:
            continue
        share = _visible_share(walk, t, width, height)
        if share > 0 and enter is None:
            enter = t
        if share >= 0.5 and appear is None:
            appear = t
        if share == 0 and enter is not None:
            leave = t
            break
    if enter is None or appear is None or leave is None:
        raise ValueError(
            f"{scene.name}: the {walk.actor} starting at {walk.start} s never "
            "crosses the picture within the clip"
        )
    return Entry(ACTOR_KIND[walk.actor], walk.actor, enter, appear, leave, obj_h / height)


def _check_gaps(scene: Scene, entries: tuple[Entry, ...]) -> None:
    ordered = sorted(entries, key=lambda entry: entry.enter)
    for before, after in itertools.pairwise(ordered):
        if after.enter - before.leave < MIN_QUIET_GAP_S:
            raise ValueError(
                f"{scene.name}: only {after.enter - before.leave:.1f} s between the entries at "
                f"{before.enter:.1f} s and {after.enter:.1f} s (at least {MIN_QUIET_GAP_S})"
            )


# --- encoding ------------------------------------------------------------------------------


def _bitrate(scene: Scene) -> int:
    """A sub-stream's budget: about 0.15 bit per pixel (640x360 at 12 fps: ~400 kbit/s)."""
    return max(200_000, round(scene.width * scene.height * scene.fps * 0.15 / 1000) * 1000)


def _frames(clip: LabelledClip) -> Iterator[av.VideoFrame]:
    scene = clip.scene
    rng = np.random.default_rng(zlib.crc32(scene.name.encode()))
    for index in range(clip.frames):
        frame = av.VideoFrame.from_ndarray(render(scene, index / scene.fps, rng), format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, scene.fps)
        yield frame


def _encode(clip: LabelledClip, target: Path) -> None:
    """Encode ``clip`` like a camera sub-stream (see the module docstring)."""
    kbps = clip.bitrate // 1000
    params = (
        f"keyint={clip.gop}:min-keyint={clip.gop}:scenecut=0:bframes=0"
        f":vbv-maxrate={kbps}:vbv-bufsize={kbps}"
    )
    with av.open(str(target), mode="w", format="mp4") as output:
        video = output.add_stream("libx264", rate=clip.scene.fps)
        assert isinstance(video, av.VideoStream)
        video.width = clip.scene.width
        video.height = clip.scene.height
        video.pix_fmt = "yuv420p"
        video.bit_rate = clip.bitrate
        # One thread: x264's frame threads under VBV do not give the same bits twice, and the
        # same recipe must give the same clip (the evaluation is to be repeatable).
        video.codec_context.thread_count = 1
        video.options = {"preset": clip.scene.preset, "x264-params": params}
        for frame in _frames(clip):
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
