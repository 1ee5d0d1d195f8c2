"""MotionTracker: per-frame results -> motion that starts, goes on and ends.

Motion (and each zone's motion) stays on for ``min_duration`` after the last frame that moved;
every moving frame extends it (a person pausing for a second is one motion, not two).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .models import Trigger
from .motion import MotionBox, MotionResult


class MotionPhase(StrEnum):
    """Where a motion is in its life."""

    STARTED = "started"
    CONTINUED = "continued"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class MotionUpdate:
    """A change worth telling: motion started, went on (a moving frame) or ended."""

    phase: MotionPhase
    time: float
    score: float = 0.0
    boxes: tuple[MotionBox, ...] = ()
    zones: tuple[str, ...] = ()
    """Zones on now (each held for ``min_duration`` after its last moving frame)."""
    new_zones: tuple[str, ...] = ()
    """Zones that came on with this frame."""


@dataclass(slots=True)
class MotionTracker:
    """Holds motion on between moving frames; pure, fed by the analysis worker."""

    min_duration: float
    active: bool = False
    until: float = 0.0
    zone_until: dict[str, float] = field(default_factory=dict)

    def update(self, result: MotionResult) -> MotionUpdate | None:
        """Take one analysed frame; returns an update unless nothing changed."""
        now = result.time
        if result.motion:
            if self.active and now > self.until:  # the hold ran out since the last frame
                self.end()
            before = set(self.zones_on(now))
            for zone in result.zones:
                self.zone_until[zone] = now + self.min_duration
            new_zones = tuple(z for z in result.zones if z not in before)
            phase = MotionPhase.CONTINUED if self.active else MotionPhase.STARTED
            self.active = True
            self.until = now + self.min_duration
            return MotionUpdate(
                phase, now, result.score, result.boxes, self.zones_on(now), new_zones
            )
        return self.expire(now)

    def expire(self, now: float) -> MotionUpdate | None:
        """End motion whose hold ran out by ``now`` (also when frames stop coming)."""
        if self.active and now >= self.until:
            self.end()
            return MotionUpdate(MotionPhase.ENDED, now)
        if self.active and any(until <= now for until in self.zone_until.values()):
            self.zone_until = {z: u for z, u in self.zone_until.items() if u > now}
            return MotionUpdate(MotionPhase.CONTINUED, now, zones=self.zones_on(now))
        return None

    def end(self) -> None:
        """Forget the motion (its hold ran out, or detection was switched off)."""
        self.active = False
        self.zone_until.clear()

    def zones_on(self, now: float) -> tuple[str, ...]:
        """Zones whose hold has not run out."""
        return tuple(sorted(z for z, until in self.zone_until.items() if until > now))


def motion_trigger(camera_id: str, update: MotionUpdate) -> Trigger:
    """The Trigger a motion start (or a zone coming on) puts into the event pipeline."""
    return Trigger(
        camera_id=camera_id,
        source="motion",
        time=update.time,
        score=update.score,
        data={
            "zones": list(update.zones),
            "boxes": [box.as_list() for box in update.boxes],
        },
    )
