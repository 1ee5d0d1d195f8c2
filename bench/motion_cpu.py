"""Motion detection CPU: keyframe motion against decoding every frame (Frigate's approach).

One run measures, per stream resolution (a 1080p main stream and a 640x360 sub-stream, each a
camera-like H.264 clip served on N live RTSP mounts by tests/sim), the CPU per camera of three
worker set-ups on the same streams:

* buffering: StreamSource -> ClipRecorder.on_packet -> GopRing, as a camera does while idle
  (the floor both other sides share);
* lookback: the same buffering plus FrameFeed -> AnalysisWorker with the default MotionConfig,
  wired as CameraPipeline wires it (the demux thread calls ``recorder.on_packet`` then
  ``feed.put``). In a quiet scene the worker decodes one keyframe per GOP and analyses it;
* decode-all: the same buffering plus, per camera, one thread that decodes every video packet
  (PyAV, ``new_decoder``: one decoder thread) and runs the same MotionDetector on 5 frames a
  second, scaled the same way (``to_ndarray(format="gray", ...)`` at ``analysis_size``,
  area-averaged). That is what an NVR that decodes the stream for detection does (Frigate runs
  ffmpeg decoding every frame and analyses motion at its detect fps, 5 by default).

Each side is a fresh child process (this script with ``--worker``). The sides alternate
palindromically (round 1: lookback, decode-all, buffering; round 2 the reverse; ...) so slow
drift of a shared machine cancels out. Every phase connects, warms up (rings full, every
camera analysed at least once), then measures one window: utime+stime of the worker from
/proc/<pid>/stat, the run time of its threads by role from /proc/<pid>/task/<tid>/schedstat
(demux, analysis or decode, rest), the simulator apart, and the machine's busy share.

The clips are encoded with x264 ``superfast`` (``--preset``): High profile with CABAC and
deblocking, as cameras send; ``ultrafast`` (Constrained Baseline) decodes in about half the time.
The default scene is quiet: the static picture plus sensor noise of ~2 levels and no moving
object, the state a camera is in most of the time. ``--scene moving`` serves a clip where a
person crosses the picture without pause, so Lookback runs at full rate (every frame decoded,
5 a second analysed) the whole time: the worst case, not the normal one.

    PYTHONPATH=. .venv/bin/python bench/motion_cpu.py [--cameras 2] [--seconds 60] [--rounds 2]
        [--scene quiet|moving] [--streams main,sub] [--preset superfast] [--out r.json]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
import datetime as dt
import os
from pathlib import Path
import platform
import queue
import statistics
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from bench.buffering import (
    Sampler,
    Settings,
    Worker,
    add_out_and_worker,
    build_recorder,
    build_source,
    children,
    fmt,
    git_revision,
    memory_kib,
    rings_full,
    run_benchmark,
    scratch_dir,
    serve,
    worker_logging,
)
from custom_components.lookback.core.analysis import AnalysisWorker
from custom_components.lookback.core.frame_feed import FrameFeed
from custom_components.lookback.core.models import MotionConfig
from custom_components.lookback.core.motion_state import MotionPhase

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

    from custom_components.lookback.core.models import TimedPacket
    from custom_components.lookback.core.motion_state import MotionUpdate
    from custom_components.lookback.core.recorder import ClipRecorder
    from custom_components.lookback.core.ring import GopRing
    from custom_components.lookback.core.source import StreamSource

REPO: Final = Path(__file__).resolve().parent.parent
OUT_DIR: Final = REPO / "bench" / "out"
CLIP_SECONDS: Final = 60.0
STOP_TIMEOUT: Final = 10.0
SIDES: Final = ("lookback", "decode-all", "buffering")
DECODE_ALL_FPS: Final = 5.0  # Frigate's default detect fps
# Thread name prefixes -> role in the CPU breakdown.
ROLES: Final = (
    ("lookback-source-", "demux"),
    ("lookback-analysis-", "motion"),
    ("bench-decode-all-", "motion"),
)
MOVING_CROSSING_S: Final = 5.0  # --scene moving: a person enters every 5 s, no pause


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream resolution to measure."""

    label: str
    width: int
    height: int
    bitrate: int


# --- the worker (child process) --------------------------------------------------------------


class TimedAnalysisWorker(AnalysisWorker):
    """The product's worker, with the thread CPU of decoding and of analysis added up."""

    decode_cpu_s = 0.0
    analyse_cpu_s = 0.0

    def _decode(self, timed: TimedPacket) -> list[VideoFrame]:
        started = time.thread_time()
        try:
            return super()._decode(timed)
        finally:
            self.decode_cpu_s += time.thread_time() - started

    def _analyse(self, frame: VideoFrame, frame_time: float) -> None:
        started = time.thread_time()
        try:
            super()._analyse(frame, frame_time)
        finally:
            self.analyse_cpu_s += time.thread_time() - started


class DecodeAll(TimedAnalysisWorker):
    """The baseline: decode every video packet in a thread, analyse ``fps`` frames a second.

    The product's decoding and analysis (``new_decoder``; ``to_ndarray(format="gray")`` at
    ``analysis_size``, area-averaged; the MotionDetector and MotionTracker), fed every video
    packet from its own queue instead of a FrameFeed's keyframes, and analysing a frame whenever
    ``0.95 / fps`` s have passed (the AnalysisWorker's rule for "due" frames, without its
    "keyframes always").
    """

    def __init__(
        self, name: str, config: MotionConfig, fps: float, on_update: Callable[[MotionUpdate], None]
    ) -> None:
        """Build the detector and tracker; nothing runs before ``start``."""
        super().__init__(name, config, FrameFeed(), on_update)  # the feed is never read
        self._interval = 0.95 / fps
        self._queue: queue.SimpleQueue[TimedPacket | None] = queue.SimpleQueue()
        self.backlog_max = 0

    def put(self, timed: TimedPacket) -> None:
        """Queue a demuxed packet (demux thread; returns at once)."""
        if timed.is_video:
            self._queue.put(timed)

    def start(self) -> None:
        """Start the decode thread."""
        self._thread = threading.Thread(
            target=self._run, name=f"bench-decode-all-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = STOP_TIMEOUT) -> None:
        """Stop after the packets already queued."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while (timed := self._queue.get()) is not None:
            self.backlog_max = max(self.backlog_max, self._queue.qsize())
            for frame in self._decode(timed):
                self.frames_decoded += 1
                if self._due(timed.time, timed.is_keyframe):
                    self._analyse(frame, timed.time)

    def _due(self, time_: float, is_keyframe: bool) -> bool:  # keyframes get no priority
        return self._last_analysed is None or time_ - self._last_analysed >= self._interval

    @property
    def backlog(self) -> int:
        """Packets waiting for the decoder now."""
        return self._queue.qsize()


def _both(
    first: Callable[[TimedPacket], None], second: Callable[[TimedPacket], None]
) -> Callable[[TimedPacket], None]:
    """A packet sink that hands each packet to ``first``, then to ``second``."""

    def sink(timed: TimedPacket) -> None:
        first(timed)
        second(timed)

    return sink


@dataclass(slots=True)
class Camera:
    """One camera of a worker: buffering, plus the side's motion analysis."""

    ring: GopRing
    recorder: ClipRecorder
    source: StreamSource | None = None
    feed: FrameFeed | None = None
    analysis: TimedAnalysisWorker | None = None
    decode_all: DecodeAll | None = None
    connections: int = 0
    motion_started: int = 0
    motion_updates: int = 0

    def on_update(self, update: MotionUpdate) -> None:
        """Count motion updates and starts."""
        self.motion_updates += 1
        if update.phase is MotionPhase.STARTED:
            self.motion_started += 1

    def on_connection(self, connected: bool, _error: object) -> None:
        """Count connections; a dropped stream empties the ring and the feed."""
        if connected:
            self.connections += 1
        else:
            self.ring.clear()
            if self.feed is not None:
                self.feed.clear()


def run_worker(side: str, urls: Sequence[str], pre_roll: float, store_dir: Path) -> int:
    """Run one side's cameras; answer ``status`` on stdin, stop on ``quit`` or EOF."""
    from custom_components.lookback.core.storage import ClipStore

    worker_logging()
    store = ClipStore(store_dir)
    cameras: list[Camera] = []
    for index, url in enumerate(urls):
        config, ring, recorder = build_recorder(store, index, url, pre_roll)
        camera = Camera(ring, recorder)
        sink: Callable[[TimedPacket], None] = recorder.on_packet
        if side == "lookback":  # as CameraPipeline._record_and_analyse
            camera.feed = FrameFeed()
            camera.analysis = TimedAnalysisWorker(
                config.camera_id, MotionConfig(), camera.feed, camera.on_update
            )
            sink = _both(recorder.on_packet, camera.feed.put)
        elif side == "decode-all":
            camera.decode_all = DecodeAll(
                config.camera_id, MotionConfig(), DECODE_ALL_FPS, camera.on_update
            )
            sink = _both(recorder.on_packet, camera.decode_all.put)
        camera.source = build_source(config, recorder, sink, camera.on_connection)
        cameras.append(camera)

    def camera_status(camera: Camera) -> dict[str, Any]:
        assert camera.source is not None
        stats = camera.source.stats
        status: dict[str, Any] = {
            "connected": stats.connected,
            "connections": camera.connections,
            "packets": stats.packets,
            "fps": stats.fps,
            "bitrate_bps": stats.bitrate_bps,
            "width": stats.width,
            "height": stats.height,
            "reconnects": stats.reconnects,
            "stalls": stats.stalls,
            "dropped": stats.dropped_packets,
            "ring_seconds": camera.ring.duration,
            "ring_horizon_s": camera.ring.seconds,
            "ring_bytes": camera.ring.bytes,
            "motion_started": camera.motion_started,
            "motion_updates": camera.motion_updates,
        }
        if camera.analysis is not None:
            a = camera.analysis.stats
            status |= {
                "decoded": a.frames_decoded,
                "analysed": a.frames_analysed,
                "replaced": a.frames_replaced,
                "decode_errors": a.decode_errors,
                "recalibrations": a.recalibrations,
                "full_rate": a.full_rate,
                "last_analysis_ms": a.last_analysis_ms,
                "decode_cpu_s": camera.analysis.decode_cpu_s,
                "analyse_cpu_s": camera.analysis.analyse_cpu_s,
            }
        if camera.decode_all is not None:
            d = camera.decode_all
            status |= {
                "decoded": d.frames_decoded,
                "analysed": d.frames_analysed,
                "replaced": 0,
                "decode_errors": d.decode_errors,
                "recalibrations": d.detector.recalibrations,
                "backlog": d.backlog,
                "backlog_max": d.backlog_max,
                "last_analysis_ms": d.last_analysis_ms,
                "decode_cpu_s": d.decode_cpu_s,
                "analyse_cpu_s": d.analyse_cpu_s,
            }
        return status

    def status() -> dict[str, Any]:
        return {
            "memory_kib": memory_kib(),
            "threads": [[t.native_id, t.name] for t in threading.enumerate()],
            "cameras": [camera_status(camera) for camera in cameras],
        }

    def start() -> None:
        for camera in cameras:
            if camera.analysis is not None:
                camera.analysis.start()
            if camera.decode_all is not None:
                camera.decode_all.start()
            assert camera.source is not None
            camera.source.start()

    def stop() -> None:
        for camera in cameras:
            if camera.source is not None:
                camera.source.stop()
            if camera.analysis is not None:
                camera.analysis.stop(STOP_TIMEOUT)
            if camera.decode_all is not None:
                camera.decode_all.stop()
            camera.recorder.stop()

    return serve(status, start, stop)


# --- the parent: phases -----------------------------------------------------------------------


def thread_run_s(pid: int, tid: int) -> float | None:
    """On-CPU seconds of one thread (schedstat, nanoseconds), None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text(encoding="ascii")
    except FileNotFoundError, ProcessLookupError:
        return None
    return int(text.split()[0]) / 1e9


def role_of(thread_name: str) -> str:
    """A worker thread's role in the CPU breakdown."""
    for prefix, role in ROLES:
        if thread_name.startswith(prefix):
            return role
    return "other"


@dataclass(slots=True)
class Phase:
    """One measured window of one side on one stream."""

    stream: str
    side: str
    round: int
    wall_s: float
    cpu_s: float
    sched_s: float
    roles_s: dict[str, float]
    """Thread run time by role (schedstat): demux, motion; ``other`` is the rest of the process."""
    sim_cpu_s: float
    machine_busy_pct: float
    feed_datagrams_lost: int
    rss_kib: int
    cameras: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def pct(self, seconds: float, cameras: int) -> float:
        """Seconds of CPU in this window as a percentage of one core, per camera."""
        return 100.0 * seconds / self.wall_s / cameras


def _rates(before: dict[str, Any], after: dict[str, Any], wall: float) -> list[dict[str, Any]]:
    """Per camera: the after-status plus per-second rates over the window."""
    cameras = []
    for start, end in zip(before["cameras"], after["cameras"], strict=True):
        camera = dict(end)
        camera["packets_per_s"] = (end["packets"] - start["packets"]) / wall
        for key in ("decoded", "analysed", "replaced", "decode_cpu_s", "analyse_cpu_s"):
            if key in end:
                camera[f"{key}_per_s"] = (end[key] - start[key]) / wall
        camera["motion_started_in_window"] = end["motion_started"] - start["motion_started"]
        cameras.append(camera)
    return cameras


def _analysed_once(cameras: Sequence[dict[str, Any]]) -> bool:
    """Rings full and every camera's first frame analysed (buffering has nothing to analyse)."""
    return rings_full(cameras) and all(c.get("analysed", 1) > 0 for c in cameras)


def run_phase(stream: str, side: str, urls: Sequence[str], s: Settings, round_: int) -> Phase:
    """Start one side's worker, warm it up, measure one window, stop it."""
    work = s.work / f"{stream}-{side}-{round_}"
    worker = Worker(urls, s.pre_roll, work, script=Path(__file__), argv=[side], log_tail=20)
    try:
        before = worker.warm_up(
            s.warmup, _analysed_once, "the worker", "the rings to fill and the first analysis"
        )
        pid = worker.process.pid
        tids = {int(tid): role_of(name) for tid, name in before["threads"]}
        sampler = Sampler([pid], s)
        threads0 = {tid: thread_run_s(pid, tid) for tid in tids}
        time.sleep(s.window)
        threads1 = {tid: thread_run_s(pid, tid) for tid in tids}
        wall, cpu, sched, sim, busy, lost = sampler.take()
        after = worker.status()
    finally:
        worker.stop()
    roles: dict[str, float] = {"demux": 0.0, "motion": 0.0}
    for tid, role in tids.items():
        start, end = threads0[tid], threads1[tid]
        if role != "other" and start is not None and end is not None:
            roles[role] += end - start
    roles["other"] = max(0.0, sched - roles["demux"] - roles["motion"])
    return Phase(
        stream=stream,
        side=side,
        round=round_,
        wall_s=wall,
        cpu_s=cpu,
        sched_s=sched,
        roles_s=roles,
        sim_cpu_s=sim,
        machine_busy_pct=busy,
        feed_datagrams_lost=lost,
        rss_kib=after["memory_kib"]["VmRSS"],
        cameras=_rates(before, after, wall),
        warnings=worker.warnings(),
    )


# --- report -----------------------------------------------------------------------------------


def pooled(phases: Sequence[Phase], side: str, cameras: int, role: str | None = None) -> float:
    """%core per camera of a side over all its windows together (optionally one thread role)."""
    mine = [p for p in phases if p.side == side]
    cpu = sum(p.cpu_s if role is None else p.roles_s[role] for p in mine)
    return 100.0 * cpu / sum(p.wall_s for p in mine) / cameras


def work_split(phases: Sequence[Phase], side: str, cameras: int) -> dict[str, float | None]:
    """Where a side's motion thread goes: decoding, and analysis (scale + detect).

    Measured by the thread's own CPU clock around each call; %core per camera, ms per frame.
    """
    mine = [p for p in phases if p.side == side]
    wall = sum(p.wall_s for p in mine)
    totals: dict[str, float] = {}
    for key in ("decoded", "analysed", "decode_cpu_s", "analyse_cpu_s"):
        totals[key] = sum(c[f"{key}_per_s"] * p.wall_s for p in mine for c in p.cameras)
    return {
        "decoded_per_s": totals["decoded"] / wall / cameras,
        "analysed_per_s": totals["analysed"] / wall / cameras,
        "decode_core_pct": 100 * totals["decode_cpu_s"] / wall / cameras,
        "analyse_core_pct": 100 * totals["analyse_cpu_s"] / wall / cameras,
        "decode_ms_per_frame": 1000 * totals["decode_cpu_s"] / totals["decoded"]
        if totals["decoded"]
        else None,
        "analyse_ms_per_frame": 1000 * totals["analyse_cpu_s"] / totals["analysed"]
        if totals["analysed"]
        else None,
    }


def summarize(phases: Sequence[Phase], cameras: int, goal: float) -> dict[str, Any]:
    """Per stream: each side's CPU, the ratio decode-all/lookback overall and per round."""
    summary: dict[str, Any] = {}
    for stream in dict.fromkeys(p.stream for p in phases):
        mine = [p for p in phases if p.stream == stream]
        sides = {side: pooled(mine, side, cameras) for side in SIDES}
        motion = {side: pooled(mine, side, cameras, "motion") for side in SIDES[:2]}
        per_round: dict[int, float] = {}
        for round_ in sorted({p.round for p in mine}):
            pair = {p.side: p for p in mine if p.round == round_}
            look = pair["lookback"].pct(pair["lookback"].cpu_s, cameras)
            per_round[round_] = pair["decode-all"].pct(pair["decode-all"].cpu_s, cameras) / look
        ratio = sides["decode-all"] / sides["lookback"]
        added_look = sides["lookback"] - sides["buffering"]
        added_all = sides["decode-all"] - sides["buffering"]
        summary[stream] = {
            "core_pct_per_camera": sides,
            "motion_thread_core_pct_per_camera": motion,
            "demux_thread_core_pct_per_camera": {
                side: pooled(mine, side, cameras, "demux") for side in SIDES
            },
            "motion_thread_split": {side: work_split(mine, side, cameras) for side in SIDES[:2]},
            "ratio": ratio,
            "ratio_per_round": per_round,
            "ratio_median_of_rounds": statistics.median(per_round.values()),
            "added_over_buffering": {"lookback": added_look, "decode-all": added_all},
            "ratio_added_over_buffering": added_all / added_look if added_look > 0 else None,
            "ratio_motion_threads": motion["decode-all"] / motion["lookback"]
            if motion["lookback"] > 0
            else None,
            "goal_ratio": goal,
            "meets_goal": ratio >= goal,
        }
    return summary


def print_report(phases: Sequence[Phase], meta: dict[str, Any], summary: dict[str, Any]) -> None:
    """Human-readable tables."""
    n = meta["cameras"]
    print()
    print(
        f"{n} cameras per stream, {meta['fps']} fps H.264, GOP {meta['gop']} s, {meta['scene']} "
        f"scene; {meta['rounds']} rounds (sides palindromic), {meta['window_s']:.0f} s windows, "
        f"warm-up {meta['warmup_s']:.0f} s; decode-all analyses {DECODE_ALL_FPS:g} frames/s"
    )
    print(
        f"revision {meta['revision']}; {meta['date']}; Python {meta['python']}, PyAV "
        f"{meta['pyav']} (FFmpeg {meta['pyav_ffmpeg']}); {meta['cpus']} CPUs {meta['cpu_model']}"
    )
    for stream, info in meta["streams"].items():
        print(
            f"{stream}: {info['width']}x{info['height']}, clip {info['clip_bitrate_bps'] / 1e6:.2f} "
            f"Mbit/s (target {info['bitrate'] / 1e6:.2f}), {info['clip']}"
        )
    print()
    print(
        "stream round side        wall s  %core/cam  demux  motion  other  sched  sim %core"
        "  machine %  RSS MiB  pkt/s  dec/s  anl/s  motions  lost"
    )
    for p in phases:
        cams = p.cameras
        decoded = sum(c.get("decoded_per_s", 0.0) for c in cams) / len(cams)
        analysed = sum(c.get("analysed_per_s", 0.0) for c in cams) / len(cams)
        print(
            f"{p.stream:<6} {p.round:>5} {p.side:<10} {p.wall_s:7.1f} {p.pct(p.cpu_s, n):10.2f} "
            f"{p.pct(p.roles_s['demux'], n):6.2f} {p.pct(p.roles_s['motion'], n):7.2f} "
            f"{p.pct(p.roles_s['other'], n):6.2f} {p.pct(p.sched_s, n):6.2f} "
            f"{100 * p.sim_cpu_s / p.wall_s:10.1f} {p.machine_busy_pct:10.1f} "
            f"{p.rss_kib / 1024:8.1f} {sum(c['packets_per_s'] for c in cams) / len(cams):6.1f} "
            f"{decoded:6.2f} {analysed:6.2f} "
            f"{sum(c['motion_started_in_window'] for c in cams):8d} {p.feed_datagrams_lost:5d}"
        )
    print()
    print("CPU per camera, % of one core, all windows of a side pooled:")
    print(
        "stream  buffering  lookback  decode-all  decode-all/lookback  per round      "
        "added over buffering: L / D  ratio"
    )
    for stream, s in summary.items():
        c, added = s["core_pct_per_camera"], s["added_over_buffering"]
        rounds = " ".join(f"{r:.1f}" for r in s["ratio_per_round"].values())
        verdict = "meets" if s["meets_goal"] else "MISSES"
        if meta["scene"] != "quiet":
            verdict = "goal is for a quiet scene;"
        print(
            f"{stream:<6} {c['buffering']:10.2f} {c['lookback']:9.2f} {c['decode-all']:11.2f} "
            f"{s['ratio']:8.1f} ({verdict} {s['goal_ratio']:g}x)  {rounds:<14} "
            f"{added['lookback']:13.2f} / {added['decode-all']:5.2f}  "
            f"{fmt(s['ratio_added_over_buffering'], '5.1f')}"
        )
    print()
    print("The motion thread per camera (thread CPU clock around each decode and analysis call):")
    print(
        "stream side        thread %core  decoded/s  decode ms/frame  analysed/s  "
        "scale+detect ms/frame  decode %core  analyse %core"
    )
    for stream, s in summary.items():
        for side, w in s["motion_thread_split"].items():
            print(
                f"{stream:<6} {side:<10} {s['motion_thread_core_pct_per_camera'][side]:13.2f} "
                f"{w['decoded_per_s']:10.2f} {fmt(w['decode_ms_per_frame'], '16.2f')} "
                f"{w['analysed_per_s']:11.2f} {fmt(w['analyse_ms_per_frame'], '22.2f')} "
                f"{w['decode_core_pct']:13.2f} {w['analyse_core_pct']:14.2f}"
            )
        print(
            f"{stream:<6} ratio of the motion threads decode-all/lookback: "
            f"{fmt(s['ratio_motion_threads'], '.1f')}"
        )
    print()
    for p in phases:
        if p.side != "buffering":
            details = [
                f"replaced {c.get('replaced', 0)}, backlog {c.get('backlog', '-')} "
                f"(max {c.get('backlog_max', '-')}), decode errors {c.get('decode_errors', 0)}, "
                f"recalibrations {c.get('recalibrations')}, motions {c['motion_started']}"
                for c in p.cameras
            ]
            print(f"{p.stream} round {p.round} {p.side}: {'; '.join(details)}")
        if p.warnings:
            print(f"{p.stream} {p.side} round {p.round} warnings:", *p.warnings[-5:], sep="\n  ")
    if any(p.feed_datagrams_lost for p in phases):
        print("\nNOTE: the simulator's UDP feed lost datagrams during some windows")


# --- main -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _motion_intervals(scene: str) -> list[tuple[float, float]]:
    if scene == "quiet":
        return []
    steps = int(CLIP_SECONDS / MOVING_CROSSING_S)
    return [(i * MOVING_CROSSING_S, (i + 1) * MOVING_CROSSING_S) for i in range(steps)]


def benchmark(args: argparse.Namespace, specs: Sequence[StreamSpec]) -> dict[str, Any]:
    """Make the clips; per stream serve it, run the phases; return everything measured."""
    import av

    from custom_components.lookback.core.nvr import RING_MARGIN_S
    from tests.sim.camera import SimulatedCamera
    from tests.sim.media import make_clip

    warmup = args.pre_roll + RING_MARGIN_S + args.gop + 1.0
    meta: dict[str, Any] = {
        "cameras": args.cameras,
        "fps": args.fps,
        "gop": args.gop,
        "scene": args.scene,
        "noise": args.noise,
        "preset": args.preset,
        "pre_roll": args.pre_roll,
        "rounds": args.rounds,
        "window_s": args.seconds / args.rounds,
        "warmup_s": warmup,
        "decode_all_fps": DECODE_ALL_FPS,
        "goal_ratio": args.goal,
        "streams": {},
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "revision": git_revision(),
        "pyav": av.__version__,
        "pyav_ffmpeg": av.ffmpeg_version_info,
    }
    clips = {}
    for spec in specs:
        print(f"making/reusing the {spec.label} clip in {OUT_DIR} ...", flush=True)
        clip = make_clip(
            OUT_DIR,
            width=spec.width,
            height=spec.height,
            fps=args.fps,
            seconds=CLIP_SECONDS,
            gop_seconds=args.gop,
            bitrate=spec.bitrate,
            motion=_motion_intervals(args.scene),
            noise=args.noise,
            preset=args.preset,
        )
        clips[spec.label] = clip
        meta["streams"][spec.label] = {
            **asdict(spec),
            "clip": str(clip.path),
            "clip_bitrate_bps": clip.path.stat().st_size * 8 / clip.duration,
        }
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="lookback-motion-", dir=scratch_dir()) as tmp:
        for spec in specs:
            mounts = {f"/{spec.label}{i + 1}": clips[spec.label] for i in range(args.cameras)}
            camera = SimulatedCamera(mounts, mode="live")
            camera.start()
            try:
                urls = [camera.url_for(path) for path in mounts]
                sim_pids = children(os.getpid())  # the server and its feeders, nothing else
                settings = Settings(
                    args.cameras, args.seconds / args.rounds, args.rounds, warmup, args.pre_roll,
                    args.gop, Path(tmp), sim_pids, camera.server_pid,
                )  # fmt: skip
                for round_ in range(1, args.rounds + 1):
                    order = SIDES if round_ % 2 else tuple(reversed(SIDES))
                    for side in order:
                        print(f"{spec.label} round {round_}: {side} ...", flush=True)
                        phases.append(run_phase(spec.label, side, urls, settings, round_))
                        time.sleep(1.0)  # let the server tear the media down
            finally:
                camera.stop()
    summary = summarize(phases, args.cameras, args.goal)
    print_report(phases, meta, summary)
    return {"meta": meta, "summary": summary, "phases": [asdict(p) for p in phases]}


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line; run the benchmark or, with ``--worker``, one side."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=2, help="cameras (mounts) per stream")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured s per side+stream")
    parser.add_argument("--rounds", type=int, default=2, help="rounds sharing --seconds")
    parser.add_argument("--streams", default="main,sub", help="which of main,sub to measure")
    parser.add_argument("--main-size", type=_size, default=(1920, 1080), metavar="WxH")
    parser.add_argument("--main-bitrate", type=int, default=4_000_000, help="bit/s")
    parser.add_argument("--sub-size", type=_size, default=(640, 360), metavar="WxH")
    parser.add_argument("--sub-bitrate", type=int, default=512_000, help="bit/s")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--gop", type=float, default=2.0, help="seconds")
    parser.add_argument("--noise", type=float, default=2.0, help="sensor noise, 8-bit levels")
    parser.add_argument(
        "--preset",
        default="superfast",
        help="x264 preset of the clips; superfast gives High profile with CABAC and deblocking, "
        "as cameras send (ultrafast: Constrained Baseline, about half the decoding work)",
    )
    parser.add_argument("--scene", choices=("quiet", "moving"), default="quiet")
    parser.add_argument("--pre-roll", type=float, default=5.0, help="seconds")
    parser.add_argument("--goal", type=float, default=5.0, help="decode-all/lookback goal")
    add_out_and_worker(parser, "SIDE URL")
    args = parser.parse_args(argv)
    if args.worker:
        assert args.store is not None
        assert args.worker[0] in SIDES
        return run_worker(args.worker[0], args.worker[1:], args.pre_roll, args.store)
    if args.cameras < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--cameras, --rounds and --seconds must be positive")
    known = {
        "main": StreamSpec("main", args.main_size[0], args.main_size[1], args.main_bitrate),
        "sub": StreamSpec("sub", args.sub_size[0], args.sub_size[1], args.sub_bitrate),
    }
    labels = [label.strip() for label in args.streams.split(",") if label.strip()]
    if not labels or any(label not in known for label in labels):
        parser.error("--streams takes main, sub or main,sub")
    return run_benchmark(lambda: benchmark(args, [known[label] for label in labels]), args.out)


if __name__ == "__main__":
    sys.exit(main())
