"""GopRing: the last seconds of a camera in RAM, as whole groups of pictures.

Packets are kept as demuxed (never decoded). Storage is a deque of GOPs, each a list that
starts with a video keyframe, so an append is a list append and trimming drops whole GOPs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import threading

from .models import TimedPacket


@dataclass(slots=True)
class _Gop:
    start: float
    packets: list[TimedPacket] = field(default_factory=list)
    size: int = 0


class GopRing:
    """Keyframe-aligned packet ring bounded by seconds and bytes.

    It keeps just enough to serve ``snapshot_from(now - seconds)``: the newest keyframe at or
    before that time and everything after it, so at most ``seconds`` plus one GOP.
    """

    def __init__(self, seconds: float, max_bytes: int) -> None:
        """``seconds`` is the pre-roll to serve; ``max_bytes`` caps RAM whatever the bitrate."""
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.lock = threading.Lock()  # shared with the recorder: snapshot + go-live is atomic
        self._gops: deque[_Gop] = deque()
        self._bytes = 0
        self.evicted_for_bytes = 0

    def append(self, timed: TimedPacket) -> None:
        """Add a packet; callers hold ``lock``. Packets before the first keyframe are dropped."""
        if timed.is_video and timed.is_keyframe:
            self._gops.append(_Gop(timed.time))
        elif not self._gops:
            return
        gop = self._gops[-1]
        gop.packets.append(timed)
        gop.size += timed.size
        self._bytes += timed.size
        self._trim(timed.time)

    def _trim(self, newest: float) -> None:
        gops = self._gops
        horizon = newest - self.seconds
        while len(gops) > 1 and gops[1].start <= horizon:
            self._bytes -= gops.popleft().size
        while len(gops) > 1 and self._bytes > self.max_bytes:
            self._bytes -= gops.popleft().size
            self.evicted_for_bytes += 1

    def snapshot_from(self, start: float) -> list[TimedPacket]:
        """Packets from the newest keyframe at or before ``start`` (the oldest one if none is)."""
        chosen = 0
        for index, gop in enumerate(self._gops):
            if gop.start > start:
                break
            chosen = index
        packets: list[TimedPacket] = []
        for index in range(chosen, len(self._gops)):
            packets.extend(self._gops[index].packets)
        return packets

    def latest_keyframe(self) -> TimedPacket | None:
        """The newest keyframe, e.g. for a still image without a second connection."""
        with self.lock:
            return self._gops[-1].packets[0] if self._gops else None

    def clear(self) -> None:
        """Forget everything (a new connection restarts timestamps)."""
        with self.lock:
            self._gops.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        """Bytes of packet payload held."""
        return self._bytes

    @property
    def duration(self) -> float:
        """Seconds from the oldest keyframe to the newest packet."""
        with self.lock:
            if not self._gops:
                return 0.0
            return self._gops[-1].packets[-1].time - self._gops[0].start

    def __len__(self) -> int:
        """Number of packets held."""
        with self.lock:
            return sum(len(gop.packets) for gop in self._gops)
