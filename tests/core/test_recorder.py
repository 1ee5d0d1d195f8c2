"""ClipRecorder driven directly with real packets from generated media (no network)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
import threading

import pytest

from custom_components.lookback.core.models import ClipInfo, Event, TimedPacket, Trigger
from custom_components.lookback.core.recorder import ClipRecorder, RecorderOptions
from custom_components.lookback.core.ring import GopRing
from custom_components.lookback.core.storage import ClipStore
from tests.sim.media import make_clip

from .clipcheck import inspect_clip
from .test_mp4 import demux_all

T0 = 1_800_000_000.0


def timed_packets(media_dir: Path, **options: object) -> list[TimedPacket]:
    """A clip's packets with wall times as a live camera would give them."""
    packets = demux_all(make_clip(media_dir, **options).path)  # type: ignore[arg-type]
    start = packets[0]
    assert start.packet.pts is not None
    assert start.packet.time_base is not None
    return [
        replace(
            p, time=T0 + float(((p.packet.pts or 0) - start.packet.pts) * start.packet.time_base)
        )
        for p in packets
    ]


class Harness:
    def __init__(self, root: Path, options: RecorderOptions | None = None) -> None:
        self.clips: list[ClipInfo] = []
        self.failures: list[str] = []
        self.done = threading.Semaphore(0)
        self.ring = GopRing(5.0, 50_000_000)
        self.store = ClipStore(root)
        self.recorder = ClipRecorder(
            "cam", self.ring, self.store, options or RecorderOptions(), self._clip, self._failed
        )

    def _clip(self, clip: ClipInfo) -> None:
        self.clips.append(clip)
        self.done.release()

    def _failed(self, reason: str) -> None:
        self.failures.append(reason)
        self.done.release()

    def wait(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.done.acquire(timeout=30)


def event(event_id: str, trigger: float, end: float, pre_roll: float = 1.0) -> Event:
    return Event(event_id, "cam", trigger, end, pre_roll, [Trigger("cam", "service", trigger)])


def test_commands_for_other_events_are_ignored_and_a_new_start_closes_the_old(
    tmp_path: Path, media_dir: Path
) -> None:
    packets = timed_packets(media_dir, seconds=8, fps=10, gop_seconds=1)
    video = [p for p in packets if p.is_video]
    h = Harness(tmp_path)
    h.recorder.stop()  # stopping a recorder that never ran is harmless
    h.recorder.on_streams([packets[0].stream])
    for p in packets[:30]:
        h.recorder.on_packet(p)
    first = event("aaa", T0 + 2.5, T0 + 3.5)
    h.recorder.start_event(first)
    other = event("zzz", T0, T0 + 100)
    h.recorder.extend_event(other)
    h.recorder.end_event(other)
    for p in packets[30:50]:
        h.recorder.on_packet(p)
    second = event("bbb", T0 + 4.5, T0 + 5.0)
    h.recorder.start_event(second)  # before the first ended: the first is closed now
    for p in packets[50:]:
        h.recorder.on_packet(p)
    h.recorder.end_event(second)
    h.recorder.stop()
    h.wait(2)
    assert [c.event_id for c in h.clips] == ["aaa", "bbb"]
    a, b = h.clips
    assert a.start_time == T0 + 1.0  # keyframe at trigger - pre-roll
    assert b.start_time == T0 + 3.0
    assert b.end_time >= T0 + 5.0
    assert video[-1].time >= b.end_time
    for clip in h.clips:
        assert inspect_clip(tmp_path / clip.path).first_packet_is_keyframe
    assert not h.recorder.recording


def test_packets_of_other_streams_are_skipped_until_a_reconnect(
    tmp_path: Path, media_dir: Path
) -> None:
    ours = timed_packets(media_dir, seconds=4, fps=10, gop_seconds=1)
    foreign = timed_packets(media_dir, seconds=3, fps=10, gop_seconds=1, width=320, height=240)
    h = Harness(tmp_path)
    h.recorder.on_streams([ours[0].stream])
    for p in ours[:15]:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.2, T0 + 100))
    h.recorder.on_packet(foreign[5])  # not a keyframe, not our stream
    h.recorder.on_packet(foreign[0])  # a keyframe of a stream the file was not opened for
    skipped_before = h.recorder.skipped_packets
    h.recorder.on_streams([foreign[0].stream])  # the reconnect: part 1 closes
    h.wait()
    for p in foreign[1:25]:  # the new connection starts with a non-keyframe: skipped
        h.recorder.on_packet(p)
    h.recorder.stop()
    h.wait()
    assert [c.part for c in h.clips] == [1, 2]
    assert h.recorder.skipped_packets > skipped_before
    assert inspect_clip(tmp_path / h.clips[1].path).video_packets == 15  # from keyframe 10 on


def test_a_store_that_cannot_be_written_reports_once(tmp_path: Path, media_dir: Path) -> None:
    packets = timed_packets(media_dir, seconds=3, fps=10, gop_seconds=1)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    h = Harness(blocker)
    h.recorder.on_streams([packets[0].stream])
    for p in packets[:12]:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.1, T0 + 2))
    h.wait()
    for p in packets[12:]:
        h.recorder.on_packet(p)
    h.recorder.stop()
    assert len(h.failures) == 1
    assert "cannot open clip aaa" in h.failures[0]
    assert h.recorder.failed_writes == 1
    assert h.recorder.last_failure == h.failures[0]
    assert h.clips == []


def test_thumbnail_failure_still_saves_the_clip(
    tmp_path: Path, media_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    packets = timed_packets(media_dir, seconds=3, fps=10, gop_seconds=1)
    h = Harness(
        tmp_path, RecorderOptions(thumbnail_width=0)
    )  # an impossible size makes the JPEG fail
    h.recorder.on_streams([packets[0].stream])
    for p in packets:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.5, T0 + 1.6, pre_roll=0.5))
    h.recorder.stop()
    h.wait()
    (clip,) = h.clips
    assert clip.thumbnail is None
    assert "no thumbnail" in caplog.text
