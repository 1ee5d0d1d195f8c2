"""probe_source against the real RTSP simulator and an HTTP server: results and failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import itertools
from pathlib import Path
import socket
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from custom_components.lookback.core import probe
from custom_components.lookback.core.errors import SourceError, SourceErrorKind
from custom_components.lookback.core.models import Transport
from custom_components.lookback.core.probe import probe_source
from custom_components.lookback.core.source import open_stream
from tests.sim.camera import CameraFactory

from .clipcheck import write_audio_only, write_mjpeg

if TYPE_CHECKING:
    from av.container import InputContainer

TIMEOUT = 10.0


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr; /error500 fails as a server."""

    def do_GET(self) -> None:
        if self.path == "/error500":
            self.send_error(500, "camera firmware crashed")
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        del format, args


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1; yield its base URL, then stop the thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=directory))
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections but never says a word (a hung camera)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        yield silent.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def write_media_files(directory: Path) -> None:
    """audio.m4a (no video), mjpeg.avi (unsupported codec) and login.html (a web page)."""
    write_audio_only(directory / "audio.m4a")
    write_mjpeg(directory / "mjpeg.avi")
    (directory / "login.html").write_text("<html><body>Log in</body></html>\n")


def probe_error(url: str, timeout: float = TIMEOUT) -> SourceError:
    with pytest.raises(SourceError) as info:
        probe_source(url, Transport.TCP, timeout)
    return info.value


@pytest.mark.parametrize(
    ("codec", "audio", "expected_codec"),
    [("h264", None, "h264"), ("h265", "aac", "hevc")],
)
def test_probe_reports_what_the_camera_sends(
    rtsp_camera: CameraFactory, codec: Any, audio: Any, expected_codec: str
) -> None:
    camera = rtsp_camera(
        codec=codec, width=640, height=360, fps=10, seconds=6, gop_seconds=2, audio=audio
    )
    threads = threading.active_count()
    result = probe_source(camera.url, Transport.TCP, TIMEOUT)
    assert threading.active_count() == threads
    assert result.video_codec == expected_codec
    assert (result.width, result.height) == (640, 360)
    assert result.fps == pytest.approx(10, rel=0.05)
    assert result.keyframe_interval_s == pytest.approx(2.0, abs=0.05)
    assert result.audio_codec == audio


def test_probe_over_udp_with_g711_audio(rtsp_camera: CameraFactory) -> None:
    camera = rtsp_camera(width=320, height=180, fps=15, seconds=4, gop_seconds=1, audio="alaw")
    result = probe_source(camera.url, Transport.UDP, TIMEOUT)
    assert (result.video_codec, result.width, result.height) == ("h264", 320, 180)
    assert result.fps == pytest.approx(15, rel=0.05)
    assert result.keyframe_interval_s == pytest.approx(1.0, abs=0.05)
    assert result.audio_codec == "pcm_alaw"


def test_probe_closes_the_container(
    rtsp_camera: CameraFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = rtsp_camera(seconds=4, gop_seconds=1)
    opened: list[InputContainer] = []
    real_open = open_stream

    def recording_open(*args: Any) -> InputContainer:
        opened.append(real_open(*args))
        return opened[-1]

    monkeypatch.setattr(probe, "open_stream", recording_open)
    probe_source(camera.url, Transport.TCP, TIMEOUT)
    with pytest.raises(AssertionError, match="not open"):
        next(opened[0].demux())


def test_packet_budget_ends_the_probe_without_keyframe_interval(
    rtsp_camera: CameraFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = rtsp_camera(fps=10, seconds=6, gop_seconds=2)
    monkeypatch.setattr(probe, "MAX_PROBE_PACKETS", 5)
    result = probe_source(camera.url, Transport.TCP, TIMEOUT)
    assert result.keyframe_interval_s is None  # the second keyframe is packet 21
    assert result.fps == pytest.approx(10, rel=0.05)  # measured over packets 2-5


def test_deadline_ends_the_probe_and_falls_back_to_the_declared_rate(
    rtsp_camera: CameraFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = rtsp_camera(fps=12, seconds=4, gop_seconds=2)
    # The probe's own clock: the deadline is taken at 0, every later look says it has passed.
    clock = itertools.chain([0.0], itertools.repeat(1000.0))
    monkeypatch.setattr(probe, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    result = probe_source(camera.url, Transport.TCP, TIMEOUT)
    assert result.keyframe_interval_s is None
    assert result.fps == 12.0  # one untimed packet measures nothing: the stream's own rate


def test_a_stream_that_ends_before_a_second_keyframe(
    rtsp_camera: CameraFactory,
) -> None:
    camera = rtsp_camera(fps=10, seconds=3, gop_seconds=3)
    result = probe_source(camera.url, Transport.TCP, TIMEOUT)
    assert result.video_codec == "h264"
    assert result.keyframe_interval_s is None
    assert result.fps == pytest.approx(10, rel=0.05)


def test_wrong_password_is_auth_failed_and_redacted(rtsp_camera: CameraFactory) -> None:
    camera = rtsp_camera(seconds=4, user="admin", password="right-pw")
    error = probe_error(camera.url_for(auth=("admin", "wrong-secret")))
    assert error.kind is SourceErrorKind.AUTH_FAILED
    assert "wrong-secret" not in str(error)
    assert probe_error(camera.url_for(auth=False)).kind is SourceErrorKind.AUTH_FAILED


def test_wrong_path_is_not_found(rtsp_camera: CameraFactory) -> None:
    camera = rtsp_camera(seconds=4)
    assert probe_error(camera.url_for("/nope")).kind is SourceErrorKind.NOT_FOUND


def test_closed_port_is_unreachable() -> None:
    error = probe_error(f"rtsp://127.0.0.1:{closed_port()}/stream1")
    assert error.kind is SourceErrorKind.UNREACHABLE


def test_a_listener_that_never_answers_is_a_timeout() -> None:
    with silent_listener() as port:
        error = probe_error(f"rtsp://127.0.0.1:{port}/x", timeout=1.0)
    assert error.kind is SourceErrorKind.TIMEOUT
    assert "no answer within 1 s" in str(error)


def test_a_camera_that_stops_sending_mid_probe_is_a_timeout(
    rtsp_camera: CameraFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = rtsp_camera(fps=10, seconds=12, gop_seconds=6)  # 2nd keyframe not yet buffered

    def open_then_freeze(*args: Any) -> InputContainer:
        container = open_stream(*args)
        camera.pause()  # connected, then silent: a hung camera
        return container

    monkeypatch.setattr(probe, "open_stream", open_then_freeze)
    # When the first read times out, FFmpeg still hands out the frame it held back; with a
    # real clock the deadline (as long as the read timeout) then ends the probe with what it
    # has. A clock that never reaches the deadline lets the next read fail.
    monkeypatch.setattr(probe, "time", SimpleNamespace(monotonic=lambda: 0.0))
    error = probe_error(camera.url, timeout=1.0)
    assert error.kind is SourceErrorKind.TIMEOUT


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("audio.m4a", SourceErrorKind.NOT_VIDEO),
        ("login.html", SourceErrorKind.NOT_VIDEO),
        ("mjpeg.avi", SourceErrorKind.UNSUPPORTED_CODEC),
        ("missing.mp4", SourceErrorKind.NOT_FOUND),
        ("error500", SourceErrorKind.UNKNOWN),  # an error with nothing the user can do
    ],
)
def test_http_sources_that_are_not_camera_video(
    tmp_path: Path, name: str, kind: SourceErrorKind
) -> None:
    write_media_files(tmp_path)
    with serve_directory(tmp_path) as base:
        error = probe_error(f"{base}/{name}")
    assert error.kind is kind


def test_unknown_failures_are_redacted(tmp_path: Path) -> None:
    with serve_directory(tmp_path) as base:
        url = base.replace("http://", "http://u:hunter2@") + "/error500"
        error = probe_error(url)
    assert error.kind is SourceErrorKind.UNKNOWN
    assert "5XX" in str(error)
    assert "hunter2" not in str(error)


# _VideoTiming on made-up packets: the cases a simulator does not produce.

TICK = Fraction(1, 90000)


def fake_stream(average: Fraction | None = None, guessed: Fraction | None = None) -> Any:
    return SimpleNamespace(time_base=TICK, average_rate=average, guessed_rate=guessed)


def fake_packet(dts: int | None, *, key: bool = False) -> Any:
    return SimpleNamespace(dts=dts, pts=dts, is_keyframe=key)


def test_timing_estimates_the_untimed_first_keyframe() -> None:
    timing = probe._VideoTiming(fake_stream(average=Fraction(25)))
    timing.add(fake_packet(None, key=True))  # RTSP's first IDR: no timestamps
    for frame in range(1, 50):
        timing.add(fake_packet(3600 * frame))
    assert timing.keyframe_interval() is None
    timing.add(fake_packet(3600 * 50, key=True))
    assert timing.done  # no third keyframe needed
    assert timing.keyframe_interval() == pytest.approx(2.0)
    assert timing.fps() == pytest.approx(25.0)


def test_timing_without_a_declared_rate_waits_for_two_timed_keyframes() -> None:
    timing = probe._VideoTiming(fake_stream())
    timing.add(fake_packet(None, key=True))  # cannot be placed without a frame rate
    timing.add(fake_packet(3600))
    timing.add(fake_packet(90000, key=True))
    assert timing.keyframe_interval() is None
    timing.add(fake_packet(180000, key=True))
    assert timing.keyframe_interval() == pytest.approx(1.0)


def test_timing_ignores_implausible_rates() -> None:
    # FFmpeg's placeholder rates (e.g. the 90 kHz clock) are not frame rates.
    assert probe._VideoTiming(fake_stream(Fraction(90000), Fraction(0))).fps() is None
    timing = probe._VideoTiming(fake_stream(None, Fraction(15)))
    timing.add(fake_packet(1000))
    timing.add(fake_packet(1001))  # one tick apart: 90000 fps measured, not believed
    assert timing.fps() == 15.0
    timing = probe._VideoTiming(fake_stream(Fraction(30)))
    timing.add(fake_packet(5000, key=True))
    timing.add(fake_packet(5000, key=True))  # same time: no interval, no measured rate
    assert timing.keyframe_interval() is None
    assert timing.fps() == 30.0
