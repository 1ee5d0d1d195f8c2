"""FrameFeed: latest-GOP hand-over from the demux thread to analysis, with real packets."""

from __future__ import annotations

from collections.abc import Callable
import threading
import time
from typing import Any

import av
import pytest

from custom_components.lookback.core.frame_feed import FrameFeed
from custom_components.lookback.core.models import TimedPacket
from tests.sim.media import ClipFactory

FPS = 10
GOP = 10  # frames: 1 s


class Gop:
    """One GOP of real video packets: its keyframe and the P-frames after it."""

    def __init__(self, packets: list[TimedPacket]) -> None:
        assert packets[0].is_keyframe
        assert not any(p.is_keyframe for p in packets[1:])
        self.packets = packets
        self.key = packets[0]
        self.rest = packets[1:]


@pytest.fixture(scope="module")
def clip_packets(make_media: ClipFactory) -> tuple[list[Gop], list[TimedPacket]]:
    """The video GOPs and the audio packets of a short generated clip (H.264 + AAC)."""
    clip = make_media(width=192, height=108, fps=FPS, seconds=4, gop_seconds=GOP / FPS, audio="aac")
    container = av.open(str(clip.path))
    video: list[TimedPacket] = []
    audio: list[TimedPacket] = []
    for packet in container.demux():
        if packet.size == 0:
            continue
        assert packet.pts is not None
        assert packet.time_base is not None
        is_video = packet.stream.type == "video"
        timed = TimedPacket(
            packet,
            packet.stream,
            1000.0 + float(packet.pts * packet.time_base),
            packet.is_keyframe,
            is_video,
            packet.size,
        )
        (video if is_video else audio).append(timed)
    starts = [i for i, p in enumerate(video) if p.is_keyframe]
    gops = [Gop(video[a:b]) for a, b in zip(starts, [*starts[1:], len(video)], strict=True)]
    assert len(gops) == 4
    assert all(len(gop.packets) == GOP for gop in gops)
    assert audio
    return gops, audio


@pytest.fixture
def gops(clip_packets: tuple[list[Gop], list[TimedPacket]]) -> list[Gop]:
    return clip_packets[0]


def put_all(feed: FrameFeed, packets: list[TimedPacket]) -> None:
    for packet in packets:
        feed.put(packet)


class WaitSignallingCondition(threading.Condition):
    """A Condition that tells when a thread has started waiting on it (lock released)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()  # set under the lock: whoever sees it gets the lock after wait()
        return super().wait(timeout)


def take_in_thread(
    feed: FrameFeed, timeout: float
) -> tuple[threading.Thread, list[Any], Callable[[], None]]:
    """Start a thread blocked in ``feed.take(timeout)``; returns it, its result box and a join."""
    cond = WaitSignallingCondition()
    feed._cond = cond
    result: list[Any] = []

    def run() -> None:
        started = time.monotonic()
        result.append(feed.take(timeout))
        result.append(time.monotonic() - started)

    thread = threading.Thread(target=run, name="test-take")
    thread.start()
    assert cond.waiting.wait(5), "take() never waited"

    def join() -> None:
        thread.join(5)
        assert not thread.is_alive()

    return thread, result, join


def test_audio_packets_are_ignored(clip_packets: tuple[list[Gop], list[TimedPacket]]) -> None:
    gops, audio = clip_packets
    feed = FrameFeed()
    put_all(feed, audio)
    assert feed.take(0) is None
    feed.put(gops[0].key)
    put_all(feed, audio)
    feed.set_full_rate(True)
    assert feed.take(0) == [gops[0].key]
    assert feed.take(0) is None  # audio after the keyframe did not join the GOP
    assert feed.replaced == 0


def test_p_frames_before_the_first_keyframe_are_ignored(gops: list[Gop]) -> None:
    feed = FrameFeed()
    feed.set_full_rate(True)
    put_all(feed, gops[0].rest)
    assert feed.take(0) is None
    put_all(feed, gops[1].packets)
    assert feed.take(0) == gops[1].packets
    assert feed.replaced == 0


def test_keyframe_mode_hands_only_keyframes_and_counts_replaced(gops: list[Gop]) -> None:
    feed = FrameFeed()
    assert not feed.full_rate
    put_all(feed, gops[0].packets)
    assert feed.take(0) == [gops[0].key]
    assert feed.take(0) is None  # its P-frames are not for keyframe mode
    # two GOPs arrive while the worker is busy: only the newest keyframe is taken
    put_all(feed, gops[1].packets)
    put_all(feed, gops[2].packets)
    assert feed.take(0) == [gops[2].key]
    assert feed.replaced == 1
    # a taken GOP is not counted when the next one replaces it
    put_all(feed, gops[3].packets)
    assert feed.replaced == 1
    assert feed.take(0) == [gops[3].key]


def test_full_rate_hands_the_chain_then_increments(gops: list[Gop]) -> None:
    feed = FrameFeed()
    feed.set_full_rate(True)
    assert feed.full_rate
    gop = gops[0].packets
    put_all(feed, gop[:4])
    assert feed.take(0) == gop[:4]
    assert feed.take(0) is None
    put_all(feed, gop[4:6])
    assert feed.take(0) == gop[4:6]
    feed.put(gop[6])
    assert feed.take(0) == [gop[6]]
    # a new GOP: its keyframe and what followed, never the old GOP's rest
    put_all(feed, gop[7:])
    put_all(feed, gops[1].packets[:3])
    assert feed.take(0) == gops[1].packets[:3]
    assert feed.replaced == len(gop) - 7


def test_switching_to_full_rate_mid_gop_hands_the_rest_of_it(gops: list[Gop]) -> None:
    feed = FrameFeed()
    gop = gops[0].packets
    put_all(feed, gop[:5])
    assert feed.take(0) == [gop[0]]
    feed.set_full_rate(True)  # motion started on the keyframe
    assert feed.take(0) == gop[1:5]
    put_all(feed, gop[5:])
    assert feed.take(0) == gop[5:]
    feed.set_full_rate(False)  # motion ended: P-frames are no longer handed over
    put_all(feed, gops[1].packets)
    assert feed.take(0) == [gops[1].key]
    assert feed.replaced == 0


def test_full_rate_counts_every_packet_never_taken(gops: list[Gop]) -> None:
    feed = FrameFeed()
    feed.set_full_rate(True)
    put_all(feed, gops[0].packets)  # never taken at all
    feed.put(gops[1].key)
    assert feed.replaced == GOP
    assert feed.take(0) == [gops[1].key]
    put_all(feed, gops[1].rest[:3])
    assert feed.take(0) == gops[1].rest[:3]
    put_all(feed, gops[1].rest[3:])  # six P-frames the worker had no time for
    feed.put(gops[2].key)
    assert feed.replaced == GOP + len(gops[1].rest) - 3
    assert feed.take(0) == [gops[2].key]


def test_disabled_feed_drops_everything(gops: list[Gop]) -> None:
    feed = FrameFeed()
    feed.set_full_rate(True)
    put_all(feed, gops[0].packets[:3])
    feed.set_enabled(False)
    assert feed.take(0) is None  # the GOP was forgotten
    put_all(feed, gops[1].packets)
    assert feed.take(0) is None
    assert feed.replaced == 0
    feed.set_enabled(True)
    put_all(feed, gops[2].rest)  # P-frames of a GOP whose keyframe was missed
    assert feed.take(0) is None
    put_all(feed, gops[3].packets[:2])
    assert feed.take(0) == gops[3].packets[:2]


def test_clear_forgets_the_current_gop(gops: list[Gop]) -> None:
    feed = FrameFeed()
    put_all(feed, gops[0].packets[:4])
    feed.clear()
    assert feed.take(0) is None
    feed.set_full_rate(True)
    put_all(feed, gops[0].packets[4:])  # the rest of a chain the decoder never saw
    assert feed.take(0) is None
    feed.put(gops[1].key)
    assert feed.replaced == 0  # cleared packets are not counted as replaced
    assert feed.take(0) == [gops[1].key]


def test_take_times_out_with_none() -> None:
    feed = FrameFeed()
    started = time.monotonic()
    assert feed.take(0.05) is None
    assert time.monotonic() - started >= 0.04


def test_close_wakes_a_waiting_take(gops: list[Gop]) -> None:
    feed = FrameFeed()
    _, result, join = take_in_thread(feed, 30.0)
    feed.close()
    join()
    assert result[0] is None
    assert result[1] < 5.0  # woken, not timed out
    # closed for good: even with work waiting take returns None at once
    feed.put(gops[0].key)
    assert feed.take(30.0) is None


def test_keyframe_wakes_a_waiting_take(gops: list[Gop]) -> None:
    feed = FrameFeed()
    _, result, join = take_in_thread(feed, 30.0)
    feed.put(gops[0].key)
    join()
    assert result[0] == [gops[0].key]
    assert result[1] < 5.0


def test_p_frame_wakes_a_waiting_take_at_full_rate(gops: list[Gop]) -> None:
    feed = FrameFeed()
    feed.set_full_rate(True)
    feed.put(gops[0].key)
    assert feed.take(0) == [gops[0].key]
    _, result, join = take_in_thread(feed, 30.0)
    feed.put(gops[0].rest[0])
    join()
    assert result[0] == [gops[0].rest[0]]
    assert result[1] < 5.0
