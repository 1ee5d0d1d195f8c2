"""EventTracker: merges a camera's triggers into events (start, extend, end after post-roll).

Runs on the event loop. A trigger while an event is open extends it to ``trigger + post_roll``;
otherwise it opens a new event. One event per camera at a time, so one recording at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
import time
import uuid

from .models import Event, Trigger

_LOGGER = logging.getLogger(__name__)

EventListener = Callable[[Event], None]

# ``extend`` moves an event's end in steps of at least this: the writer thread hears of each
# move, and motion reports up to several moving frames a second.
EXTEND_STEP_S = 0.5


@dataclass(slots=True)
class EventListeners:
    """Who hears about an event's life."""

    started: EventListener
    extended: EventListener
    ended: EventListener


def new_event_id(start_time: float) -> str:
    """Sortable, unique event id: start time in ms plus a random suffix."""
    return f"{int(start_time * 1000):x}{uuid.uuid4().hex[:6]}"


class EventTracker:
    """One camera's open event and the timer that ends it."""

    def __init__(
        self,
        camera_id: str,
        pre_roll: float,
        post_roll: float,
        listeners: EventListeners,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Configure; ``loop`` runs the end timer, ``clock`` gives wall time."""
        self.camera_id = camera_id
        self.pre_roll = pre_roll
        self.post_roll = post_roll
        self._listeners = listeners
        self._loop = loop
        self._event: Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._clock = clock

    @property
    def current(self) -> Event | None:
        """The open event, if any."""
        return self._event

    def trigger(
        self, trigger: Trigger, post_roll: float | None = None, pre_roll: float | None = None
    ) -> Event:
        """Open or extend the event.

        ``post_roll`` overrides the camera's for this trigger; ``pre_roll`` overrides it for an
        event this trigger opens (an open event already has its start).
        """
        end = trigger.time + (self.post_roll if post_roll is None else post_roll)
        event = self._event
        if event is None:
            event = Event(
                event_id=new_event_id(trigger.time),
                camera_id=self.camera_id,
                start_time=trigger.time,
                end_time=end,
                pre_roll=self.pre_roll if pre_roll is None else pre_roll,
                triggers=[trigger],
            )
            self._event = event
            _LOGGER.debug("%s: event %s started by %s", self.camera_id, event.event_id, trigger)
            self._listeners.started(event)
        else:
            event.triggers.append(trigger)
            event.end_time = max(event.end_time, end)
            self._listeners.extended(event)
        self._schedule_end(event)
        return event

    def extend(self, time_: float) -> Event | None:
        """Keep the open event going until ``time_ + post_roll`` without a new trigger.

        For a trigger that goes on (moving frames after the one that started motion): the
        event's trigger list stays short. No open event: nothing happens.
        """
        event = self._event
        end = time_ + self.post_roll
        if event is None or end < event.end_time + EXTEND_STEP_S:
            return None
        event.end_time = end
        self._listeners.extended(event)
        self._schedule_end(event)
        return event

    def _schedule_end(self, event: Event) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, event.end_time - self._clock())
        self._timer = self._loop.call_later(delay, self._end, event)

    def _end(self, event: Event) -> None:
        if self._event is not event:  # pragma: no cover - a cancelled timer that still ran
            return
        if event.end_time > self._clock():  # extended meanwhile
            self._schedule_end(event)
            return
        self.close()

    def close(self) -> None:
        """End the open event now (post-roll over, or the camera is going away)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        event, self._event = self._event, None
        if event is not None:
            event.ended = True
            _LOGGER.debug("%s: event %s ended", self.camera_id, event.event_id)
            self._listeners.ended(event)
