"""MotionTracker: per-frame results become motion that starts, goes on and ends."""

from __future__ import annotations

from custom_components.lookback.core.motion import MotionBox, MotionResult
from custom_components.lookback.core.motion_state import (
    MotionPhase,
    MotionTracker,
    MotionUpdate,
    motion_trigger,
)

BOX = MotionBox(0.1, 0.2, 0.3, 0.4, 0.05)


def moving(time: float, *zones: str, score: float = 0.05) -> MotionResult:
    return MotionResult(time, True, score, (BOX,), tuple(zones), score)


def still(time: float) -> MotionResult:
    return MotionResult(time, False, 0.0, (), (), 0.0)


def test_started_continued_ended_with_hold() -> None:
    tracker = MotionTracker(min_duration=2.0)
    assert tracker.update(still(0.0)) is None
    started = tracker.update(moving(1.0, score=0.07))
    assert started == MotionUpdate(MotionPhase.STARTED, 1.0, 0.07, (BOX,), (), ())
    active_after_start = tracker.active
    assert active_after_start
    assert tracker.until == 3.0
    # still frames inside the hold change nothing
    assert tracker.update(still(1.5)) is None
    assert tracker.update(still(2.99)) is None
    # a moving frame extends the hold
    continued = tracker.update(moving(2.5))
    assert continued is not None
    assert continued.phase is MotionPhase.CONTINUED
    assert continued.boxes == (BOX,)
    assert tracker.until == 4.5
    assert tracker.update(still(4.4)) is None
    ended = tracker.update(still(4.5))
    assert ended == MotionUpdate(MotionPhase.ENDED, 4.5)
    assert not tracker.active
    assert tracker.update(still(10.0)) is None
    # the next moving frame is a new motion
    again = tracker.update(moving(11.0))
    assert again is not None
    assert again.phase is MotionPhase.STARTED


def test_zones_are_held_and_new_zones_named_once() -> None:
    tracker = MotionTracker(min_duration=2.0)
    first = tracker.update(moving(0.0, "door", "yard"))
    assert first is not None
    assert first.zones == ("door", "yard")
    assert first.new_zones == ("door", "yard")
    # "yard" is still held although this frame only moved in "door"
    second = tracker.update(moving(1.0, "door"))
    assert second is not None
    assert second.phase is MotionPhase.CONTINUED
    assert second.zones == ("door", "yard")
    assert second.new_zones == ()
    third = tracker.update(moving(1.5, "gate", "door"))
    assert third is not None
    assert third.zones == ("door", "gate", "yard")  # sorted
    assert third.new_zones == ("gate",)
    assert tracker.zones_on(1.5) == ("door", "gate", "yard")
    assert tracker.zones_on(2.0) == ("door", "gate")  # yard's hold ran out at 2.0


def test_zone_expiry_is_a_continued_update_with_fewer_zones() -> None:
    tracker = MotionTracker(min_duration=2.0)
    tracker.update(moving(0.0, "yard"))
    tracker.update(moving(1.0, "door"))
    assert tracker.update(still(1.9)) is None
    fewer = tracker.update(still(2.0))
    assert fewer == MotionUpdate(MotionPhase.CONTINUED, 2.0, zones=("door",))
    assert tracker.zone_until == {"door": 3.0}
    assert tracker.update(still(2.5)) is None  # told once
    # a zone that ran out and comes back is new again
    back = tracker.update(moving(2.6, "yard"))
    assert back is not None
    assert back.new_zones == ("yard",)
    assert back.zones == ("door", "yard")


def test_end_clears_every_zone() -> None:
    tracker = MotionTracker(min_duration=1.0)
    tracker.update(moving(0.0, "door"))
    ended = tracker.update(still(5.0))
    assert ended is not None
    assert ended.phase is MotionPhase.ENDED
    assert ended.zones == ()
    assert tracker.zone_until == {}
    restarted = tracker.update(moving(6.0, "door"))
    assert restarted is not None
    assert restarted.new_zones == ("door",)


def test_expire_without_frames() -> None:
    tracker = MotionTracker(min_duration=5.0)
    assert tracker.expire(100.0) is None  # nothing on
    tracker.update(moving(100.0, "door"))
    assert tracker.expire(104.9) is None
    ended = tracker.expire(105.0)
    assert ended == MotionUpdate(MotionPhase.ENDED, 105.0)
    assert tracker.expire(200.0) is None
    # switched off: expire(inf) ends any motion at once
    tracker.update(moving(300.0))
    off = tracker.expire(float("inf"))
    assert off is not None
    assert off.phase is MotionPhase.ENDED


def test_moving_frame_after_the_hold_ran_out_starts_a_new_motion() -> None:
    tracker = MotionTracker(min_duration=1.0)
    tracker.update(moving(0.0))
    later = tracker.update(moving(2.0))  # the hold ended at 1.0
    assert later is not None
    assert later.phase is MotionPhase.STARTED


def test_motion_trigger_carries_score_zones_and_boxes() -> None:
    update = MotionUpdate(MotionPhase.STARTED, 12.5, 0.25, (BOX,), ("door",), ("door",))
    trigger = motion_trigger("cam", update)
    assert trigger.camera_id == "cam"
    assert trigger.source == "motion"
    assert trigger.time == 12.5
    assert trigger.score == 0.25
    assert trigger.label is None
    assert trigger.data == {"zones": ["door"], "boxes": [[0.1, 0.2, 0.3, 0.4]]}
