"""What the event loop and the demux thread send a ClipRecorder's writer thread, in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from av.stream import Stream

    from .models import TimedPacket


@dataclass(frozen=True, slots=True)
class Start:
    """Record an event: the ring's pre-roll, then live packets after ``upto``."""

    event: dict[str, Any]
    event_id: str
    trigger_time: float
    pre_roll: float
    end_time: float
    packets: list[TimedPacket]
    streams: Sequence[Stream]
    upto: int


@dataclass(frozen=True, slots=True)
class Extend:
    """A retrigger moved the event's end."""

    event_id: str
    end_time: float
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class End:
    """The event ended: close once packets pass its end."""

    event_id: str


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A better picture of the event (its best object detection, drawn): the clip's thumbnail."""

    event_id: str
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class Live:
    """A live packet with its sequence number (to skip what the pre-roll held)."""

    seq: int
    timed: TimedPacket


@dataclass(frozen=True, slots=True)
class NewStreams:
    """A reconnect: the current file closes, the next keyframe opens a new part."""

    streams: Sequence[Stream]


STOP = object()  # close any open clip and end the thread
