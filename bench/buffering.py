"""Buffering benchmark: Lookback's idle buffering against ``ffmpeg -c copy -f segment``.

One run serves one camera-like clip on N live RTSP mounts (tests/sim) and measures, on those
same streams, the CPU of

* lookback: one worker process (this script with ``--worker``) running N StreamSources, each
  feeding its ClipRecorder and GopRing exactly as a camera does while no event is open;
* ffmpeg: N Debian ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`` processes;

plus the worker's RSS growth against N x bitrate x (pre-roll + GOP). The sides run one after
the other in ABBA order (``--rounds`` 2: lookback, ffmpeg, ffmpeg, lookback), each phase after
the same warm-up (connected, rings full), so slow drift of the machine cancels out. CPU is
utime+stime from /proc/<pid>/stat (with the per-thread schedstat run time as a cross-check);
the simulator's own processes (GStreamer server, ffmpeg feeders) are measured apart.

    PYTHONPATH=. .venv/bin/python bench/buffering.py [--cameras 4] [--seconds 60] [--out r.json]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
import contextlib
from dataclasses import asdict, dataclass, field
import json
import logging
import os
from pathlib import Path
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from custom_components.lookback.core.models import CameraConfig, TimedPacket
    from custom_components.lookback.core.recorder import ClipRecorder
    from custom_components.lookback.core.ring import GopRing
    from custom_components.lookback.core.source import StreamSource
    from custom_components.lookback.core.storage import ClipStore

REPO: Final = Path(__file__).resolve().parent.parent
OUT_DIR: Final = REPO / "bench" / "out"
CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
FFMPEG: Final = "/usr/bin/ffmpeg"
CLIP_SECONDS: Final = 60.0
CONNECT_TIMEOUT: Final = 60.0  # the simulator prepares live mounts one GOP apart
STOP_TIMEOUT: Final = 10.0
MiB: Final = 1024 * 1024

_SPAWNED: list[subprocess.Popen[bytes]] = []  # every child we start; main() reaps survivors


def spawn(command: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a child in its own session (Ctrl-C reaches only us) and remember it."""
    process = subprocess.Popen(command, start_new_session=True, **kwargs)  # noqa: S603
    _SPAWNED.append(process)
    return process


def reap_all() -> None:
    """Kill and wait for any child still alive (the safety net behind every ``finally``)."""
    for process in _SPAWNED:
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    _SPAWNED.clear()


# --- /proc ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads, also exited ones)."""
    text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = text[text.rindex(")") + 2 :].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sched_seconds(pid: int) -> float:
    """On-CPU seconds of a process's live threads, in nanoseconds precision (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += int((task / "schedstat").read_text(encoding="ascii").split()[0])
    return total / 1e9


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM and RssAnon of a process, in KiB."""
    wanted = {"VmRSS", "VmHWM", "RssAnon"}
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            found[key] = int(value.split()[0])
    return found


def children(pid: int) -> list[int]:
    """Direct children of a process."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            pids += [int(p) for p in (task / "children").read_text(encoding="ascii").split()]
    return pids


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with Path("/proc/stat").open(encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def udp_drops(pid: int | None) -> int:
    """Datagrams dropped (receive buffer full) on the UDP sockets a process holds.

    The simulator feeds its RTSP server MPEG-TS over loopback UDP: drops there are media lost
    before either side sees it (keyframes arrive truncated).
    """
    if pid is None:
        return 0
    inodes: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    drops = 0
    for name in ("udp", "udp6"):
        lines = Path(f"/proc/net/{name}").read_text(encoding="ascii").splitlines()[1:]
        for fields in (line.split() for line in lines):
            if fields[9] in inodes:
                drops += int(fields[12])
    return drops


RMEM_DEFAULT: Final = Path("/proc/sys/net/core/rmem_default")


@contextlib.contextmanager
def rmem_default(size: int) -> Iterator[None]:
    """Raise the default socket receive buffer for the block (0: leave it alone)."""
    if not size:
        yield
        return
    previous = RMEM_DEFAULT.read_text(encoding="ascii").strip()
    RMEM_DEFAULT.write_text(str(size), encoding="ascii")
    try:
        yield
    finally:
        RMEM_DEFAULT.write_text(previous, encoding="ascii")


# --- the Lookback worker (child process) ----------------------------------------------------


def worker_logging() -> None:
    """Log INFO and up to stderr (the parent keeps it in the worker's log file)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s",
    )


def build_recorder(
    store: ClipStore, index: int, url: str, pre_roll: float
) -> tuple[CameraConfig, GopRing, ClipRecorder]:
    """Camera ``index``'s config, ring and recorder, with no event open.

    Built the way CameraPipeline builds a camera (core/nvr.py), minus the event loop.
    """
    from custom_components.lookback.core.models import CameraConfig
    from custom_components.lookback.core.nvr import RING_MARGIN_S
    from custom_components.lookback.core.recorder import ClipRecorder, RecorderOptions
    from custom_components.lookback.core.ring import GopRing

    name = f"cam{index + 1}"
    config = CameraConfig(camera_id=name, name=name, url=url, pre_roll=pre_roll)
    ring = GopRing(config.pre_roll + RING_MARGIN_S, config.ring_max_bytes)
    recorder = ClipRecorder(
        config.camera_id,
        ring,
        store,
        RecorderOptions(max_clip_seconds=config.max_clip_seconds, audio_policy=config.audio_policy),
        on_clip=lambda _clip: None,
    )
    return config, ring, recorder


def build_source(
    config: CameraConfig,
    recorder: ClipRecorder,
    on_packet: Callable[[TimedPacket], None],
    on_connection: Callable[[bool, object], None],
) -> StreamSource:
    """The camera's StreamSource, handing packets to ``on_packet`` and streams to the recorder."""
    from custom_components.lookback.core.source import SourceOptions, StreamSource

    return StreamSource(
        config.camera_id,
        SourceOptions(
            url=config.url, transport=config.transport, stall_timeout=config.stall_timeout
        ),
        on_packet=on_packet,
        on_connection=on_connection,
        on_streams=recorder.on_streams,
    )


def serve(
    status: Callable[[], dict[str, Any]], start: Callable[[], None], stop: Callable[[], None]
) -> int:
    """The worker's line protocol: baseline memory, ``start()``, then ``status`` answers.

    Prints one JSON line (baseline memory) before ``start()``, then one JSON status line per
    ``status`` command; ``quit`` or EOF ends it, and ``stop()`` runs whatever happened.
    """
    print(json.dumps({"baseline_memory_kib": memory_kib()}), flush=True)
    try:
        start()
        for line in sys.stdin:
            command = line.strip()
            if command == "status":
                print(json.dumps(status()), flush=True)
            elif command == "quit":
                break
    finally:
        stop()
    return 0


def run_worker(urls: Sequence[str], pre_roll: float, store_dir: Path) -> int:
    """Buffer every URL as a Lookback camera does while idle; answer ``status`` on stdin."""
    from custom_components.lookback.core.storage import ClipStore

    worker_logging()
    store = ClipStore(store_dir)
    rings: list[GopRing] = []
    recorders: list[ClipRecorder] = []
    sources: list[StreamSource] = []
    connections = [0] * len(urls)

    def counter(index: int) -> Callable[[bool, object], None]:
        def on_connection(connected: bool, _error: object) -> None:
            if connected:
                connections[index] += 1

        return on_connection

    for index, url in enumerate(urls):
        config, ring, recorder = build_recorder(store, index, url, pre_roll)
        source = build_source(config, recorder, recorder.on_packet, counter(index))
        rings.append(ring)
        recorders.append(recorder)
        sources.append(source)

    def status() -> dict[str, Any]:
        cameras = []
        for source, ring, made in zip(sources, rings, connections, strict=True):
            stats = source.stats
            cameras.append(
                {
                    "connected": stats.connected,
                    "connections": made,
                    "packets": stats.packets,
                    "fps": stats.fps,
                    "bitrate_bps": stats.bitrate_bps,
                    "keyframe_interval_s": stats.keyframe_interval_s,
                    "reconnects": stats.reconnects,
                    "stalls": stats.stalls,
                    "dropped": stats.dropped_packets,
                    "merged": stats.merged_packets,
                    "last_error": stats.last_error,
                    "ring_bytes": ring.bytes,
                    "ring_seconds": ring.duration,
                    "ring_packets": len(ring),
                    "ring_horizon_s": ring.seconds,
                    "evicted_for_bytes": ring.evicted_for_bytes,
                }
            )
        return {"memory_kib": memory_kib(), "threads": threading.active_count(), "cameras": cameras}

    def start() -> None:
        for source in sources:
            source.start()

    def stop() -> None:
        for source in sources:
            source.stop()
        for recorder in recorders:
            recorder.stop()

    return serve(status, start, stop)


# --- the parent: phases ---------------------------------------------------------------------


@dataclass(slots=True)
class Phase:
    """One measured window of one side."""

    side: str
    round: int
    wall_s: float
    cpu_s: float
    sched_s: float
    sim_cpu_s: float
    machine_busy_pct: float
    feed_datagrams_lost: int
    processes: int
    memory_kib: list[dict[str, int]]
    extra: dict[str, Any] = field(default_factory=dict)

    def core_pct_per_camera(self, cameras: int) -> float:
        """CPU as a percentage of one core, per camera."""
        return 100.0 * self.cpu_s / self.wall_s / cameras


@dataclass(slots=True)
class Settings:
    """What one run measures."""

    cameras: int
    window: float
    rounds: int
    warmup: float
    pre_roll: float
    gop: float
    work: Path
    sim_pids: list[int]
    """The simulator's server and feeders (measured apart)."""
    server_pid: int | None


class Sampler:
    """CPU counters of the measured processes, the simulator and the whole machine."""

    def __init__(self, pids: Sequence[int], settings: Settings) -> None:
        """Take the first sample."""
        self.pids = list(pids)
        self.sim_pids = settings.sim_pids
        self.server = settings.server_pid
        self.t0 = time.monotonic()
        self.cpu0 = sum(cpu_seconds(p) for p in self.pids)
        self.sched0 = sum(sched_seconds(p) for p in self.pids)
        self.sim0 = sum(cpu_seconds(p) for p in self.sim_pids)
        self.busy0 = machine_busy_ticks()
        self.lost0 = udp_drops(self.server)

    def take(self) -> tuple[float, float, float, float, float, int]:
        """Take the second sample; return the differences over the window.

        (wall s, CPU s, schedstat s, simulator CPU s, machine busy %, feed datagrams lost), as
        Phase's fields of those names: utime+stime and the live threads' run time of the
        measured processes, utime+stime of the simulator's.
        """
        cpu = sum(cpu_seconds(p) for p in self.pids) - self.cpu0
        sched = sum(sched_seconds(p) for p in self.pids) - self.sched0
        sim = sum(cpu_seconds(p) for p in self.sim_pids) - self.sim0
        busy1 = machine_busy_ticks()
        wall = time.monotonic() - self.t0
        busy = 100.0 * (busy1[0] - self.busy0[0]) / max(1, busy1[1] - self.busy0[1])
        lost = udp_drops(self.server) - self.lost0
        return wall, cpu, sched, sim, busy, lost

    def finish(self, side: str, round_: int) -> Phase:
        """Take the second sample; the differences and the processes' memory as a Phase."""
        window = self.take()
        memory = [memory_kib(p) for p in self.pids]
        return Phase(side, round_, *window, len(self.pids), memory)


def _stop_process(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal a child, wait for it, kill it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Worker:
    """A benchmark's worker process (this or another script's ``--worker``) and its protocol."""

    def __init__(
        self,
        urls: Sequence[str],
        pre_roll: float,
        work: Path,
        *,
        script: Path = Path(__file__),
        argv: Sequence[str] = (),
        log_tail: int | None = None,
    ) -> None:
        """Start ``script --worker *argv *urls`` in its own session (Ctrl-C reaches the parent).

        ``log_tail``: how many lines of the worker's log an error quotes (None: all of it).
        """
        work.mkdir(parents=True, exist_ok=True)
        self.log_path = work / "worker.log"
        self.log_tail = log_tail
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        command = [sys.executable, str(script.resolve()), "--worker", *argv, *urls]
        command += ["--pre-roll", str(pre_roll), "--store", str(work / "store")]
        with self.log_path.open("wb") as log:
            self.process = spawn(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env
            )
        try:
            self.baseline: dict[str, int] = self._read()["baseline_memory_kib"]
        except BaseException:
            self.stop()
            raise

    def _read(self, timeout: float = 20.0) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else b""
        if not line:
            log = self.log() if self.log_tail is None else _tail(self.log(), self.log_tail)
            raise RuntimeError(f"the worker did not answer:\n{log}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def status(self) -> dict[str, Any]:
        """Ask for the cameras' statistics and the worker's memory."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"status\n")
        stdin.flush()
        return self._read()

    def log(self) -> str:
        """What the worker logged."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def warnings(self) -> list[str]:
        """The warning and error lines of its log."""
        return [
            line for line in self.log().splitlines() if " WARNING " in line or " ERROR " in line
        ]

    def warm_up(
        self, warmup: float, ready: Callable[[list[dict[str, Any]]], bool], who: str, what: str
    ) -> dict[str, Any]:
        """Wait for every camera to connect, then ``warmup`` s, then for ``ready(cameras)``.

        ``who`` and ``what`` name the two waits in a time-out's message. Returns the status then.
        """

        def detail() -> str:
            return f"{self.status()['cameras']}\nworker log:\n{_tail(self.log())}"

        connected = _wait_until(
            lambda: all(c["connected"] for c in self.status()["cameras"]),
            f"{who} to connect",
            detail,
        )
        time.sleep(max(0.0, connected + warmup - time.monotonic()))
        _wait_until(lambda: ready(self.status()["cameras"]), what, detail)
        return self.status()

    def stop(self) -> None:
        """Ask it to quit (EOF also does), then make sure it is gone."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.process.stdin.write(b"quit\n")
                self.process.stdin.close()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop_process(self.process, signal.SIGTERM)
        if self.process.stdout is not None:
            self.process.stdout.close()


def rings_full(cameras: Sequence[dict[str, Any]]) -> bool:
    """Every camera connected with its ring holding its whole horizon."""
    return all(c["connected"] and c["ring_seconds"] >= c["ring_horizon_s"] for c in cameras)


def _wait_until(
    ready: Callable[[], bool],
    what: str,
    detail: Callable[[], str],
    timeout: float = CONNECT_TIMEOUT,
) -> float:
    """Poll ``ready()`` every 0.25 s; return the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}:\n{detail()}")
        time.sleep(0.25)
    return time.monotonic()


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run_lookback(urls: Sequence[str], s: Settings, round_: int) -> Phase:
    """Warm the worker up (connected, rings full), then measure one window."""
    worker = Worker(urls, s.pre_roll, s.work / f"lookback{round_}")
    try:
        before = worker.warm_up(
            s.warmup, rings_full, "the lookback worker", "the lookback rings to fill"
        )
        sampler = Sampler([worker.process.pid], s)
        time.sleep(s.window)
        phase = sampler.finish("lookback", round_)
        after = worker.status()
    finally:
        worker.stop()
    for camera, start in zip(after["cameras"], before["cameras"], strict=True):
        camera["packets_per_s"] = (camera["packets"] - start["packets"]) / phase.wall_s
    phase.extra = {
        "baseline_memory_kib": worker.baseline,
        "status": after,
        "log_warnings": worker.warnings(),
        "connections_logged": worker.log().count(": connected to "),
    }
    return phase


def _dir_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


def run_ffmpeg(urls: Sequence[str], s: Settings, round_: int) -> Phase:
    """Start one ``ffmpeg -c copy -f segment`` per URL, warm up, measure one window."""
    root = s.work / f"ffmpeg{round_}"
    processes: list[subprocess.Popen[bytes]] = []
    dirs: list[Path] = []
    try:
        for index, url in enumerate(urls):
            directory = root / f"cam{index + 1}"
            directory.mkdir(parents=True)
            dirs.append(directory)
            command = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error"]
            command += ["-rtsp_transport", "tcp", "-i", url, "-c", "copy", "-f", "segment"]
            command += ["-segment_time", "10", "-reset_timestamps", "1"]
            command += [str(directory / "seg%03d.mp4")]
            with (root / f"cam{index + 1}.log").open("wb") as log:
                processes.append(
                    spawn(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
                )

        def detail() -> str:
            logs = "".join(
                (root / f"cam{i + 1}.log").read_text(errors="replace") for i in range(len(urls))
            )
            return f"bytes written: {[_dir_bytes(d) for d in dirs]}\nffmpeg stderr:\n{_tail(logs)}"

        def flowing() -> bool:
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"an ffmpeg client exited early:\n{detail()}")
            return all(_dir_bytes(d) >= 64 * 1024 for d in dirs)

        connected = _wait_until(flowing, "the ffmpeg clients to receive data", detail)
        time.sleep(max(0.0, connected + s.warmup - time.monotonic()))
        written0 = [_dir_bytes(d) for d in dirs]
        sampler = Sampler([p.pid for p in processes], s)
        time.sleep(s.window)
        phase = sampler.finish("ffmpeg", round_)
        written = [_dir_bytes(d) - w for d, w in zip(dirs, written0, strict=True)]
        alive = [p.poll() is None for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            _stop_process(process, signal.SIGKILL)
    errors = "".join(
        (root / f"cam{i + 1}.log").read_text(errors="replace") for i in range(len(urls))
    )
    phase.extra = {
        "received_bps": [8 * w / phase.wall_s for w in written],
        "alive_at_end": alive,
        "stderr": errors[-4000:],
    }
    shutil.rmtree(root, ignore_errors=True)  # the segments (tmpfs memory)
    return phase


# --- report -----------------------------------------------------------------------------


def pooled(phases: Sequence[Phase], side: str, cameras: int) -> float:
    """CPU % of one core per camera over all of a side's windows together."""
    mine = [p for p in phases if p.side == side]
    return 100.0 * sum(p.cpu_s for p in mine) / sum(p.wall_s for p in mine) / cameras


def summarize(phases: Sequence[Phase], meta: dict[str, Any]) -> dict[str, Any]:
    """Ratios and memory figures from the phases."""
    n = meta["cameras"]
    look = pooled(phases, "lookback", n)
    ff = pooled(phases, "ffmpeg", n)
    per_round = {}
    for round_ in sorted({p.round for p in phases}):
        pair = {p.side: p for p in phases if p.round == round_}
        per_round[round_] = pair["lookback"].core_pct_per_camera(n) / max(
            1e-9, pair["ffmpeg"].core_pct_per_camera(n)
        )
    lookback_phases = [p for p in phases if p.side == "lookback"]
    growth = [
        (p.memory_kib[0]["VmRSS"] - p.extra["baseline_memory_kib"]["VmRSS"]) * 1024
        for p in lookback_phases
    ]
    ring = [sum(c["ring_bytes"] for c in p.extra["status"]["cameras"]) for p in lookback_phases]
    rate = meta["clip_bitrate_bps"] / 8
    return {
        "lookback_core_pct_per_camera": look,
        "ffmpeg_core_pct_per_camera": ff,
        "ratio": look / ff if ff else float("inf"),
        "ratio_per_round": per_round,
        "ratio_median_of_rounds": statistics.median(per_round.values()),
        "goal_ratio": 1.2,
        "rss_growth_bytes": growth,
        "ring_bytes": ring,
        "expected_ring_bytes_issue": n * rate * (meta["pre_roll"] + meta["gop"]),
        "expected_ring_bytes_product": n
        * rate
        * (meta["pre_roll"] + meta["ring_margin"] + meta["gop"]),
    }


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted, or ``-`` for None."""
    return "-" if value is None else format(value, spec)


def print_report(phases: Sequence[Phase], meta: dict[str, Any], summary: dict[str, Any]) -> None:
    """Human-readable tables."""
    n = meta["cameras"]
    print()
    print(
        f"{n} cameras, {meta['width']}x{meta['height']} {meta['fps']} fps H.264, GOP {meta['gop']} s, "
        f"clip {meta['clip_bitrate_bps'] / 1e6:.2f} Mbit/s (target {meta['bitrate'] / 1e6:.2f}), "
        f"pre-roll {meta['pre_roll']} s (+{meta['ring_margin']} s ring margin), "
        f"{meta['rounds']} rounds ABBA, {meta['window_s']:.0f} s windows, warm-up {meta['warmup_s']:.0f} s"
    )
    print(
        f"revision {meta['revision']}; Python {meta['python']}, PyAV {meta['pyav']} "
        f"(FFmpeg {meta['pyav_ffmpeg']}); {meta['ffmpeg']}; {meta['cpus']} CPUs"
    )
    print()
    print(
        "round side       wall s  CPU s  %core/cam  sched %core/cam  sim %core  machine %"
        "  RSS MiB  feed lost"
    )
    for p in phases:
        rss = sum(m.get("VmRSS", 0) for m in p.memory_kib) / 1024
        print(
            f"{p.round:>5} {p.side:<9} {p.wall_s:7.1f} {p.cpu_s:6.2f} {p.core_pct_per_camera(n):10.2f} "
            f"{100 * p.sched_s / p.wall_s / n:16.2f} {100 * p.sim_cpu_s / p.wall_s:10.1f} "
            f"{p.machine_busy_pct:10.1f} {rss:8.1f} {p.feed_datagrams_lost:10d}"
        )
    print()
    look, ff = summary["lookback_core_pct_per_camera"], summary["ffmpeg_core_pct_per_camera"]
    verdict = "meets" if summary["ratio"] <= summary["goal_ratio"] else "MISSES"
    print(f"lookback {look:.2f} %core/camera, ffmpeg copy {ff:.2f} %core/camera")
    rounds = list(summary["ratio_per_round"].values())
    print(
        f"ratio lookback/ffmpeg {summary['ratio']:.2f} over all windows; per round "
        + ", ".join(f"{r:.2f}" for r in rounds)
        + f" (median {summary['ratio_median_of_rounds']:.2f}, range {min(rounds):.2f}-{max(rounds):.2f})"
        + f"; {verdict} the {summary['goal_ratio']}x goal"
    )
    print()
    for p, growth, ring in zip(
        [p for p in phases if p.side == "lookback"],
        summary["rss_growth_bytes"],
        summary["ring_bytes"],
        strict=True,
    ):
        base = p.extra["baseline_memory_kib"]["VmRSS"] / 1024
        now = p.memory_kib[0]
        print(
            f"lookback round {p.round}: RSS {now['VmRSS'] / 1024:.1f} MiB (baseline after imports "
            f"{base:.1f}, peak {now['VmHWM'] / 1024:.1f}), growth {growth / MiB:.1f} MiB = "
            f"{growth / MiB / n:.2f} MiB/camera; rings hold {ring / MiB:.1f} MiB"
        )
    print(
        f"expected ring: N x bitrate/8 x (pre-roll + GOP) = "
        f"{summary['expected_ring_bytes_issue'] / MiB:.1f} MiB; product bound with the ring "
        f"margin = {summary['expected_ring_bytes_product'] / MiB:.1f} MiB"
    )
    print()
    last = [p for p in phases if p.side == "lookback"][-1]
    print(
        "camera  pkt/s   fps  Mbit/s  GOP s  ring s  ring MiB  ring Mbit/s  conn  reconn  stalls"
        "  drop  merged"
    )
    for index, c in enumerate(last.extra["status"]["cameras"]):
        print(
            f"cam{index + 1:<4} {c['packets_per_s']:5.1f} {fmt(c['fps'], '5.1f')} "
            f"{fmt(c['bitrate_bps'] and c['bitrate_bps'] / 1e6, '7.2f')} "
            f"{fmt(c['keyframe_interval_s'], '6.2f')} {c['ring_seconds']:7.2f} "
            f"{c['ring_bytes'] / MiB:9.2f} "
            f"{fmt(c['ring_seconds'] and 8 * c['ring_bytes'] / c['ring_seconds'] / 1e6, '12.2f')} "
            f"{c['connections']:5d} {c['reconnects']:7d} "
            f"{c['stalls']:7d} {c['dropped']:5d} {c['merged']:7d}"
        )
    if any(p.feed_datagrams_lost for p in phases):
        print(
            "\nNOTE: the simulator's UDP feed lost datagrams during the windows (keyframes reach"
            " both sides truncated); --feed-rcvbuf 4194304 avoids that"
        )
    for p in phases:
        if p.side == "ffmpeg":
            rates = ", ".join(f"{r / 1e6:.2f}" for r in p.extra["received_bps"])
            print(f"ffmpeg round {p.round}: written Mbit/s per camera {rates}")
        elif p.extra["log_warnings"]:
            print(f"lookback round {p.round} warnings:", *p.extra["log_warnings"], sep="\n  ")


# --- main -------------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Make SIGTERM and SIGINT unwind the stack so that every ``finally`` stops its children.

    SIGINT is set explicitly: a shell starting us in the background leaves it ignored.
    """

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous_term = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def git_revision() -> str:
    """HEAD's short hash, flagged when the core has uncommitted changes."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(REPO), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "custom_components/lookback/core")
    return head + (" + uncommitted core changes" if dirty else "")


def scratch_dir() -> str | None:
    """A tmpfs for scratch files when there is a writable one, else None (the default)."""
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs, like an NVR's RAM disk
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Make the clip, serve it, run the phases; return everything measured."""
    import av

    from custom_components.lookback.core.nvr import RING_MARGIN_S
    from tests.sim.camera import SimulatedCamera
    from tests.sim.media import make_clip

    print(f"making/reusing the clip in {OUT_DIR} ...", flush=True)
    clip = make_clip(
        OUT_DIR,
        width=args.width,
        height=args.height,
        fps=args.fps,
        seconds=CLIP_SECONDS,
        gop_seconds=args.gop,
        bitrate=args.bitrate,
        motion=[(10.0, 25.0), (35.0, 50.0)],
        noise=2.0,
    )
    clip_bps = clip.path.stat().st_size * 8 / clip.duration
    warmup = args.pre_roll + RING_MARGIN_S + args.gop + 1.0
    meta: dict[str, Any] = {
        "cameras": args.cameras,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "bitrate": args.bitrate,
        "gop": args.gop,
        "pre_roll": args.pre_roll,
        "ring_margin": RING_MARGIN_S,
        "rounds": args.rounds,
        "window_s": args.seconds / args.rounds,
        "warmup_s": warmup,
        "feed_rcvbuf": args.feed_rcvbuf,
        "clip": str(clip.path),
        "clip_bitrate_bps": clip_bps,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "revision": git_revision(),
        "pyav": av.__version__,
        "pyav_ffmpeg": av.ffmpeg_version_info,
        "ffmpeg": subprocess.run(  # noqa: S603 - a fixed command
            [FFMPEG, "-version"], capture_output=True, text=True, check=True
        ).stdout.split("\n", 1)[0],
    }
    mounts = {f"/cam{i + 1}": clip for i in range(args.cameras)}
    phases: list[Phase] = []
    camera = SimulatedCamera(mounts, mode="live")
    with (
        tempfile.TemporaryDirectory(prefix="lookback-bench-", dir=scratch_dir()) as tmp,
        contextlib.ExitStack() as stack,
    ):
        with rmem_default(args.feed_rcvbuf):  # the server makes its feed sockets at start
            camera.start()
        stack.callback(camera.stop)
        urls = [camera.url_for(path) for path in mounts]
        sim_pids = children(os.getpid())  # the server and its feeders, nothing else yet
        meta["sim_processes"] = len(sim_pids)
        settings = Settings(
            args.cameras, args.seconds / args.rounds, args.rounds, warmup, args.pre_roll,
            args.gop, Path(tmp), sim_pids, camera.server_pid,
        )  # fmt: skip
        for round_ in range(1, args.rounds + 1):
            order = ("lookback", "ffmpeg") if round_ % 2 else ("ffmpeg", "lookback")
            for side in order:
                print(f"round {round_}: {side} ...", flush=True)
                run = run_lookback if side == "lookback" else run_ffmpeg
                phases.append(run(urls, settings, round_))
                time.sleep(1.0)  # let the server tear the media down
    summary = summarize(phases, meta)
    print_report(phases, meta, summary)
    return {"meta": meta, "summary": summary, "phases": [asdict(p) for p in phases]}


def add_out_and_worker(parser: argparse.ArgumentParser, worker_metavar: str) -> None:
    """``--out``, and the hidden ``--worker ... --store DIR`` that start a worker process."""
    parser.add_argument("--out", type=Path, help="write all results as JSON here")
    parser.add_argument("--worker", nargs="+", metavar=worker_metavar, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)


def run_benchmark(run: Callable[[], dict[str, Any]], out: Path | None) -> int:
    """Run a benchmark, stopping every child however it ends; write its results to ``out``."""
    with _stop_on_signals():
        try:
            result = run()
        except KeyboardInterrupt:
            print("interrupted; children stopped", file=sys.stderr)
            return 130
        finally:
            reap_all()
    if out is not None:
        out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
        print(f"\nresults written to {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line; run the benchmark or, with ``--worker``, the Lookback side."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per side")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds sharing --seconds")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate", type=int, default=4_000_000, help="bit/s")
    parser.add_argument("--gop", type=float, default=2.0, help="seconds")
    parser.add_argument("--pre-roll", type=float, default=5.0, help="seconds")
    parser.add_argument(
        "--feed-rcvbuf",
        type=int,
        default=0,
        metavar="BYTES",
        help="raise net.core.rmem_default while the simulator starts (root; restored at once) "
        "so its loopback UDP feed stops dropping keyframe bursts; e.g. 4194304",
    )
    add_out_and_worker(parser, "URL")
    args = parser.parse_args(argv)
    if args.worker:
        assert args.store is not None
        return run_worker(args.worker, args.pre_roll, args.store)
    if args.cameras < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--cameras, --rounds and --seconds must be positive")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return run_benchmark(lambda: benchmark(args), args.out)


if __name__ == "__main__":
    sys.exit(main())
