"""GopRing: keyframe alignment, time and byte bounds, snapshots."""

from __future__ import annotations

from typing import Any, cast

import av

from custom_components.lookback.core.models import TimedPacket
from custom_components.lookback.core.ring import GopRing

FPS = 10
GOP = 20  # frames: 2 s


def packet(t: float, *, key: bool, size: int = 100, video: bool = True) -> TimedPacket:
    return TimedPacket(av.Packet(size), cast(Any, None), t, key, video, size)


def feed(ring: GopRing, seconds: float, start: float = 1000.0) -> list[TimedPacket]:
    packets = []
    for i in range(int(seconds * FPS)):
        p = packet(start + i / FPS, key=i % GOP == 0)
        with ring.lock:
            ring.append(p)
        packets.append(p)
    return packets


def test_drops_packets_before_first_keyframe() -> None:
    ring = GopRing(5.0, 10_000_000)
    with ring.lock:
        ring.append(packet(1.0, key=False))
        ring.append(packet(1.1, key=False, video=False))
    assert len(ring) == 0
    assert ring.latest_keyframe() is None
    assert ring.duration == 0.0


def test_holds_pre_roll_plus_at_most_one_gop() -> None:
    ring = GopRing(5.0, 10_000_000)
    sent = feed(ring, 30.0)
    newest = sent[-1].time
    assert 5.0 <= ring.duration <= 5.0 + GOP / FPS
    snap = ring.snapshot_from(newest - 5.0)
    assert snap[0].is_keyframe
    # the last keyframe at or before the start: never later, never a whole GOP earlier
    assert newest - 5.0 - GOP / FPS < snap[0].time <= newest - 5.0
    assert snap[-1] is sent[-1]
    assert ring.bytes == sum(p.size for p in ring.snapshot_from(0))


def test_snapshot_older_than_buffer_starts_at_oldest_keyframe() -> None:
    ring = GopRing(2.0, 10_000_000)
    sent = feed(ring, 10.0)
    snap = ring.snapshot_from(0.0)
    assert snap[0].is_keyframe
    assert snap[0].time == ring.snapshot_from(sent[-1].time - 2.0)[0].time


def test_snapshot_contains_audio_between_pictures() -> None:
    ring = GopRing(5.0, 10_000_000)
    with ring.lock:
        ring.append(packet(1.0, key=True))
        ring.append(packet(1.05, key=False, video=False))
        ring.append(packet(1.1, key=False))
    assert [p.is_video for p in ring.snapshot_from(1.0)] == [True, False, True]


def test_byte_cap_evicts_whole_gops_but_keeps_the_newest() -> None:
    ring = GopRing(60.0, 5_000)  # one GOP is 20 x 100 B = 2 kB
    feed(ring, 20.0)
    assert ring.bytes <= 5_000
    assert ring.evicted_for_bytes > 0
    assert ring.snapshot_from(0)[0].is_keyframe
    tiny = GopRing(60.0, 10)
    feed(tiny, 5.0)
    assert len(tiny) > 0  # the current GOP is never evicted


def test_clear_and_latest_keyframe() -> None:
    ring = GopRing(5.0, 10_000_000)
    sent = feed(ring, 5.0)
    latest = ring.latest_keyframe()
    assert latest is not None
    assert latest.time == max(p.time for p in sent if p.is_keyframe)
    ring.clear()
    assert len(ring) == 0
    assert ring.bytes == 0
