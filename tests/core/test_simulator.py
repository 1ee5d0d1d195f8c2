"""The camera simulator itself (tests/sim): media ground truth, RTSP serving, failure modes.

Other tests trust the simulator, so this pins down what it produces and what PyAV 19 makes of
it. Measured here (and relied on by the assertions):

- 401, from missing or wrong credentials: ``av.error.HTTPUnauthorizedError`` (an
  ``av.error.HTTPClientError``), raised by ``av.open`` at once, over TCP and UDP alike.
- Unknown path: ``av.error.HTTPNotFoundError``. Nothing listening:
  ``av.error.ConnectionRefusedError`` (also a builtin ``ConnectionRefusedError``).
- Server stalled (SIGSTOP) before open: ``av.error.InvalidDataError`` once the open timeout
  passes. Stalled mid-stream: ``av.error.ExitError`` ("Immediate exit requested") after about
  twice the read timeout.
- Server killed mid-stream, or a file-mode stream reaching the clip's end: ``demux()`` just
  ends, no exception. An NVR must treat an early end of stream as a disconnect.
- The first video packet is the IDR with SPS/PPS (and VPS) in band, and its pts/dts are None; the
  next video packet has pts 3600 (90 kHz), except in live mode with audio, where it is later
  (FFmpeg aligns the streams through RTCP). Audio pts can start negative for a client that
  joins a running live stream. Live streams carry an AUD NAL before every frame (MPEG-TS feed).
- The first ~1 s of packets arrives in a burst as av.open probes; then real-time pacing.
"""

from collections.abc import Callable
from dataclasses import dataclass
import itertools
import time

import av
import av.error
import numpy as np
import pytest

from tests.sim.camera import CameraFactory, Mode
from tests.sim.media import (
    AudioCodec,
    ClipFactory,
    VideoCodec,
    count_slices,
    expected_luma,
    nal_type,
    split_nal_units,
)

Timeout = tuple[float, float]
OPEN_TIMEOUT: Timeout = (10, 10)


@dataclass(frozen=True, slots=True)
class Received:
    """One packet as a client saw it."""

    kind: str
    pts: int | None
    dts: int | None
    seconds: float | None
    keyframe: bool
    data: bytes
    wall: float


@dataclass(frozen=True, slots=True)
class Session:
    """What a client got: stream descriptions and packets (empty EOF packets left out)."""

    codecs: list[str]
    sample_rates: list[int]
    packets: list[Received]
    ended: bool
    opened_after: float

    @property
    def video(self) -> list[Received]:
        return [p for p in self.packets if p.kind == "video"]

    @property
    def audio(self) -> list[Received]:
        return [p for p in self.packets if p.kind == "audio"]


def receive(
    url: str,
    *,
    transport: str = "tcp",
    count: int = 25,
    seconds: float | None = None,
    timeout: Timeout = OPEN_TIMEOUT,
    hook: tuple[int, Callable[[], object]] | None = None,
) -> Session:
    """Open ``url`` with PyAV and read ``count`` packets (or for ``seconds`` of wall time).

    ``hook`` (n, action) runs action after the n-th packet, e.g. to stall or kill the camera.
    """
    start = time.monotonic()
    packets: list[Received] = []
    ended = True
    with av.open(url, options={"rtsp_transport": transport}, timeout=timeout) as container:
        opened = time.monotonic() - start
        for packet in container.demux():
            if not packet.size:
                continue
            base = packet.time_base
            packets.append(
                Received(
                    kind=packet.stream.type,
                    pts=packet.pts,
                    dts=packet.dts,
                    seconds=float(packet.pts * base) if packet.pts is not None and base else None,
                    keyframe=packet.is_keyframe,
                    data=bytes(packet),
                    wall=time.monotonic(),
                )
            )
            if hook is not None and len(packets) == hook[0]:
                hook[1]()
            if (seconds is None and len(packets) >= count) or (
                seconds is not None and time.monotonic() - start - opened >= seconds
            ):
                ended = False
                break
        codecs = [stream.codec_context.name for stream in container.streams]
        rates = [stream.codec_context.sample_rate for stream in container.streams.audio]
    return Session(codecs, rates, packets, ended, opened)


# --- media ---------------------------------------------------------------------------------


def test_object_moves_only_during_motion(make_media: ClipFactory) -> None:
    """Decoded frames match the ground truth: the object where object_box says, else nothing.

    Compared with the encoder's input, compression leaves an error of about 9 levels on
    average (up to ~16 in a 40x40 block); the object differs from the background by 25+.
    """
    clip = make_media(seconds=4, gop_seconds=1, motion=[(1.0, 2.5)])
    background = expected_luma(clip, 0.0).astype(np.int16)
    with av.open(str(clip.path)) as container:
        frames = [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]
    assert len(frames) == clip.frames == 100
    for index, frame in enumerate(frames):
        t = index / clip.fps
        error = np.abs(frame - background)
        truth = np.abs(frame - expected_luma(clip, t).astype(np.int16))
        assert truth.mean() < 12, t  # decoded == encoder input, up to compression
        box = clip.object_box(t)
        outside = np.ones(error.shape, dtype=bool)
        if box is not None:
            x, y, w, h = box
            outside[y : y + h, x : x + w] = False
            if w >= 8:
                assert error[y : y + h, x : x + w].mean() > 20, t
        blocks = np.where(outside, error, 0).reshape(9, 40, 16, 40).mean(axis=(1, 3))
        assert blocks.max() < 22, t  # nothing moves anywhere else
    assert [clip.moving_at(t) for t in (0.99, 1.01, 2.49, 2.5)] == [False, True, True, False]
    assert clip.moving_at(5.5, looped=True)  # live mode loops: 5.5 s is 1.5 s into the clip


def test_encoding_is_camera_like(make_media: ClipFactory) -> None:
    """Fixed GOP, IDR keyframes, one slice per frame by default, two when asked."""
    for codec in ("h264", "h265"):
        for slices in (1, 2):
            clip = make_media(codec=codec, seconds=2, gop_seconds=0.5, slices=slices)
            with av.open(str(clip.path)) as container:
                packets = [p for p in container.demux(video=0) if p.size]
            keyframe_times = tuple(
                float((p.pts or 0) * p.time_base) for p in packets if p.is_keyframe
            )
            assert keyframe_times == pytest.approx(clip.keyframe_times)
            assert {count_slices(bytes(p), codec) for p in packets} == {slices}
            idr = {5} if codec == "h264" else {19, 20}
            for packet in packets:
                types = {nal_type(unit, codec) for unit in split_nal_units(bytes(packet))}
                assert bool(types & idr) == packet.is_keyframe


def test_1080p_h264_iframes_have_camera_sizes(make_media: ClipFactory) -> None:
    clip = make_media(width=1920, height=1080, seconds=6, motion=[(1.0, 5.0)])
    with av.open(str(clip.path)) as container:
        sizes = [p.size for p in container.demux(video=0) if p.size and p.is_keyframe]
    assert len(sizes) == 3
    assert all(100_000 <= size <= 300_000 for size in sizes), sizes


# --- RTSP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_streams_video(rtsp_camera: CameraFactory, codec: VideoCodec, transport: str) -> None:
    camera = rtsp_camera(codec=codec, seconds=6, gop_seconds=1)
    session = receive(camera.url, transport=transport)
    assert session.codecs == ["h264" if codec == "h264" else "hevc"]
    first = session.video[0]
    assert first.keyframe
    types = [nal_type(unit, camera.clip.codec) for unit in split_nal_units(first.data)]
    assert (7 in types and 8 in types) if codec == "h264" else {32, 33, 34} <= set(types)
    assert [p.pts for p in session.video[1:4]] == [3600, 7200, 10800]


@pytest.mark.parametrize(
    ("audio", "mode", "codec_name", "rate"),
    [
        ("aac", "file", "aac", 16000),
        ("alaw", "file", "pcm_alaw", 8000),
        ("mulaw", "live", "pcm_mulaw", 8000),
    ],
)
def test_streams_audio(
    rtsp_camera: CameraFactory, audio: AudioCodec, mode: Mode, codec_name: str, rate: int
) -> None:
    camera = rtsp_camera(mode=mode, seconds=6, gop_seconds=1, audio=audio)
    session = receive(camera.url, count=40)
    assert session.codecs == ["h264", codec_name]
    assert session.sample_rates == [rate]
    assert session.audio
    assert session.video


CREDENTIALS = ("admin", "p@ss:w/rd")  # characters that must be quoted in a URL


def test_credentials_are_required(rtsp_camera: CameraFactory) -> None:
    user, secret = CREDENTIALS
    camera = rtsp_camera(seconds=4, user=user, password=secret)
    assert camera.url.startswith("rtsp://admin:p%40ss%3Aw%2Frd@127.0.0.1:")
    assert receive(camera.url, count=3).video
    for transport in ("tcp", "udp"):
        with pytest.raises(av.error.HTTPUnauthorizedError):
            receive(camera.url_for(auth=False), transport=transport)
        with pytest.raises(av.error.HTTPUnauthorizedError):
            receive(camera.url_for(auth=("admin", "wrong")), transport=transport)
    with pytest.raises(av.error.HTTPNotFoundError):
        receive(camera.url_for("/nope"))


def test_stop_then_start_on_same_port(rtsp_camera: CameraFactory) -> None:
    camera = rtsp_camera(seconds=4)
    url = camera.url
    assert receive(url, count=3).video
    assert camera.stop() == 0  # the server exits cleanly on SIGTERM
    with pytest.raises(av.error.ConnectionRefusedError):
        receive(url)
    camera.start()
    assert camera.url == url
    assert receive(url, count=3).video


def test_file_mode_ends_with_the_clip_and_kill_ends_quietly(rtsp_camera: CameraFactory) -> None:
    camera = rtsp_camera(seconds=2, gop_seconds=1)
    session = receive(camera.url, count=10_000)
    assert session.ended
    assert len(session.video) == camera.clip.frames
    # A crash looks the same to the client: the stream just ends, no exception.
    session = receive(camera.url, count=10_000, hook=(5, camera.kill))
    assert session.ended
    assert len(session.video) < camera.clip.frames
    assert not camera.running


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_stall_times_out(rtsp_camera: CameraFactory, transport: str) -> None:
    camera = rtsp_camera(seconds=10)
    paused: list[float] = []

    def stall() -> None:
        camera.pause()
        paused.append(time.monotonic())

    with pytest.raises(av.error.ExitError):  # after about twice the 1 s read timeout
        receive(camera.url, transport=transport, count=10_000, timeout=(10, 1), hook=(5, stall))
    assert 0.9 < time.monotonic() - paused[0] < 5
    with pytest.raises(av.error.InvalidDataError):  # a stalled camera cannot be opened
        receive(camera.url, transport=transport, timeout=(1.5, 1.5))
    camera.resume()
    assert receive(camera.url, transport=transport, count=3).video


def test_live_mode_loops_in_real_time(rtsp_camera: CameraFactory) -> None:
    camera = rtsp_camera(mode="live", seconds=3, gop_seconds=1)
    session = receive(camera.url, seconds=5.0)
    timed = [p for p in session.video if p.seconds is not None]
    dts = [p.dts or 0 for p in timed]
    assert all(b > a for a, b in itertools.pairwise(dts))
    media = [p.seconds or 0.0 for p in timed]
    assert media[-1] - media[0] > camera.clip.duration  # looped, with continuous timestamps
    # After the initial burst the stream advances one media second per wall second.
    steady = [
        (p.wall, m) for p, m in zip(timed, media, strict=True) if p.wall - timed[0].wall > 1.5
    ]
    media_span = steady[-1][1] - steady[0][1]
    wall_span = steady[-1][0] - steady[0][0]
    assert wall_span > 2.5
    assert media_span / wall_span == pytest.approx(1.0, abs=0.15)
