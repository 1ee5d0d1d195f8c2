"""StreamSource against the real RTSP simulator: reading, stats, failures, reconnects."""

from __future__ import annotations

from collections.abc import Callable
import logging
from pathlib import Path
import queue
import socket
import threading
from typing import Any, cast

import av
import pytest

from custom_components.lookback.core.errors import SourceError, SourceErrorKind
from custom_components.lookback.core.models import TimedPacket, Transport
from custom_components.lookback.core.source import SourceOptions, StreamSource, retry_delay
from custom_components.lookback.core.timing import Backoff
from tests.sim.camera import SimulatedCamera
from tests.sim.media import make_clip

from .clipcheck import write_audio_only, write_mjpeg

CameraFactory = Callable[..., SimulatedCamera]


class Watcher:
    """Collects a source's callbacks and lets a test wait for them (no sleeps)."""

    def __init__(self, keyframes_wanted: int = 3) -> None:
        self.packets: list[TimedPacket] = []
        self.keyframes = 0
        self.keyframes_wanted = keyframes_wanted
        self.enough = threading.Event()
        self.states: queue.Queue[tuple[bool, SourceError | None]] = queue.Queue()
        self.last_source: StreamSource | None = None

    def on_packet(self, timed: TimedPacket) -> None:
        self.packets.append(timed)
        if timed.is_video and timed.is_keyframe:
            self.keyframes += 1
            if self.keyframes >= self.keyframes_wanted:
                self.enough.set()

    def on_connection(self, connected: bool, error: SourceError | None) -> None:
        self.states.put((connected, error))

    def next_state(self, timeout: float = 30) -> tuple[bool, SourceError | None]:
        return self.states.get(timeout=timeout)

    def first_error(self, url: str, **options: Any) -> SourceError:
        """Run a source until it reports its first failure."""
        source = self.source(url, **options)
        source.start()
        try:
            connected, error = self.next_state()
            while connected:
                connected, error = self.next_state()
        finally:
            source.stop()
        assert error is not None
        self.last_source = source
        return error

    def source(self, url: str, **options: Any) -> StreamSource:
        options.setdefault("backoff_initial", 0.2)
        options.setdefault("backoff_max", 1.0)
        return StreamSource(
            "cam", SourceOptions(url, **options), self.on_packet, self.on_connection
        )


@pytest.mark.parametrize(
    ("codec", "transport"),
    [("h264", Transport.TCP), ("h264", Transport.UDP), ("h265", Transport.TCP)],
)
def test_reads_stream_with_stats(
    rtsp_camera: CameraFactory, media_dir: Path, codec: str, transport: Transport
) -> None:
    clip = make_clip(media_dir, codec=codec, seconds=20, fps=15, gop_seconds=1, audio="aac")  # type: ignore[arg-type]
    camera = rtsp_camera(clip, mode="live")
    watcher = Watcher(keyframes_wanted=8)
    baseline = threading.active_count()
    source = watcher.source(camera.url, transport=transport)
    source.start()
    try:
        assert watcher.next_state() == (True, None)
        assert watcher.enough.wait(30)
        stats = source.stats
    finally:
        source.stop()
    assert not source.running
    assert threading.active_count() == baseline
    assert stats.connected
    assert stats.video_codec == ("hevc" if codec == "h265" else "h264")
    assert (stats.width, stats.height) == (clip.width, clip.height)
    assert stats.fps == pytest.approx(15, rel=0.15)
    assert stats.keyframe_interval_s == pytest.approx(1.0, abs=0.1)
    assert stats.bitrate_bps is not None
    assert stats.bitrate_bps > 0
    assert stats.last_packet_time is not None
    video = [p for p in watcher.packets if p.is_video]
    assert video[0].is_keyframe  # nothing before the first keyframe reaches the sink
    assert any(not p.is_video for p in watcher.packets)  # audio rides along
    times = [p.time for p in video]
    assert times == sorted(times)
    assert watcher.next_state() == (False, None)  # stop says so once


def test_bad_credentials_are_a_clear_redacted_error(
    rtsp_camera: CameraFactory, media_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    camera = rtsp_camera(make_clip(media_dir, seconds=5), user="admin", password="right-pw")
    watcher = Watcher()
    source = watcher.source(camera.url_for(auth=("admin", "wrong-secret")))
    with caplog.at_level(logging.DEBUG):
        source.start()
        try:
            connected, error = watcher.next_state()
        finally:
            source.stop()
    assert not connected
    assert error is not None
    assert error.kind is SourceErrorKind.AUTH_FAILED
    assert "wrong-secret" not in str(error)
    assert "wrong-secret" not in caplog.text
    assert "rtsp://***:***@127.0.0.1" in caplog.text
    assert source.stats.last_error is not None
    assert source.stats.last_error.startswith("auth_failed")


def test_unreachable_and_not_found(rtsp_camera: CameraFactory, media_dir: Path) -> None:
    camera = rtsp_camera(make_clip(media_dir, seconds=5))
    error = Watcher().first_error(camera.url_for("/nope"), stall_timeout=5)
    assert error.kind is SourceErrorKind.NOT_FOUND

    port = camera.port
    camera.stop()
    watcher = Watcher()
    error = watcher.first_error(f"rtsp://127.0.0.1:{port}/stream1", stall_timeout=5)
    assert error.kind is SourceErrorKind.UNREACHABLE
    assert watcher.last_source is not None
    assert watcher.last_source.stats.reconnects >= 1


def test_a_server_that_never_answers_is_a_timeout() -> None:
    """A TCP listener that accepts but never speaks RTSP (a hung camera)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        error = Watcher().first_error(f"rtsp://127.0.0.1:{port}/x", stall_timeout=1.0)
    assert error.kind is SourceErrorKind.TIMEOUT
    assert "no answer within 1 s" in str(error)


def test_reconnects_after_server_killed_and_restarted(
    rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    camera = rtsp_camera(make_clip(media_dir, seconds=30, gop_seconds=1), mode="live")
    watcher = Watcher()
    source = watcher.source(camera.url)
    source.start()
    try:
        assert watcher.next_state() == (True, None)
        camera.kill()
        connected, error = watcher.next_state()
        assert not connected
        assert error is not None
        camera.start()
        while True:  # failures while the server is down, then back up
            connected, _ = watcher.next_state(60)
            if connected:
                break
        assert source.stats.reconnects >= 1
        assert source.stats.connected
    finally:
        source.stop()


def test_stall_is_detected_and_recovers(rtsp_camera: CameraFactory, media_dir: Path) -> None:
    # file mode: after SIGCONT a new client gets a fresh pipeline (a shared live pipeline of
    # gst-rtsp-server answers 5XX to new clients after being stopped mid-stream)
    camera = rtsp_camera(make_clip(media_dir, seconds=30, gop_seconds=1))
    watcher = Watcher()
    source = watcher.source(camera.url, stall_timeout=2.0)
    source.start()
    try:
        assert watcher.next_state() == (True, None)
        camera.pause()
        connected, error = watcher.next_state()
        assert not connected
        assert error is not None
        assert error.kind is SourceErrorKind.STALLED
        assert source.stats.stalls == 1
        camera.resume()
        while not watcher.next_state(60)[0]:
            pass
    finally:
        source.stop()


def test_stop_ends_thread_of_a_stalled_source(rtsp_camera: CameraFactory, media_dir: Path) -> None:
    camera = rtsp_camera(make_clip(media_dir, seconds=30))
    watcher = Watcher()
    baseline = threading.active_count()
    source = watcher.source(camera.url, stall_timeout=2.0)
    source.start()
    assert watcher.next_state() == (True, None)
    camera.pause()
    source.stop()
    camera.resume()
    assert not source.running
    assert threading.active_count() == baseline


def test_file_source_ends_and_counts(media_dir: Path) -> None:
    clip = make_clip(media_dir, seconds=2)
    watcher = Watcher()
    assert watcher.first_error(str(clip.path), backoff_initial=30).kind is SourceErrorKind.ENDED
    assert len([p for p in watcher.packets if p.is_video]) == clip.frames


def test_not_video_and_unsupported_codec(tmp_path: Path) -> None:
    audio_only = tmp_path / "audio.m4a"
    write_audio_only(audio_only)
    mjpeg = tmp_path / "mjpeg.avi"
    write_mjpeg(mjpeg)
    for path, kind in (
        (audio_only, SourceErrorKind.NOT_VIDEO),
        (mjpeg, SourceErrorKind.UNSUPPORTED_CODEC),
    ):
        assert Watcher().first_error(str(path), backoff_initial=30).kind is kind


def fake_packet(dts: int | None, payload: bytes, *, key: bool = False) -> av.Packet[Any]:
    packet = av.Packet(payload)
    packet.dts = dts
    packet.pts = dts
    packet.time_base = cast(Any, __import__("fractions").Fraction(1, 90000))
    packet.is_keyframe = key
    return packet


def test_timestamp_checks_drop_bad_and_merge_split_access_units() -> None:
    """Split IDRs are joined, backwards DTS dropped, and an untimed first IDR timed.

    Same DTS twice is one access unit; the first IDR of an RTSP connection comes without
    timestamps and gets them one frame before the next packet.
    """
    from custom_components.lookback.core.source import _StreamState

    got: list[TimedPacket] = []
    source = StreamSource("cam", SourceOptions("rtsp://x"), got.append)
    state = _StreamState(
        cast(Any, None), is_video=True, seconds_per_tick=1 / 90000, frame_ticks=3000
    )
    for packet in (
        fake_packet(None, b"first-idr", key=True),  # RTSP gives the first IDR no timestamps
        fake_packet(3000, b"slice1", key=True),
        fake_packet(3000, b"slice2", key=True),
        fake_packet(6000, b"p1"),
        fake_packet(4500, b"late"),
        fake_packet(None, b"untimed"),
        fake_packet(9000, b"p2"),
    ):
        source._accept(packet, state)
    source._flush(state)
    assert [bytes(p.packet) for p in got] == [b"first-idr", b"slice1slice2", b"p1", b"p2"]
    assert [p.packet.dts for p in got] == [0, 3000, 6000, 9000]
    assert got[0].is_keyframe
    assert got[1].is_keyframe
    stats = source.stats
    assert (stats.dropped_packets, stats.merged_packets) == (2, 1)
    assert stats.packets == 4


def test_untimed_packets_without_a_known_frame_rate_are_dropped() -> None:
    from custom_components.lookback.core.source import _StreamState

    got: list[TimedPacket] = []
    source = StreamSource("cam", SourceOptions("rtsp://x"), got.append)
    state = _StreamState(cast(Any, None), is_video=True, seconds_per_tick=1 / 90000)
    source._accept(fake_packet(None, b"first-idr", key=True), state)
    source._accept(fake_packet(3000, b"idr", key=True), state)
    source._flush(state)
    assert [bytes(p.packet) for p in got] == [b"idr"]
    assert source.stats.dropped_packets == 1


def test_source_options_per_protocol() -> None:
    assert SourceOptions("rtsp://cam/x", stall_timeout=2.5).av_options() == {
        "rtsp_transport": "tcp",
        "timeout": "2500000",
    }
    assert SourceOptions("http://cam/x.m3u8").av_options() == {"rw_timeout": "10000000"}
    assert SourceOptions("/media/clip.mp4").av_options() == {}


def test_wrong_credentials_are_retried_seldom() -> None:
    # Cameras lock accounts after a few failed logins: 401 waits auth_retry, not the back-off.
    backoff = Backoff(1.0, 30.0)
    assert retry_delay(SourceErrorKind.UNREACHABLE, backoff, 600.0) == 1.0
    assert retry_delay(SourceErrorKind.AUTH_FAILED, backoff, 600.0) == 600.0
    assert retry_delay(SourceErrorKind.STALLED, backoff, 600.0) == 4.0
