"""ObjectTracker: confirming labels over frames, holding them, clearing them; object_trigger."""

from __future__ import annotations

from custom_components.lookback.core.models import Trigger
from custom_components.lookback.core.objects.tracker import (
    LabelState,
    ObjectTracker,
    ObjectUpdate,
    object_trigger,
)
from custom_components.lookback.core.objects.types import Box, Detection

T0 = 1_700_000_000.0


def person(score: float = 0.8, x: float = 0.1) -> Detection:
    return Detection("person", score, Box(x, 0.2, 0.1, 0.3))


def car(score: float = 0.7) -> Detection:
    return Detection("car", score, Box(0.5, 0.5, 0.3, 0.2))


def test_a_label_needs_min_frames_consecutive_frames() -> None:
    tracker = ObjectTracker(min_frames=3, hold=10.0)

    assert tracker.update([person(0.7)], T0) is None
    assert tracker.update([person(0.9)], T0 + 0.5) is None
    update = tracker.update([person(0.8)], T0 + 1.0)

    assert update is not None
    assert update.time == T0 + 1.0
    assert update.new == (person(0.9),)  # the best of the streak
    assert (update.cleared, update.improved) == ((), ())
    state = update.present["person"]
    assert state == LabelState(
        "person", 1, person(0.9), since=T0, last_seen=T0 + 1.0, frames=3, until=T0 + 11.0
    )
    assert state.best_score == 0.9
    assert tracker.present == update.present


def test_a_frame_without_the_label_breaks_the_streak() -> None:
    tracker = ObjectTracker(min_frames=2, hold=10.0)

    assert tracker.update([person()], T0) is None
    assert tracker.update([car()], T0 + 0.5) is None  # person's streak broken, car's begins
    assert tracker.update([person()], T0 + 1.0) is None  # person starts again
    update = tracker.update([person()], T0 + 1.5)

    assert update is not None
    assert update.new == (person(),)
    assert update.present["person"].since == T0 + 1.0
    assert "car" not in update.present


def test_frames_further_apart_than_hold_are_not_consecutive() -> None:
    tracker = ObjectTracker(min_frames=2, hold=5.0)

    assert tracker.update([person()], T0) is None
    assert tracker.update([person()], T0 + 5.0) is None  # the first frame is too old
    assert tracker.update([person()], T0 + 6.0) is not None


def test_expire_drops_a_stale_streak() -> None:
    tracker = ObjectTracker(min_frames=2, hold=5.0)
    assert tracker.update([person()], T0) is None
    assert tracker.expire(T0 + 5.0) is None  # nothing the caller shows changed
    assert tracker.update([person()], T0 + 5.5) is None  # a new streak, not the second frame


def test_confirmed_at_once_needs_one_frame() -> None:
    tracker = ObjectTracker(min_frames=3, hold=10.0)
    assert tracker.update([person()], T0) is None

    update = tracker.update([car(), person(0.95)], T0 + 0.5, confirmed_at_once=True)

    assert update is not None
    assert update.new == (car(), person(0.95))
    assert update.present["person"].frames == 2
    assert update.present["car"].since == T0 + 0.5


def test_min_frames_of_one_confirms_at_once() -> None:
    tracker = ObjectTracker(min_frames=1, hold=10.0)
    update = tracker.update([person(), person(0.6, x=0.5)], T0)
    assert update is not None
    assert update.new == (person(),)
    assert update.present["person"].count == 2


def test_a_present_label_is_held_until_hold_after_last_seen() -> None:
    tracker = ObjectTracker(min_frames=1, hold=10.0)
    assert tracker.update([person()], T0) is not None

    assert tracker.update([], T0 + 5.0) is None  # a frame without: held
    assert tracker.update([person()], T0 + 8.0) is None  # seen again: hold from here
    assert tracker.expire(T0 + 17.9) is None
    assert tracker.update([], T0 + 17.9) is None
    update = tracker.expire(T0 + 18.0)

    assert update == ObjectUpdate(T0 + 18.0, present={}, cleared=("person",))
    assert tracker.present == {}
    assert tracker.expire(T0 + 30.0) is None


def test_a_frame_after_the_hold_clears_first() -> None:
    tracker = ObjectTracker(min_frames=2, hold=10.0)
    tracker.update([person()], T0)
    tracker.update([person(), car()], T0 + 1.0)
    tracker.update([car()], T0 + 2.0)  # car confirmed: present are person and car

    update = tracker.update([car()], T0 + 11.0)  # person last seen at T0 + 1

    assert update is not None
    assert update.cleared == ("person",)
    assert update.new == ()
    assert list(update.present) == ["car"]


def test_a_label_seen_again_after_its_hold_is_new_again() -> None:
    tracker = ObjectTracker(min_frames=1, hold=10.0)
    tracker.update([person(0.9)], T0)

    update = tracker.update([person(0.5)], T0 + 10.0)

    assert update is not None
    assert (update.cleared, update.new) == (("person",), (person(0.5),))
    state = update.present["person"]
    assert (state.since, state.best_score, state.frames) == (T0 + 10.0, 0.5, 1)


def test_a_better_score_is_an_improvement() -> None:
    tracker = ObjectTracker(min_frames=1, hold=10.0)
    tracker.update([person(0.7)], T0)

    assert tracker.update([person(0.6)], T0 + 1.0) is None  # worse: nothing to tell
    update = tracker.update([person(0.85, x=0.4)], T0 + 2.0)

    assert update is not None
    assert (update.new, update.improved) == ((), ("person",))
    state = update.present["person"]
    assert state.best == person(0.85, x=0.4)
    assert (state.since, state.last_seen, state.frames) == (T0, T0 + 2.0, 3)


def test_a_changed_count_is_a_change() -> None:
    tracker = ObjectTracker(min_frames=1, hold=10.0)
    tracker.update([person(0.9)], T0)

    update = tracker.update([person(0.5), person(0.4, x=0.6)], T0 + 1.0)
    assert update is not None
    assert (update.new, update.improved, update.cleared) == ((), (), ())
    assert update.present["person"].count == 2
    assert tracker.update([person(0.5), person(0.4, x=0.6)], T0 + 2.0) is None
    assert tracker.update([], T0 + 3.0) is None  # not seen: the count stays the last seen
    assert tracker.present["person"].count == 2


def test_reset_forgets_labels_and_streaks() -> None:
    tracker = ObjectTracker(min_frames=2, hold=10.0)
    tracker.update([person(), car()], T0)
    tracker.update([person()], T0 + 1.0)
    assert set(tracker.present) == {"person"}

    tracker.reset()

    assert tracker.present == {}
    assert tracker.update([car()], T0 + 2.0) is None  # car's streak was forgotten too
    assert tracker.expire(T0 + 100.0) is None


def test_the_present_dict_is_a_snapshot() -> None:
    tracker = ObjectTracker(min_frames=1, hold=10.0)
    update = tracker.update([person(0.5)], T0)
    assert update is not None
    tracker.update([person(0.9)], T0 + 1.0)
    assert update.present["person"].best_score == 0.5


def test_object_trigger() -> None:
    detection = Detection("person", 0.87654, Box(0.12341, 0.2, 0.3, 0.4))

    trigger = object_trigger("cam1", detection, T0, "motion")

    assert trigger == Trigger(
        camera_id="cam1",
        source="object",
        time=T0,
        label="person",
        score=0.877,
        data={"box": [0.123, 0.2, 0.3, 0.4], "reason": "motion"},
    )


def test_a_periodic_check_holds_its_label_until_the_next_one() -> None:
    tracker = ObjectTracker(min_frames=2, hold=5.0, streak_gap=90.0)
    # Two checks a minute apart make a streak (further apart than the hold).
    assert tracker.update([person(0.8)], T0, hold=90.0, whole_picture=True) is None
    update = tracker.update([person(0.8)], T0 + 60.0, hold=90.0, whole_picture=True)
    assert update is not None
    assert update.new == (person(0.8),)
    assert tracker.next_expiry() == T0 + 150.0
    assert tracker.expire(T0 + 149.0) is None
    # A motion frame showing it again does not shorten the check's hold.
    tracker.update([person(0.8)], T0 + 70.0)
    assert tracker.next_expiry() == T0 + 150.0


def test_a_whole_picture_without_the_label_clears_it_at_once() -> None:
    tracker = ObjectTracker(min_frames=1, hold=60.0)
    tracker.update([person(0.8), car(0.7)], T0)
    # A crop around motion that lacks the car says nothing about the car.
    assert tracker.update([person(0.8)], T0 + 1.0) is None
    update = tracker.update([person(0.8)], T0 + 2.0, whole_picture=True)
    assert update is not None
    assert update.cleared == ("car",)
    assert set(update.present) == {"person"}


def test_an_older_picture_never_shortens_a_hold() -> None:
    tracker = ObjectTracker(min_frames=1, hold=5.0)
    tracker.update([person(0.8)], T0 + 10.0)
    tracker.update([person(0.8)], T0 + 8.0)  # a keyframe detected late
    assert tracker.present["person"].last_seen == T0 + 10.0
    assert tracker.next_expiry() == T0 + 15.0
    assert ObjectTracker(min_frames=1, hold=5.0).next_expiry() is None
