"""SimulatedCamera: an RTSP camera on 127.0.0.1 for tests, run from the venv.

It runs ``rtsp_server.py`` under the system Python (the venv cannot import ``gi``) and, in live
mode, one ``ffmpeg -re -stream_loop -1`` feeder per stream. Readiness is the server's READY line
on stdout (awaited with select, no sleeps). Children are always reaped: ``stop()``/``kill()``,
the context manager, a ``weakref.finalize`` (also run at interpreter exit) and, should the test
process die without any of those, the server exits on EOF of its stdin pipe and a live feeder
then exits on ECONNREFUSED.

Timing ground truth: in file mode each client plays the clip from its start, so the clip's
motion intervals are relative to the client's first frame; in live mode the clip loops forever
from the feeder's start (``feed_started_at``), see ``live_clip_time``.
"""

from collections.abc import Mapping
import contextlib
import json
import os
from pathlib import Path
import select
import shutil
import signal
import subprocess
import tempfile
import time
from types import TracebackType
from typing import IO, Any, Final, Literal, Protocol, Self, Unpack
from urllib.parse import quote
import weakref

from .media import Clip, ClipOptions

Mode = Literal["file", "live"]

SERVER_SCRIPT: Final = Path(__file__).with_name("rtsp_server.py")
# The only interpreter with PyGObject and GstRtspServer (Debian's python3-gi); override for odd hosts.
SYSTEM_PYTHON: Final = os.environ.get("LOOKBACK_SIM_PYTHON", "/usr/bin/python3")
FFMPEG: Final = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
READY_TIMEOUT: Final = 20.0
STOP_TIMEOUT: Final = 5.0
DEFAULT_PATH: Final = "/stream1"


class CameraError(RuntimeError):
    """The simulated camera could not start (the message carries the server's log)."""


class CameraFactory(Protocol):
    """The type of the rtsp_camera fixture: make (or take) clips, return a started camera."""

    def __call__(
        self,
        streams: Clip | Mapping[str, Clip] | None = None,
        *,
        mode: Mode = "file",
        user: str | None = None,
        password: str | None = None,
        start: bool = True,
        **media: Unpack[ClipOptions],
    ) -> SimulatedCamera:
        """Camera serving ``streams``, or one clip made from ``media`` options when None."""
        ...


def _reap(processes: list[subprocess.Popen[bytes]], logs: list[IO[bytes]]) -> None:
    """Kill and wait for whatever children are still alive, close their log (finalizer too)."""
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL: practically never
            process.wait(timeout=STOP_TIMEOUT)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
    processes.clear()
    for log in logs:
        log.close()
    logs.clear()


class SimulatedCamera:
    """One RTSP camera: a server process with one mount per stream (e.g. main and sub stream).

    ``streams`` is a clip (served at /stream1) or a mapping of paths to clips. With ``user`` and
    ``password`` every path requires HTTP basic auth (401 otherwise). ``port`` 0 lets the server
    pick a free port on first start; later starts reuse it, so URLs stay valid across restarts.
    """

    def __init__(
        self,
        streams: Clip | Mapping[str, Clip],
        *,
        mode: Mode = "file",
        user: str | None = None,
        password: str | None = None,
        port: int = 0,
    ) -> None:
        if (user is None) != (password is None):
            raise ValueError("user and password go together")
        if mode not in ("file", "live"):
            raise ValueError(f"mode must be 'file' or 'live', not {mode!r}")
        self.streams: dict[str, Clip] = (
            {DEFAULT_PATH: streams} if isinstance(streams, Clip) else dict(streams)
        )
        if not self.streams or not all(path.startswith("/") for path in self.streams):
            raise ValueError("streams need at least one path, each starting with '/'")
        if any("," in f"{path}{clip.path}" for path, clip in self.streams.items()):
            raise ValueError("paths must not contain ',' (the server's --mount separator)")
        self.mode: Mode = mode
        self.user = user
        self.password = password
        self.port = port
        self.started_at: float | None = None
        """time.monotonic() when the server last printed READY."""
        self.feed_started_at: dict[str, float] = {}
        """time.monotonic() when each live feeder was started (clip time 0 of its loop)."""
        self.feed_ports: dict[str, int] = {}
        self._server: subprocess.Popen[bytes] | None = None
        self._feeders: dict[str, subprocess.Popen[bytes]] = {}
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []  # the current run's stderr file, shared by children
        self._last_log = ""
        self._paused = False
        self._finalizer = weakref.finalize(self, _reap, self._processes, self._logs)

    # --- addresses -------------------------------------------------------------------------

    @property
    def clip(self) -> Clip:
        """The clip of the first stream."""
        return next(iter(self.streams.values()))

    @property
    def url(self) -> str:
        """URL of the first stream, with the camera's credentials when it has any."""
        return self.url_for()

    def url_for(self, path: str | None = None, *, auth: bool | tuple[str, str] = True) -> str:
        """URL of ``path`` (default: first stream); auth False drops, a tuple replaces credentials."""
        if not self.port:
            raise CameraError("the camera has no port yet: start it first")
        path = path or next(iter(self.streams))
        userinfo = ""
        if isinstance(auth, tuple):
            userinfo = f"{quote(auth[0], safe='')}:{quote(auth[1], safe='')}@"
        elif auth and self.user is not None and self.password is not None:
            userinfo = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
        return f"rtsp://{userinfo}127.0.0.1:{self.port}{path}"

    # --- state ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server process is alive (paused counts as running)."""
        return self._server is not None and self._server.poll() is None

    @property
    def paused(self) -> bool:
        """Whether pause() stopped the processes and resume() has not yet continued them."""
        return self._paused

    @property
    def server_pid(self) -> int | None:
        """PID of the server process, for diagnostics."""
        return self._server.pid if self._server is not None else None

    def live_clip_time(self, path: str | None = None, at: float | None = None) -> float:
        """Clip time being fed on a live stream at monotonic time ``at`` (default now).

        Approximate (ffmpeg start-up, ~0.1 s), and clients see it after their RTSP latency.
        """
        path = path or next(iter(self.streams))
        started = self.feed_started_at.get(path)
        if self.mode != "live" or started is None:
            raise CameraError("live_clip_time needs a running live stream")
        elapsed = (time.monotonic() if at is None else at) - started
        return elapsed % self.streams[path].duration

    def log(self) -> str:
        """What the server and feeders wrote to stderr in the current (or last) run."""
        if not self._logs:
            return self._last_log
        # pread: seeking would move the offset the children write at.
        return os.pread(self._logs[0].fileno(), 1 << 20, 0).decode(errors="replace")

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server (and live feeders) and return once it listens; same port as before."""
        if self.running:
            raise CameraError("camera already running")
        self._reap_all()
        log = tempfile.TemporaryFile(prefix="lookback-sim-")  # noqa: SIM115 - closed by _reap
        self._logs.append(log)
        command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        for path, clip in self.streams.items():
            spec = f"path={path},file={clip.path},codec={clip.codec},audio={clip.audio or 'none'},mode={self.mode}"
            command += ["--mount", spec]
        if self.user is not None and self.password is not None:
            command += ["--user", self.user, "--password", self.password]
        server = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, close_fds=True
        )
        self._server = server
        self._processes.append(server)
        try:
            ready = self._await_ready(server, time.monotonic() + READY_TIMEOUT)
        except BaseException:
            self._reap_all()
            raise
        self.started_at = time.monotonic()
        self.port = int(ready["port"])
        self.feed_ports = {str(path): int(port) for path, port in ready["feeds"].items()}
        for path, feed_port in self.feed_ports.items():
            self._start_feeder(path, feed_port)
        self._paused = False
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop gracefully (SIGTERM, then SIGKILL after ``timeout``); return the server's exit code.

        0 means the server shut down cleanly. Safe to call when not running.
        """
        if self._paused:
            self.resume()  # a stopped process only acts on SIGTERM once continued
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        code = self._server.returncode if self._server is not None else None
        self._reap_all()
        return code

    def kill(self) -> None:
        """SIGKILL the server and feeders, as a crash.

        PyAV clients do not get an error: their demux() simply ends, as at a clean end of stream.
        """
        self._paused = False
        self._reap_all()

    def pause(self, *, feeder: bool = True) -> None:
        """SIGSTOP the server (and live feeders unless ``feeder`` is False) to simulate a stall.

        Connections stay open but nothing is sent or answered; a client's read times out
        (PyAV: av.error.ExitError after about twice its read timeout). After resume() the
        backlog arrives as one burst with continuous timestamps (measured for a 2 s stall, in
        every mode). A feeder left running keeps sending into the server's socket buffer, which
        holds only a few hundred KB: longer stalls lose the excess, as a camera would.
        """
        if not self.running:
            raise CameraError("camera not running")
        self._signal_all(signal.SIGSTOP, feeders=feeder)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT everything pause() stopped."""
        self._signal_all(signal.SIGCONT, feeders=True)
        self._paused = False

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.running else "stopped"
        return f"<SimulatedCamera {self.mode} port={self.port} {sorted(self.streams)} {state}>"

    # --- internals ------------------------------------------------------------------------

    def _start_feeder(self, path: str, feed_port: int) -> None:
        """Start ffmpeg looping the clip into the server's feed port in real time.

        connect=1 makes ffmpeg exit (ECONNREFUSED) once the server, which holds the port, is gone.
        MPEG-TS cannot carry G.711, so such audio is sent as AAC and re-encoded by the server.
        """
        clip = self.streams[path]
        command = [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-re",
            "-stream_loop",
            "-1",
        ]
        command += ["-i", str(clip.path), "-map", "0:v:0", "-c:v", "copy"]
        if clip.audio == "aac":
            command += ["-map", "0:a:0", "-c:a", "copy"]
        elif clip.audio is not None:
            command += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "64k"]
        command += ["-f", "mpegts", f"udp://127.0.0.1:{feed_port}?connect=1&pkt_size=1316"]
        feeder = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._logs[0],
            close_fds=True,
        )
        self.feed_started_at[path] = time.monotonic()
        self._feeders[path] = feeder
        self._processes.append(feeder)

    def _await_ready(self, server: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
        """Read the server's first stdout line (READY {json}) without blocking past ``deadline``."""
        assert server.stdout is not None
        fd = server.stdout.fileno()
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CameraError(f"RTSP server not ready after {READY_TIMEOUT} s:\n{self.log()}")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 4096)
                if not chunk:
                    server.wait()
                    raise CameraError(f"RTSP server exited with {server.returncode}:\n{self.log()}")
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith("READY "):
            raise CameraError(f"RTSP server said {line!r}:\n{self.log()}")
        ready: dict[str, Any] = json.loads(line.removeprefix("READY "))
        return ready

    def _signal_all(self, signum: signal.Signals, *, feeders: bool) -> None:
        targets = [self._server] + (list(self._feeders.values()) if feeders else [])
        for process in targets:
            if process is not None and process.poll() is None:
                process.send_signal(signum)

    def _reap_all(self) -> None:
        if self._logs:
            self._last_log = self.log()
        _reap(self._processes, self._logs)
        self._server = None
        self._feeders.clear()
        self.feed_started_at.clear()
