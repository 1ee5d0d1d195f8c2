"""Object detection cost on this machine: inference, and a decoded frame to detections.

    PYTHONPATH=. .venv/bin/python bench/objects.py [--quick] [--frames 60] [--repeat 50]

Everything runs in this process, one frame after the other, as the NVR's detector worker runs
it. Three measurements:

* **inference**: ``Interpreter.invoke`` of the bundled model (MobileNet SSD v2, 300x300 uint8)
  on a 300x300 photograph, ``--repeat`` times after a warm-up, with 1 and 2 interpreter threads
  (``last_inference_ms``: invoke only). Wall time is the latency; CPU is the process's
  utime+stime over the same runs (every thread), the cost on a 2-core box;
* **frame to detections**, per stream (a 1920x1080 4 Mbit/s and a 640x360 512 kbit/s
  camera-like H.264 clip from ``tests/sim/media.py``, 15 fps, x264 superfast, a person crossing
  the photo mosaic) and per region, **full** (the whole frame squeezed into 300x300) or
  **crop** (``square_region`` around the person's true box, the motion box stand-in): decoding
  every frame (``new_decoder``: one thread, as the NVR decodes), then on each frame with the
  person wholly in view ``TFLiteDetector.detect(FramePicture(frame), region)`` with 2 threads:
  one libswscale pass, invoke, boxes mapped. ``end-to-end`` = decode + detect; ``det/s`` is
  1000 / end-to-end, what one worker sustains; ``CPU`` is utime+stime per frame;
* **picture preparation** on the same frames: ``FramePicture.rgb`` (scale the whole frame so
  the region becomes 300x300 in one sws pass, slice it out) against the **baseline**, the naive
  path: ``frame.to_ndarray(format="rgb24")`` at full size, then Pillow ``resize`` (bilinear) of
  the region. ``ratio`` = baseline / FramePicture. ``planes-first`` is an alternative measured
  for comparison, not what the product does: slice the region out of the yuv420p planes, then
  one sws pass on that small picture.

``person`` counts the analysed frames where a person is found at 0.6 or more (the default
minimum score) and gives the median best person score. Figures are medians over the frames
(mean for decoding, whose keyframes cost several P-frames). ``--quick`` halves the frames and
the repeats and skips the 1-thread inference: ~20 s once the clips exist (made once, cached in
``bench/out/``; the first run encodes them in ~30 s more).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
import importlib.metadata
import math
import os
from pathlib import Path
import platform
import statistics
import sys
import time
from typing import Final

import av
import numpy as np
from PIL import Image

from bench.buffering import git_revision
from custom_components.lookback.core.frames import new_decoder
from custom_components.lookback.core.objects.model import (
    BUNDLED_LABELS,
    BUNDLED_MODEL,
    BUNDLED_SHA256,
)
from custom_components.lookback.core.objects.picture import (
    FramePicture,
    ImagePicture,
    square_region,
)
from custom_components.lookback.core.objects.tflite import TFLiteDetector
from custom_components.lookback.core.objects.types import FULL_FRAME, RGB, Box
from tests.sim.media import Clip, _object_geometry, _object_left, _photo, make_clip

REPO: Final = Path(__file__).resolve().parent.parent
OUT_DIR: Final = REPO / "bench" / "out"
FPS: Final = 15
CLIP_SECONDS: Final = 8.0
MIN_SCORE: Final = 0.6


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream resolution to measure."""

    label: str
    width: int
    height: int
    bitrate: int


STREAMS: Final = (
    StreamSpec("1080p", 1920, 1080, 4_000_000),
    StreamSpec("640x360", 640, 360, 512_000),
)


@dataclass(slots=True)
class Samples:
    """Per-frame figures of one stream and region, in milliseconds."""

    detect: list[float] = field(default_factory=list)
    detect_cpu: list[float] = field(default_factory=list)
    invoke: list[float] = field(default_factory=list)
    prep: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    planes: list[float] = field(default_factory=list)
    person: list[float] = field(default_factory=list)
    """Best person score per frame (0 when none)."""


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What one stream gave."""

    spec: StreamSpec
    clip: Clip
    decoded: int
    decode_ms: float
    decode_cpu_ms: float
    regions: dict[str, Samples]
    crop_side_px: list[int]


def timed[T](call: Callable[[], T]) -> tuple[T, float, float]:
    """``call()``, its wall and process CPU time in milliseconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


# ------------------------------------------------------------------------------ inference


def inference(threads: int, repeat: int) -> tuple[float, float, float]:
    """Median and 90th percentile invoke wall ms, and CPU ms per invoke, with ``threads``."""
    detector = TFLiteDetector(
        BUNDLED_MODEL, BUNDLED_LABELS, num_threads=threads, expected_sha256=BUNDLED_SHA256
    )
    picture = ImagePicture(_photo("chelsea.png"))
    for _ in range(3):  # warm caches and the thread pool
        detector.detect(picture, FULL_FRAME)
    walls: list[float] = []
    cpu = time.process_time()
    for _ in range(repeat):
        detector.detect(picture, FULL_FRAME)
        assert detector.last_inference_ms is not None
        walls.append(detector.last_inference_ms)
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat  # includes the 300x300 resize
    detector.close()
    return statistics.median(walls), _percentile(walls, 0.9), cpu_ms


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# ------------------------------------------------------------------------------ frames


def decoded_frames(clip: Clip) -> Iterator[tuple[av.VideoFrame, float, float]]:
    """Every frame of the clip with its decode wall and CPU ms (one decoder thread)."""
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        decoder = new_decoder(stream)
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            frames, wall, cpu = timed(partial(decoder.decode, packet))
            for frame in frames:
                yield frame, wall / len(frames), cpu / len(frames)


def naive(frame: av.VideoFrame, region: Box, size: tuple[int, int]) -> RGB:
    """The baseline: the whole frame to RGB at full size, then Pillow resizes the region."""
    image = Image.fromarray(frame.to_ndarray(format="rgb24"))
    box = (
        region.x * frame.width,
        region.y * frame.height,
        (region.x + region.width) * frame.width,
        (region.y + region.height) * frame.height,
    )
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=box), dtype=np.uint8)


def planes_first(frame: av.VideoFrame, region: Box, size: tuple[int, int]) -> RGB:
    """An alternative measured beside the product's path (not what FramePicture does).

    Slice the region (even edges) out of the yuv420p planes in place, then one sws pass on that
    small picture.
    """
    assert frame.format.name == "yuv420p"
    width, height = frame.width, frame.height
    x0, y0 = int(region.x * width) // 2 * 2, int(region.y * height) // 2 * 2
    x1 = min(width, math.ceil((region.x + region.width) * width / 2) * 2)
    y1 = min(height, math.ceil((region.y + region.height) * height / 2) * 2)
    pieces = []
    for index, scale in ((0, 1), (1, 2), (2, 2)):
        plane = frame.planes[index]
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        pieces.append(rows[y0 // scale : y1 // scale, x0 // scale : x1 // scale].reshape(-1))
    crop = av.VideoFrame.from_ndarray(np.concatenate(pieces).reshape(-1, x1 - x0), "yuv420p")
    rgb = crop.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")
    return np.asarray(rgb, dtype=np.uint8)


def measure_stream(spec: StreamSpec, detector: TFLiteDetector, frames: int) -> StreamResult:
    """Decode the stream's clip; detect full-frame and cropped on frames with the person in."""
    clip = make_clip(
        OUT_DIR,
        width=spec.width,
        height=spec.height,
        fps=FPS,
        seconds=CLIP_SECONDS,
        gop_seconds=2.0,
        bitrate=spec.bitrate,
        motion=[(0.0, CLIP_SECONDS)],
        noise=2.0,
        preset="superfast",
    )
    obj_w, obj_h, top = _object_geometry(spec.width, spec.height)
    regions = {"full": Samples(), "crop": Samples()}
    sides: list[int] = []
    decode_wall: list[float] = []
    decode_cpu: list[float] = []
    analysed = 0
    for frame, wall, cpu in decoded_frames(clip):
        decode_wall.append(wall)
        decode_cpu.append(cpu)
        left = _object_left(float(frame.time or 0.0), clip.motion, spec.width, obj_w)
        if analysed >= frames or left is None or left < 0 or left + obj_w > spec.width:
            continue  # the person is not wholly in view: decoded, not analysed
        analysed += 1
        person = Box(left / spec.width, top / spec.height, obj_w / spec.width, obj_h / spec.height)
        crop = square_region([person], spec.width, spec.height)
        sides.append(round(crop.width * spec.width))
        # Alternate which region goes first, so caches warmed by one do not favour the other.
        order = (("full", FULL_FRAME), ("crop", crop))
        for name, region in order if analysed % 2 else order[::-1]:
            samples = regions[name]
            size = detector.input_size
            _, base_ms, _ = timed(partial(naive, frame, region, size))
            _, planes_ms, _ = timed(partial(planes_first, frame, region, size))
            _, prep_ms, _ = timed(partial(FramePicture(frame).rgb, region, size))
            found, detect_ms, detect_cpu = timed(
                partial(detector.detect, FramePicture(frame), region)
            )
            assert detector.last_inference_ms is not None
            samples.baseline.append(base_ms)
            samples.planes.append(planes_ms)
            samples.prep.append(prep_ms)
            samples.detect.append(detect_ms)
            samples.detect_cpu.append(detect_cpu)
            samples.invoke.append(detector.last_inference_ms)
            samples.person.append(max((d.score for d in found if d.label == "person"), default=0.0))
    return StreamResult(
        spec,
        clip,
        len(decode_wall),
        statistics.fmean(decode_wall),
        statistics.fmean(decode_cpu),
        regions,
        sides,
    )


# ------------------------------------------------------------------------------ report


def inference_table(rows: Sequence[tuple[int, tuple[float, float, float]]]) -> str:
    """Invoke figures per thread count, as a markdown table."""
    lines = [
        "| threads | invoke ms (median) | invoke ms (p90) | CPU ms per inference | inferences/s |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for threads, (median, p90, cpu) in rows:
        lines.append(f"| {threads} | {median:.1f} | {p90:.1f} | {cpu:.1f} | {1000 / median:.0f} |")
    return "\n".join(lines)


def stream_table(results: Sequence[StreamResult]) -> str:
    """Frame-to-detections figures per stream and region, as a markdown table."""
    lines = [
        (
            "| stream | region | frames | decode ms | prep ms: baseline / FramePicture (ratio) "
            "| planes-first ms "
            "| invoke ms | detect ms | end-to-end ms | det/s | CPU ms/frame | person >= 0.6 "
            "| person score |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for name, s in result.regions.items():
            med = statistics.median
            end_to_end = result.decode_ms + med(s.detect)
            cpu = result.decode_cpu_ms + med(s.detect_cpu)
            found = sum(score >= MIN_SCORE for score in s.person)
            lines.append(
                f"| {result.spec.label} | {name} | {len(s.detect)} | {result.decode_ms:.1f} "
                f"| {med(s.baseline):.1f} / {med(s.prep):.1f} ({med(s.baseline) / med(s.prep):.1f}x) "
                f"| {med(s.planes):.1f} "
                f"| {med(s.invoke):.1f} | {med(s.detect):.1f} | {end_to_end:.1f} "
                f"| {1000 / end_to_end:.1f} | {cpu:.1f} | {found}/{len(s.person)} "
                f"| {med(s.person):.2f} |"
            )
    return "\n".join(lines)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=60, help="analysed frames per stream")
    parser.add_argument("--repeat", type=int, default=50, help="invokes per thread count")
    parser.add_argument(
        "--quick", action="store_true", help="half the frames and repeats, 2 threads only"
    )
    args = parser.parse_args(argv)
    frames = max(1, args.frames // 2 if args.quick else args.frames)
    repeat = max(1, args.repeat // 2 if args.quick else args.repeat)
    began = time.perf_counter()
    thread_counts = (2,) if args.quick else (1, 2)
    inferences = []
    for threads in thread_counts:
        print(f"inference, {threads} thread(s) ...", file=sys.stderr, flush=True)
        inferences.append((threads, inference(threads, repeat)))
    detector = TFLiteDetector(
        BUNDLED_MODEL, BUNDLED_LABELS, num_threads=2, expected_sha256=BUNDLED_SHA256
    )
    results = []
    for spec in STREAMS:
        print(f"{spec.label}: making/reusing the clip, decoding ...", file=sys.stderr, flush=True)
        results.append(measure_stream(spec, detector, frames))
    detector.close()
    print(
        f"Object detection, revision {git_revision()}, {datetime.now(UTC):%Y-%m-%d}, Python "
        f"{platform.python_version()}, ai-edge-litert "
        f"{importlib.metadata.version('ai-edge-litert')}, PyAV {av.__version__} (FFmpeg "
        f"{av.ffmpeg_version_info}), {os.cpu_count()} CPUs {_cpu_model()}\n"
    )
    print(f"Inference only (bundled model, 300x300, {repeat} runs):\n")
    print(inference_table(inferences))
    print("\nA decoded frame to detections (2 interpreter threads):\n")
    print(stream_table(results))
    print()
    for result in results:
        sides = sorted(set(result.crop_side_px))
        print(
            f"{result.spec.label}: {result.clip.path.name}, "
            f"{result.clip.path.stat().st_size * 8 / CLIP_SECONDS / 1e6:.2f} Mbit/s, "
            f"{result.decoded} frames decoded; crop squares {sides[0]}-{sides[-1]} px"
        )
    print(f"\n{time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
