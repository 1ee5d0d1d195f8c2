"""FrameFeed: the demux thread's video packets handed to analysis, latest GOP only.

``put`` runs in the demux thread for every packet and never waits on analysis: it appends to
the current GOP (a keyframe starts a new one) and wakes the worker when there is work. The
worker takes only the keyframe in keyframe mode, and every packet since its last take in
full-rate mode (a decoder needs the whole chain since the keyframe). Work the worker had no time
for is replaced by the next GOP and counted.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import TimedPacket


class FrameFeed:
    """Latest-only hand-over of one stream's video packets from demux to analysis."""

    def __init__(self) -> None:
        """Start empty, in keyframe mode, enabled."""
        self._cond = threading.Condition()
        self._gop: list[TimedPacket] = []
        self._gop_serial = 0  # counts GOPs (keyframes) put
        self._taken_serial = 0  # the GOP the worker last took from
        self._taken = 0  # packets of that GOP it took
        self._full_rate = False
        self._enabled = True
        self._closed = False
        self._woken = False
        self.replaced = 0
        """Keyframes (keyframe mode) or packets (full rate) dropped before analysis took them."""

    def put(self, timed: TimedPacket) -> None:
        """Take a demuxed packet (demux thread; returns at once)."""
        if not timed.is_video or not self._enabled:
            return
        with self._cond:
            if timed.is_keyframe:
                self._count_unread()
                self._gop = [timed]
                self._gop_serial += 1
                self._cond.notify()
            elif self._gop:  # a P-frame before the first keyframe cannot be decoded
                self._gop.append(timed)
                if self._full_rate:
                    self._cond.notify()

    def take(self, timeout: float) -> list[TimedPacket] | None:
        """Wait up to ``timeout`` for work; None on timeout or when closed.

        A new GOP yields its keyframe (and, at full rate, what followed it); otherwise, at full
        rate, the packets that arrived since the last take.
        """
        with self._cond:
            if not self._cond.wait_for(self._has_work, timeout) or self._closed:
                return None
            if self._woken:  # ``wake``: the worker has something to do besides frames
                self._woken = False
                return None
            if self._taken_serial != self._gop_serial:
                self._taken_serial = self._gop_serial
                self._taken = len(self._gop) if self._full_rate else 1
                return self._gop[: self._taken]
            batch = self._gop[self._taken :]
            self._taken = len(self._gop)
            return batch

    def set_full_rate(self, full_rate: bool) -> None:
        """Hand over every packet (motion) or keyframes only (quiet)."""
        with self._cond:
            self._full_rate = full_rate

    @property
    def full_rate(self) -> bool:
        """Whether every packet is handed over."""
        return self._full_rate

    def set_enabled(self, enabled: bool) -> None:
        """Switch the feed on or off (off: packets are ignored and the GOP forgotten)."""
        with self._cond:
            self._enabled = enabled
            if not enabled:
                self._forget()

    def clear(self) -> None:
        """Forget the current GOP (the stream dropped: its packets belong to a dead decoder)."""
        with self._cond:
            self._forget()

    def wake(self) -> None:
        """Make a waiting ``take`` return None now (e.g. detection was switched off)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def close(self) -> None:
        """Wake the worker for good: ``take`` returns None from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _forget(self) -> None:
        self._gop = []
        self._taken_serial = self._gop_serial

    def _has_work(self) -> bool:
        if self._closed or self._woken:
            return True
        if self._taken_serial != self._gop_serial:
            return True
        return self._full_rate and len(self._gop) > self._taken

    def _count_unread(self) -> None:
        """Before a new GOP replaces the current one: count what the worker never took."""
        if not self._gop:
            return
        if self._taken_serial != self._gop_serial:
            self.replaced += len(self._gop) if self._full_rate else 1
        elif self._full_rate:
            self.replaced += len(self._gop) - self._taken
