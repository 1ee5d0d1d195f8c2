"""Back-off and the stream-time to wall-time mapping."""

from __future__ import annotations

import itertools

import pytest

from custom_components.lookback.core.timing import Backoff, WallClock


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(1.0, 8.0)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_wall_clock_ignores_connect_burst_and_jitter() -> None:
    clock = WallClock()
    # 1.5 s of old packets arrive at once at t=100, then real time with jitter.
    burst = [clock.to_wall(i / 10, 100.0) for i in range(15)]
    live = [
        clock.to_wall(1.5 + i / 10, 98.5 + 1.5 + i / 10 + (0.05 if i % 2 else 0)) for i in range(50)
    ]
    # after the first real-time packet the mapping is pts + 98.5 (plus the allowed creep)
    assert live[-1] == pytest.approx(1.5 + 4.9 + 98.5, abs=0.01)
    assert all(b >= 100.0 - 1.5 for b in burst)
    # times never run backwards
    seq = burst + live
    assert all(b >= a for a, b in itertools.pairwise(seq))


def test_wall_clock_follows_a_slow_camera_clock() -> None:
    clock = WallClock(drift=0.001)
    # camera clock runs 0.05 % slow: its pts fall behind our time
    last = 0.0
    for i in range(3600):
        arrival = 1000.0 + i
        last = clock.to_wall(i * 0.9995, arrival)
    assert last == pytest.approx(1000.0 + 3599, abs=0.05)
