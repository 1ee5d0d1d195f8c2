"""ClipRecorder driven directly with real packets from generated media (no network)."""

from __future__ import annotations

from dataclasses import replace
import io
from pathlib import Path
import threading

from PIL import Image
import pytest

from custom_components.lookback.core.frames import jpeg_from_keyframe
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


# set_thumbnail: the best detection, drawn, instead of the keyframe at the trigger --------------


def drawn_detection() -> bytes:
    """A JPEG unlike any frame of the generated clips (as camera_objects would draw one)."""
    out = io.BytesIO()
    Image.new("RGB", (160, 90), (200, 30, 30)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def thumbnail_of(root: Path, clip: ClipInfo) -> bytes:
    assert clip.thumbnail is not None
    return (root / clip.thumbnail).read_bytes()


def keyframe_at(packets: list[TimedPacket], time: float) -> TimedPacket:
    (key,) = [p for p in packets if p.is_video and p.is_keyframe and p.time == time]
    return key


def test_set_thumbnail_makes_the_clips_thumbnail_exactly_that_jpeg(
    tmp_path: Path, media_dir: Path
) -> None:
    packets = timed_packets(media_dir, seconds=3, fps=10, gop_seconds=1)
    picture = drawn_detection()
    h = Harness(tmp_path)
    h.recorder.on_streams([packets[0].stream])
    for p in packets[:14]:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.3, T0 + 2.5, pre_roll=0.5))
    h.recorder.set_thumbnail("aaa", picture)
    for p in packets[14:]:
        h.recorder.on_packet(p)
    h.recorder.stop()
    h.wait()
    (clip,) = h.clips
    assert thumbnail_of(tmp_path, clip) == picture
    assert picture != jpeg_from_keyframe(keyframe_at(packets, T0 + 1.0))
    # the video is as without it: from the keyframe before trigger - pre-roll to the end
    assert inspect_clip(tmp_path / clip.path).video_packets == len(packets)


def test_set_thumbnail_for_another_event_leaves_the_keyframe_thumbnail(
    tmp_path: Path, media_dir: Path
) -> None:
    packets = timed_packets(media_dir, seconds=3, fps=10, gop_seconds=1)
    h = Harness(tmp_path)
    h.recorder.on_streams([packets[0].stream])
    for p in packets[:14]:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.3, T0 + 2.5, pre_roll=0.5))
    h.recorder.set_thumbnail("zzz", drawn_detection())  # an older event's detection
    for p in packets[14:]:
        h.recorder.on_packet(p)
    h.recorder.stop()
    h.wait()
    (clip,) = h.clips
    # the keyframe nearest the trigger (1.0 s, not 0.0 or 2.0 s), as the recorder encodes it
    expected = jpeg_from_keyframe(keyframe_at(packets, T0 + 1.0), RecorderOptions().thumbnail_width)
    assert thumbnail_of(tmp_path, clip) == expected


def test_set_thumbnail_needs_no_keyframe_picture(
    tmp_path: Path, media_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The drawn detection wins outright: the keyframe is not even encoded (it would fail)."""
    packets = timed_packets(media_dir, seconds=3, fps=10, gop_seconds=1)
    picture = drawn_detection()
    h = Harness(tmp_path, RecorderOptions(thumbnail_width=0))  # a keyframe JPEG would fail
    h.recorder.on_streams([packets[0].stream])
    for p in packets:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.5, T0 + 1.6, pre_roll=0.5))
    h.recorder.set_thumbnail("aaa", picture)
    h.recorder.stop()
    h.wait()
    (clip,) = h.clips
    assert thumbnail_of(tmp_path, clip) == picture
    assert "no thumbnail" not in caplog.text


def test_a_detection_after_the_end_still_counts_until_the_clip_closes(
    tmp_path: Path, media_dir: Path
) -> None:
    packets = timed_packets(media_dir, seconds=4, fps=10, gop_seconds=1)
    picture = drawn_detection()
    h = Harness(tmp_path)
    h.recorder.on_streams([packets[0].stream])
    for p in packets[:12]:
        h.recorder.on_packet(p)
    ev = event("aaa", T0 + 1.1, T0 + 1.5, pre_roll=0.5)
    h.recorder.start_event(ev)
    h.recorder.end_event(ev)
    h.recorder.set_thumbnail("aaa", picture)  # the detector answered a little late
    for p in packets[12:]:  # the clip closes at the first packet past the end
        h.recorder.on_packet(p)
    h.wait()
    h.recorder.stop()
    (clip,) = h.clips
    assert clip.end_time <= T0 + 1.6
    assert thumbnail_of(tmp_path, clip) == picture


def test_a_later_set_thumbnail_replaces_an_earlier_one_and_applies_to_every_part(
    tmp_path: Path, media_dir: Path
) -> None:
    packets = timed_packets(media_dir, seconds=5, fps=10, gop_seconds=1)
    first, better = drawn_detection(), b"\xff\xd8 a better detection"
    h = Harness(tmp_path, RecorderOptions(max_clip_seconds=2.0))
    h.recorder.on_streams([packets[0].stream])
    for p in packets[:12]:
        h.recorder.on_packet(p)
    h.recorder.start_event(event("aaa", T0 + 1.1, T0 + 100, pre_roll=0.5))
    h.recorder.set_thumbnail("aaa", first)
    h.recorder.set_thumbnail("aaa", better)
    for p in packets[12:]:
        h.recorder.on_packet(p)
    h.recorder.stop()
    h.wait(3)
    assert [c.part for c in h.clips] == [1, 2, 3]
    assert [thumbnail_of(tmp_path, c) for c in h.clips] == [better] * 3
