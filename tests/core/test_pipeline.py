"""Nvr + CameraPipeline end to end on the real RTSP simulator: clips with exact pre-roll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import itertools
from pathlib import Path
import subprocess
import threading
import time
from typing import Any

import pytest

from custom_components.lookback.core.errors import SourceError
from custom_components.lookback.core.models import CameraConfig, ClipInfo, Event, Trigger
from custom_components.lookback.core.motion_state import MotionPhase, MotionUpdate
from custom_components.lookback.core.nvr import Nvr
from custom_components.lookback.core.storage import ClipStore
from tests.sim.camera import SimulatedCamera
from tests.sim.media import Clip, make_clip

from .clipcheck import inspect_clip

CameraFactory = Callable[..., SimulatedCamera]
PRE_ROLL = 3.0
POST_ROLL = 2.0


class Listener:
    """Everything the pipeline reports, awaitable."""

    def __init__(self) -> None:
        self.clips: asyncio.Queue[ClipInfo] = asyncio.Queue()
        self.started: list[Event] = []
        self.ended: list[Event] = []
        self.connected = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.failures: asyncio.Queue[str] = asyncio.Queue()
        self.motion: asyncio.Queue[MotionUpdate] = asyncio.Queue()
        self.detect_connected: list[bool] = []

    def event_started(self, event: Event) -> None:
        self.started.append(event)

    def event_ended(self, event: Event) -> None:
        self.ended.append(event)

    def clip_saved(self, clip: ClipInfo) -> None:
        self.clips.put_nowait(clip)

    def connection_changed(self, connected: bool, _error: SourceError | None) -> None:
        if connected:
            self.disconnected.clear()
            self.connected.set()
        else:
            self.connected.clear()
            self.disconnected.set()

    def write_failed(self, reason: str) -> None:
        self.failures.put_nowait(reason)

    def motion_changed(self, update: MotionUpdate) -> None:
        self.motion.put_nowait(update)

    def detect_connection_changed(self, connected: bool, _error: SourceError | None) -> None:
        self.detect_connected.append(connected)

    async def next_clip(self) -> ClipInfo:
        return await asyncio.wait_for(self.clips.get(), 60)


@pytest.fixture
async def nvr(tmp_path: Path) -> AsyncIterator[Nvr]:
    nvr = Nvr(ClipStore(tmp_path / "clips"), asyncio.get_running_loop())
    await nvr.async_prepare()
    yield nvr
    await nvr.async_stop()
    # no thread of ours outlives stop (the loop's own executor workers may stay)
    assert [t.name for t in threading.enumerate() if t.name.startswith("lookback-")] == []


async def start_camera(
    nvr: Nvr, camera: SimulatedCamera, clip: Clip, **config: Any
) -> tuple[Listener, Any]:
    listener = Listener()
    settings: dict[str, Any] = {"pre_roll": PRE_ROLL, "post_roll": POST_ROLL} | config
    pipeline = await nvr.async_add_camera(
        CameraConfig("cam", "Cam", camera.url, **settings), listener
    )
    await asyncio.wait_for(listener.connected.wait(), 30)
    # the ring's fill level is a condition, not an event: poll it, with a deadline
    async with asyncio.timeout(30):
        while pipeline.ring.duration < PRE_ROLL + clip.gop_seconds:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return listener, pipeline


def check_clip(
    store_root: Path, clip: ClipInfo, source: Clip, trigger_time: float, end_by: float
) -> None:
    """The properties every clip must have, checked by decoding it."""
    report = inspect_clip(store_root / clip.path)
    assert report.first_packet_is_keyframe
    assert report.first_pts == 0.0
    assert report.decoded_frames == report.video_packets == clip.video_frames
    assert report.dts_gap_free
    # exact pre-roll: the last keyframe at or before trigger - pre_roll
    assert trigger_time - PRE_ROLL - source.gop_seconds < clip.start_time <= trigger_time - PRE_ROLL
    # post-roll honoured, and the clip's length is what its frames say
    assert clip.end_time >= end_by - 1.5 / source.fps
    assert report.duration == pytest.approx(clip.end_time - clip.start_time, abs=1.5 / source.fps)
    assert clip.thumbnail is not None
    assert (store_root / clip.thumbnail).read_bytes()[:2] == b"\xff\xd8"


async def test_trigger_makes_clip_with_exact_pre_roll_and_post_roll(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=30, fps=15, gop_seconds=1, audio="aac", motion=[(5, 9)])
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(nvr, camera, source)
    now = time.time()
    event = pipeline.trigger(Trigger("cam", "service", now))
    clip = await listener.next_clip()
    assert [e.event_id for e in listener.started] == [event.event_id] == [clip.event_id]
    assert listener.ended == [event]
    check_clip(nvr.store.root, clip, source, now, now + POST_ROLL)
    assert inspect_clip(nvr.store.root / clip.path).audio_codec == "aac"
    assert clip.audio == "copy:aac"
    assert clip.status == "complete"
    assert nvr.store.clips("cam") == [clip]
    assert not pipeline.recorder.recording


async def test_retriggers_extend_one_event(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=30, fps=15, gop_seconds=1)
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(nvr, camera, source)
    first = time.time()
    event = pipeline.trigger(Trigger("cam", "motion", first))
    await asyncio.sleep(1.0)  # a real second between the two triggers is the point of the test
    second = time.time()
    assert pipeline.trigger(Trigger("cam", "smtp", second, label="alarm")) is event
    clip = await listener.next_clip()
    check_clip(nvr.store.root, clip, source, first, second + POST_ROLL)
    assert [t["source"] for t in clip.event["triggers"]] == ["motion", "smtp"]
    assert listener.clips.empty()


async def test_max_clip_length_rolls_over_without_losing_packets(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=30, fps=15, gop_seconds=1)
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(
        nvr, camera, source, max_clip_seconds=2.0, post_roll=4.0
    )
    now = time.time()
    pipeline.trigger(Trigger("cam", "service", now))
    parts = [await listener.next_clip()]
    while parts[-1].end_time < now + 4.0 - 0.1:
        parts.append(await listener.next_clip())
    assert len(parts) >= 3
    assert [p.part for p in parts] == list(range(1, len(parts) + 1))
    assert len({p.event_id for p in parts}) == 1
    for earlier, later in itertools.pairwise(parts):
        # the next part starts one frame after the previous ended: nothing lost, nothing twice
        assert later.start_time - earlier.end_time == pytest.approx(1 / source.fps, abs=0.02)
        assert inspect_clip(nvr.store.root / later.path).first_packet_is_keyframe
    assert (
        sum(p.video_frames for p in parts)
        == round((parts[-1].end_time - parts[0].start_time) * 15) + 1
    )


@pytest.mark.parametrize(("codec", "audio"), [("h265", "alaw"), ("h264", "mulaw")])
async def test_h265_and_g711_cameras(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path, codec: str, audio: str
) -> None:
    source = make_clip(media_dir, codec=codec, seconds=30, fps=15, gop_seconds=1, audio=audio)  # type: ignore[arg-type]
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(nvr, camera, source)
    now = time.time()
    pipeline.trigger(Trigger("cam", "service", now))
    clip = await listener.next_clip()
    check_clip(nvr.store.root, clip, source, now, now + POST_ROLL)
    report = inspect_clip(nvr.store.root / clip.path)
    assert report.audio_codec == "aac"
    assert report.audio_packets > 0
    assert clip.audio == f"transcoded:pcm_{audio}->aac"
    if codec == "h265":
        assert report.video_codec == "hevc"
        assert report.codec_tag == "hvc1"


async def test_camera_lost_mid_event_still_closes_clip(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=30, fps=15, gop_seconds=1)
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(nvr, camera, source, post_roll=1.0)
    pipeline.recorder.options = type(pipeline.recorder.options)(close_grace=1.0)
    now = time.time()
    pipeline.trigger(Trigger("cam", "service", now))
    camera.kill()
    clip = await listener.next_clip()
    report = inspect_clip(nvr.store.root / clip.path)
    assert report.first_packet_is_keyframe
    assert report.decoded_frames == clip.video_frames > 0
    assert clip.start_time <= now - PRE_ROLL


async def test_reconnect_mid_event_closes_part_and_continues(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=60, fps=15, gop_seconds=1)
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(nvr, camera, source, post_roll=30.0)
    now = time.time()
    event = pipeline.trigger(Trigger("cam", "service", now))
    await asyncio.sleep(1.0)  # let a second of live video into the first part
    camera.kill()
    await asyncio.wait_for(listener.disconnected.wait(), 30)
    camera.start()
    await asyncio.wait_for(listener.connected.wait(), 60)
    first = await listener.next_clip()  # closed when the new connection's streams arrived
    assert (first.part, first.event_id) == (1, event.event_id)
    assert first.start_time <= now - PRE_ROLL
    assert first.end_time >= now + 0.5
    pipeline.tracker.close()  # end the event now rather than after 30 s
    second = await listener.next_clip()
    assert (second.part, second.event_id) == (2, event.event_id)
    assert second.start_time > first.end_time
    for clip in (first, second):
        report = inspect_clip(nvr.store.root / clip.path)
        assert report.first_packet_is_keyframe
        assert report.decoded_frames == clip.video_frames > 0


async def test_stopping_mid_event_saves_the_clip(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=30, fps=15, gop_seconds=1)
    camera = rtsp_camera(source, mode="live")
    listener, pipeline = await start_camera(nvr, camera, source, post_roll=60.0)
    now = time.time()
    pipeline.trigger(Trigger("cam", "service", now))
    await nvr.async_stop()
    clip = await listener.next_clip()
    assert clip.start_time <= now - PRE_ROLL
    assert inspect_clip(nvr.store.root / clip.path).decoded_frames == clip.video_frames


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 600 kB file system, so that writing really fails with ENOSPC."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, and mounting one failed: {result.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


async def test_disk_full_keeps_what_was_recorded(
    small_disk: Path, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    source = make_clip(media_dir, seconds=30, fps=15, gop_seconds=1, bitrate=800_000)
    camera = rtsp_camera(source, mode="live")
    earlier = ClipStore(small_disk)
    nvr = Nvr(earlier, asyncio.get_running_loop())
    await nvr.async_prepare()
    try:
        listener, pipeline = await start_camera(nvr, camera, source, post_roll=20.0)
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * 300_000)
        now = time.time()
        pipeline.trigger(Trigger("cam", "service", now))
        reason = await asyncio.wait_for(listener.failures.get(), 60)
        assert "No space left" in reason
        assert pipeline.recorder.failed_writes >= 1
    finally:
        await nvr.async_stop()
    filler.unlink()  # the user frees space; the next start completes the unfinished clip
    restarted = ClipStore(small_disk)
    report = restarted.recover()
    assert report.indexed == 1
    (clip,) = restarted.clips("cam")
    assert clip.status in {"recovered", "complete"}
    assert clip.start_time <= now - PRE_ROLL
    decoded = inspect_clip(small_disk / clip.path)
    assert decoded.first_packet_is_keyframe
    assert decoded.decoded_frames == clip.video_frames > 0
    assert clip.end_time - clip.start_time == pytest.approx(decoded.duration, abs=0.2)


async def test_motion_on_the_detect_stream_reaches_the_listener(
    nvr: Nvr, rtsp_camera: CameraFactory, media_dir: Path
) -> None:
    # Only the sub-stream shows the person: an update proves the detect stream is analysed.
    main = make_clip(media_dir, seconds=12, fps=10, gop_seconds=1, noise=2.0)
    sub = make_clip(
        media_dir, width=320, height=180, seconds=12, fps=10, gop_seconds=1, motion=[(3, 9)]
    )
    camera = rtsp_camera({"/main": main, "/sub": sub})
    listener = Listener()
    config = CameraConfig("cam", "Cam", camera.url_for("/main"), detect_url=camera.url_for("/sub"))
    pipeline = await nvr.async_add_camera(config, listener)
    update = await asyncio.wait_for(listener.motion.get(), 30)
    assert update.phase is MotionPhase.STARTED
    assert update.boxes
    assert pipeline.detect_source is not None
    assert pipeline.detect_source.stats.width == 320
    assert pipeline.stats.width == 640  # the main stream is still the one recorded
    assert listener.detect_connected == [True]
    pipeline.set_motion_enabled(False)
    assert not pipeline.analysis.stats.enabled
