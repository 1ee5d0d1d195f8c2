"""ObjectTracker: per-frame detections -> labels that come, stay and go.

A single frame's detection is often wrong (a bin bag as a person for one frame), so a label
counts as present only after ``min_frames`` consecutive analysed frames showed it; frames more
than ``hold`` seconds apart are not consecutive (analysis pauses while nothing moves). A
camera's own alert already corroborates, so ``confirmed_at_once`` needs one frame. A present
label stays present until ``hold`` seconds after the last frame that showed it: a person
hidden behind a car for a few frames is one visit, not two.

Pure and single-threaded: the caller runs it on the event loop with the worker's outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..models import Trigger
from .filters import best_by_label
from .types import Detection


@dataclass(frozen=True, slots=True)
class LabelState:
    """One label that is present (or on its way to it)."""

    label: str
    count: int
    """Boxes of this label in the latest frame that showed it."""
    best: Detection
    """The highest-scoring detection of this presence (its streak included)."""
    since: float
    """Time of the first frame of the streak that made it present."""
    last_seen: float
    frames: int = 1
    """Frames that showed it since ``since``."""
    until: float | None = None
    """When it stops being present unless seen again (None: ``last_seen`` + the hold)."""

    @property
    def best_score(self) -> float:
        """The best score of this presence."""
        return self.best.score


@dataclass(frozen=True, slots=True)
class ObjectUpdate:
    """What changed with a frame (or with time passing)."""

    time: float
    new: tuple[Detection, ...] = ()
    """The best detection of each label that became present: one Trigger each."""
    present: dict[str, LabelState] = field(default_factory=dict)
    """Every present label after the change."""
    cleared: tuple[str, ...] = ()
    """Labels no longer present (their hold ran out)."""
    improved: tuple[str, ...] = ()
    """Present labels whose best score went up (a better snapshot may be drawn)."""


@dataclass(slots=True)
class ObjectTracker:
    """Confirms labels over frames and holds them; fed with filtered detections."""

    min_frames: int
    hold: float
    """How long a label stays present after a frame showed it (unless a frame says otherwise)."""
    streak_gap: float | None = None
    """Frames further apart than this do not make a streak (None: ``hold``); periodic checks
    minutes apart still confirm each other."""
    _present: dict[str, LabelState] = field(default_factory=dict)
    _streaks: dict[str, LabelState] = field(default_factory=dict)  # seen, not yet confirmed

    @property
    def present(self) -> dict[str, LabelState]:
        """The labels present now (a copy)."""
        return dict(self._present)

    def update(
        self,
        detections: list[Detection],
        time: float,
        *,
        confirmed_at_once: bool = False,
        hold: float | None = None,
        whole_picture: bool = False,
    ) -> ObjectUpdate | None:
        """Take one analysed frame's (filtered) detections; None when nothing changed.

        A change is a label that came or went, a present label's count that changed or its
        best score that went up. ``hold`` overrides how long what this frame shows stays
        present (a periodic check holds until the next one). A ``whole_picture`` frame (not a
        crop around motion) that lacks a present label clears it at once.
        """
        cleared = self._expire(time)
        if whole_picture:
            gone = [label for label in self._present if label not in {d.label for d in detections}]
            for label in gone:
                del self._present[label]
            cleared.extend(gone)
        until = time + (self.hold if hold is None else hold)
        seen_best = best_by_label(detections)
        counts: dict[str, int] = {}
        for detection in detections:
            counts[detection.label] = counts.get(detection.label, 0) + 1
        # A streak is broken by a frame without its label.
        self._streaks = {label: s for label, s in self._streaks.items() if label in seen_best}
        new: list[Detection] = []
        improved: list[str] = []
        recounted = False
        for label, best in seen_best.items():
            count = counts[label]
            state = self._present.get(label)
            if state is not None:
                recounted |= count != state.count
                if best.score > state.best_score:
                    improved.append(label)
                    state = replace(state, best=best)
                # An older picture (a keyframe detected late) never shortens the hold.
                self._present[label] = replace(
                    state,
                    count=count,
                    last_seen=max(state.last_seen, time),
                    frames=state.frames + 1,
                    until=max(self._until(state), until),
                )
                continue
            streak = self._streaks.get(label)
            if streak is None:
                streak = LabelState(label, count, best, since=time, last_seen=time, until=until)
            else:
                streak = replace(
                    streak,
                    count=count,
                    best=best if best.score > streak.best_score else streak.best,
                    last_seen=time,
                    frames=streak.frames + 1,
                    until=until,
                )
            if confirmed_at_once or streak.frames >= self.min_frames:
                self._streaks.pop(label, None)
                self._present[label] = streak
                new.append(streak.best)
            else:
                self._streaks[label] = streak
        if not (new or cleared or improved or recounted):
            return None
        return ObjectUpdate(time, tuple(new), self.present, tuple(cleared), tuple(improved))

    def expire(self, now: float) -> ObjectUpdate | None:
        """Clear labels whose hold ran out by ``now`` (also when no frames come)."""
        cleared = self._expire(now)
        if not cleared:
            return None
        return ObjectUpdate(now, present=self.present, cleared=tuple(cleared))

    def reset(self) -> None:
        """Forget every label (detection switched off): the caller clears what it shows."""
        self._present.clear()
        self._streaks.clear()

    def next_expiry(self) -> float | None:
        """When the first present label runs out (None: none present)."""
        return min((self._until(s) for s in self._present.values()), default=None)

    def _until(self, state: LabelState) -> float:
        return state.last_seen + self.hold if state.until is None else state.until

    def _expire(self, now: float) -> list[str]:
        """Drop labels whose hold ran out and streaks too old to go on by ``now``."""
        gap = self.hold if self.streak_gap is None else self.streak_gap
        self._streaks = {label: s for label, s in self._streaks.items() if now < s.last_seen + gap}
        cleared = [label for label, s in self._present.items() if now >= self._until(s)]
        for label in cleared:
            del self._present[label]
        return cleared


def object_trigger(camera_id: str, detection: Detection, time: float, reason: str) -> Trigger:
    """The Trigger a label becoming present puts into the event pipeline."""
    return Trigger(
        camera_id=camera_id,
        source="object",
        time=time,
        label=detection.label,
        score=round(detection.score, 3),
        data={"box": detection.box.as_list(), "reason": reason},
    )
