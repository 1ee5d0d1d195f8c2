"""EventTracker: start, extend by retriggers, end after post-roll; an Event's labels and objects."""

from __future__ import annotations

import asyncio
import json

from custom_components.lookback.core.events import EventListeners, EventTracker, new_event_id
from custom_components.lookback.core.models import OBJECT_SOURCE, Event, Trigger
from custom_components.lookback.core.objects.tracker import object_trigger
from custom_components.lookback.core.objects.types import Box, Detection


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.ended = asyncio.Event()

    def listeners(self) -> EventListeners:
        return EventListeners(
            started=lambda e: self.calls.append(("started", e.event_id)),
            extended=lambda e: self.calls.append(("extended", e.event_id)),
            ended=self._ended,
        )

    def _ended(self, event: Event) -> None:
        self.calls.append(("ended", event.event_id))
        self.ended.set()


class FakeClock:
    """Wall time under test control; the loop's timer still really waits (short delays)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_retrigger_extends_then_post_roll_ends() -> None:
    rec = Recorder()
    clock = FakeClock()
    tracker = EventTracker("cam", 5.0, 0.2, rec.listeners(), asyncio.get_running_loop(), clock)
    first = tracker.trigger(Trigger("cam", "motion", 1000.0))
    clock.now = 1000.1
    second = tracker.trigger(Trigger("cam", "smtp", 1000.1, label="person", score=0.8))
    assert first is second
    assert first.end_time == 1000.1 + 0.2
    assert first.labels == {"person": 0.8}
    assert tracker.current is first
    clock.now = 1000.5
    await asyncio.wait_for(rec.ended.wait(), 5)
    assert rec.calls == [
        ("started", first.event_id),
        ("extended", first.event_id),
        ("ended", first.event_id),
    ]
    assert first.ended
    assert tracker.current is None


async def test_timer_that_fires_early_reschedules() -> None:
    rec = Recorder()
    clock = FakeClock()
    tracker = EventTracker("cam", 5.0, 0.05, rec.listeners(), asyncio.get_running_loop(), clock)
    event = tracker.trigger(Trigger("cam", "service", 1000.0))
    # the wall clock says the post-roll is not over yet when the loop timer fires
    await asyncio.sleep(0.1)
    assert not event.ended
    clock.now = 2000.0
    await asyncio.wait_for(rec.ended.wait(), 5)
    assert event.ended


async def test_new_trigger_after_end_opens_new_event_and_per_trigger_post_roll() -> None:
    rec = Recorder()
    clock = FakeClock()
    tracker = EventTracker("cam", 2.0, 10.0, rec.listeners(), asyncio.get_running_loop(), clock)
    first = tracker.trigger(Trigger("cam", "service", 1000.0), post_roll=0.0)
    assert first.end_time == 1000.0
    await asyncio.wait_for(rec.ended.wait(), 5)
    second = tracker.trigger(Trigger("cam", "service", 1001.0))
    assert second.event_id != first.event_id
    assert second.pre_roll == 2.0
    tracker.close()
    assert second.ended
    tracker.close()  # closing twice is harmless
    assert [c[0] for c in rec.calls] == ["started", "ended", "started", "ended"]


def test_event_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_event_id(1000.0 + i) for i in range(5)]
    assert ids == sorted(ids)
    assert len({new_event_id(5.0) for _ in range(100)}) == 100


def test_event_as_dict_lists_triggers_and_best_labels() -> None:
    event = Event("e", "cam", 1.0, 2.0, 5.0)
    event.triggers += [
        Trigger("cam", "motion", 1.0, label="person", score=0.5),
        Trigger("cam", "objects", 1.5, label="person", score=0.9),
        Trigger("cam", "smtp", 1.6, label="alarm"),
    ]
    data = event.as_dict()
    assert data["labels"] == {"person": 0.9, "alarm": 0.0}
    assert [t["source"] for t in data["triggers"]] == ["motion", "objects", "smtp"]
    assert event.first_trigger_time == 1.0


def test_pre_roll_override_applies_to_the_event_a_trigger_opens() -> None:
    rec = Recorder()
    clock = FakeClock()
    loop = asyncio.new_event_loop()
    try:
        tracker = EventTracker("cam", 2.0, 10.0, rec.listeners(), loop, clock)
        event = tracker.trigger(Trigger("cam", "service", 1000.0), pre_roll=6.0)
        assert event.pre_roll == 6.0
        again = tracker.trigger(Trigger("cam", "motion", 1001.0), pre_roll=1.0)
        assert again is event
        assert event.pre_roll == 6.0  # an open event keeps its start
        tracker.close()
    finally:
        loop.close()


async def test_extend_moves_the_end_without_a_trigger() -> None:
    rec = Recorder()
    clock = FakeClock()
    tracker = EventTracker("cam", 5.0, 2.0, rec.listeners(), asyncio.get_running_loop(), clock)
    assert tracker.extend(1000.0) is None  # no open event: nothing to keep going
    event = tracker.trigger(Trigger("cam", "motion", 1000.0))
    assert event.end_time == 1002.0
    assert tracker.extend(1000.2) is None  # under EXTEND_STEP_S: the writer is not told
    assert tracker.extend(1003.0) is event
    assert event.end_time == 1005.0
    assert len(event.triggers) == 1
    assert rec.calls == [("started", event.event_id), ("extended", event.event_id)]
    tracker.close()


def test_event_objects_keep_each_labels_best_detection_and_its_box() -> None:
    def seen(label: str, score: float, box: Box, time: float) -> Trigger:
        return object_trigger("cam", Detection(label, score, box), time, "motion")

    event = Event("e", "cam", 1.0, 9.0, 5.0)
    event.triggers += [
        Trigger("cam", "motion", 1.0),
        seen("person", 0.71, Box(0.1, 0.2, 0.1, 0.3), 1.2),
        seen("car", 0.8, Box(0.5, 0.5, 0.3, 0.2), 1.3),
        seen("person", 0.93, Box(0.4, 0.2, 0.12, 0.35), 2.0),  # the best person
        seen("person", 0.82, Box(0.6, 0.2, 0.1, 0.3), 3.0),
        seen("car", 0.8, Box(0.7, 0.5, 0.3, 0.2), 3.5),  # as good, later: the first stays
        # other sources never count, however sure they are of a label
        Trigger("cam", "onvif", 2.5, label="person", score=0.99, data={"box": [0, 0, 1, 1]}),
        Trigger("cam", "smtp", 2.6, label="dog", score=1.0, data={"box": [0, 0, 1, 1]}),
    ]
    assert event.objects == {
        "person": {"score": 0.93, "box": [0.4, 0.2, 0.12, 0.35]},
        "car": {"score": 0.8, "box": [0.5, 0.5, 0.3, 0.2]},
    }
    assert event.labels == {"person": 0.99, "car": 0.8, "dog": 1.0}  # labels take every source
    data = event.as_dict()
    assert data["objects"] == event.objects
    assert json.loads(json.dumps(data))["objects"] == event.objects  # JSON-ready


def test_event_objects_of_bare_object_triggers() -> None:
    event = Event("e", "cam", 1.0, 9.0, 5.0)
    assert event.objects == {}
    assert event.as_dict()["objects"] == {}
    event.triggers += [
        Trigger("cam", OBJECT_SOURCE, 1.0),  # no label: nothing to name
        Trigger("cam", OBJECT_SOURCE, 1.1, label="cat"),  # no score, no box
        Trigger("cam", OBJECT_SOURCE, 1.2, label="cat", score=0.0, data={"box": [0, 0, 1, 1]}),
        Trigger("cam", OBJECT_SOURCE, 1.3, label="dog", score=0.4, data={"box": [0, 0, 1, 1]}),
    ]
    assert event.objects == {
        "cat": {"score": 0.0, "box": None},  # a score of none is 0, and 0 is not better
        "dog": {"score": 0.4, "box": [0, 0, 1, 1]},
    }
