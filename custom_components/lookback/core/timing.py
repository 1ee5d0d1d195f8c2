"""Small pure helpers about time: reconnect back-off and mapping stream timestamps to wall time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    """Capped exponential back-off; ``reset`` after a connection that delivered video."""

    initial: float = 1.0
    maximum: float = 30.0
    factor: float = 2.0
    _next: float = 0.0

    def __post_init__(self) -> None:
        """Start at the initial delay."""
        self._next = self.initial

    def next_delay(self) -> float:
        """Return the delay to wait now and grow the following one."""
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        """Forget earlier failures."""
        self._next = self.initial


class WallClock:
    """Maps a stream's presentation times (seconds) to wall-clock time.

    ``offset = arrival - pts`` is smallest for packets that arrived without delay, so the
    running minimum finds the true offset: the burst that many servers send on connect
    (old packets arriving at once) and network jitter only ever raise the difference.
    The minimum may creep up by ``drift`` seconds per second so that a camera clock slower
    than ours is followed instead of making every later packet look older and older.
    """

    __slots__ = ("_drift", "_last_arrival", "_offset")

    def __init__(self, drift: float = 0.001) -> None:
        """``drift`` is the clock-rate difference followed (0.001 = 1000 ppm)."""
        self._drift = drift
        self._offset: float | None = None
        self._last_arrival = 0.0

    def to_wall(self, pts_seconds: float, arrival: float) -> float:
        """Return the wall time of a packet presented at ``pts_seconds`` and received now."""
        offset = arrival - pts_seconds
        if self._offset is None:
            self._offset = offset
        else:
            allowed = self._offset + self._drift * max(0.0, arrival - self._last_arrival)
            self._offset = min(allowed, offset)
        self._last_arrival = arrival
        return pts_seconds + self._offset
