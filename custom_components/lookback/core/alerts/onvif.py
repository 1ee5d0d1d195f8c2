"""ONVIF events of one camera: a pull-point subscription that is renewed, and re-created on failure.

Pull point only: the camera keeps the events and we fetch them with long-polling PullMessages
calls, so nothing has to reach Home Assistant from the camera. The WS-BaseNotification mode
(the camera POSTs to a webhook) is out of scope.

The library's ``PullPointManager`` is not used: it never renews sooner than 48 s (a 60 s floor
at 80 %), retries a lost subscription after a fixed 40 s and runs its own timers and tasks
outside ours. The subscription here lives in one task: PullMessages in a loop, Renew before
80 % of the termination time the camera gave, and on any failure a fresh ``ONVIFCamera`` and
subscription after an exponential back-off.

The other jobs live next door and are re-exported here for the HA layer: what events mean
(onvif_events.py), why they are unavailable (onvif_errors.py), and the SOAP steps with the
config flow's check (onvif_connection.py).

HA-free: never import homeassistant here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import datetime as dt
import logging
import time
from typing import Any, Final

from onvif.util import stringify_onvif_error
from zeep.exceptions import Fault

from ..timing import Backoff
from .onvif_connection import (
    OnvifConfig,
    Subscription,
    async_check_onvif,
    close_camera,
    create_subscription,
    events_service,
    new_camera,
    unsubscribe,
)
from .onvif_errors import SOAP_ERRORS, OnvifError, OnvifErrorKind, to_onvif_error
from .onvif_events import DEFAULT_CATEGORIES, OnvifCategory, OnvifEvent, event_from_message

__all__ = [
    "DEFAULT_CATEGORIES",
    "OnvifCategory",
    "OnvifConfig",
    "OnvifError",
    "OnvifErrorKind",
    "OnvifEvent",
    "OnvifStats",
    "OnvifSubscriber",
    "async_check_onvif",
]

_LOGGER = logging.getLogger(__name__)

MESSAGE_LIMIT: Final = 100
DEFAULT_PULL_TIMEOUT: Final = 30.0  # seconds a PullMessages may be held open by the camera
# Short-lived subscriptions, renewed: ONVIF has no way to list subscriptions, so one we lose
# track of (HA restart, network cut) only occupies one of the camera's few slots until then.
DEFAULT_SUBSCRIPTION_TIME: Final = 600.0
RENEW_AT: Final = 0.8  # renew at this fraction of the lifetime the camera granted
MIN_PULL: Final = 1  # whole seconds: the shortest PullMessages Timeout we ask for
PULL_COOLDOWN: Final = 0.5  # seconds between empty pulls of a camera that ignores Timeout
REQUEST_TIMEOUT: Final = 30.0  # seconds for connect + subscribe, for a Renew, beyond a pull
BACKOFF_INITIAL: Final = 2.0
BACKOFF_MAX: Final = 300.0


@dataclass(frozen=True, slots=True)
class OnvifStats:
    """A snapshot of a subscriber's state and counters."""

    connected: bool = False
    subscribed_since: float | None = None  # wall clock of the current subscription
    events: int = 0  # events passed to on_event
    pulls: int = 0  # PullMessages calls answered
    renewals: int = 0
    resubscriptions: int = 0  # subscriptions created after the first
    last_error: str | None = None


def _lifetime(result: Any, fallback: float) -> float:
    """Seconds a subscription lives per the camera's CurrentTime and TerminationTime."""
    current = getattr(result, "CurrentTime", None)
    termination = getattr(result, "TerminationTime", None)
    if isinstance(current, dt.datetime) and isinstance(termination, dt.datetime):
        try:
            seconds = (termination - current).total_seconds()
        except TypeError:  # one has a time zone, the other not
            return fallback
        if seconds > 0:
            return seconds
    return fallback


class OnvifSubscriber:
    """Keeps a pull-point subscription to one camera and passes its events on.

    Runs as a task on the caller's loop. ``on_event`` gets the events whose category is in
    ``config.categories`` (rising and falling edges); ``on_status(False, error)`` is called
    once per outage and ``on_status(True, None)`` whenever a subscription is (re)created.
    Both callbacks run on the loop and must not block.
    """

    def __init__(
        self,
        config: OnvifConfig,
        on_event: Callable[[OnvifEvent], None],
        on_status: Callable[[bool, OnvifError | None], None],
        *,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
        pull_timeout: float = DEFAULT_PULL_TIMEOUT,
        subscription_time: float = DEFAULT_SUBSCRIPTION_TIME,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        """Configure; nothing connects before ``start``.

        Args:
            config: The camera and the categories to pass on.
            on_event: Called with each passed event.
            on_status: Called with (True, None) when subscribed, (False, error) on an outage.
            backoff_initial: Seconds before the first re-subscription after a failure.
            backoff_max: The longest wait between attempts (doubling up to it).
            pull_timeout: The Timeout of each PullMessages (whole seconds, at least 1).
            subscription_time: The termination time asked for (seconds from now).
            request_timeout: Seconds for connect and subscribe, for a Renew, and beyond a
                pull's Timeout before the camera counts as not answering.
        """
        self._config = config
        self._on_event = on_event
        self._on_status = on_status
        self._backoff = Backoff(initial=backoff_initial, maximum=backoff_max)
        self._pull_timeout = max(MIN_PULL, int(pull_timeout))
        self._subscription_time = subscription_time
        self._request_timeout = request_timeout
        self._where = f"{config.host}:{config.port}"
        self._task: asyncio.Task[None] | None = None
        self._reported: bool | None = None  # the last status passed to on_status
        self._subscribed_since: float | None = None
        self._subscriptions = 0
        self._events = 0
        self._pulls = 0
        self._renewals = 0
        self._last_error: str | None = None

    @property
    def stats(self) -> OnvifStats:
        """A snapshot of the state and counters."""
        return OnvifStats(
            connected=self._subscribed_since is not None,
            subscribed_since=self._subscribed_since,
            events=self._events,
            pulls=self._pulls,
            renewals=self._renewals,
            resubscriptions=max(0, self._subscriptions - 1),
            last_error=self._last_error,
        )

    async def start(self) -> None:
        """Start the subscription task on the running loop and return at once."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"lookback ONVIF events {self._where}"
        )

    async def stop(self) -> None:
        """Unsubscribe (best effort, a few seconds at most) and end the task."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # wait() neither raises the task's CancelledError nor swallows one aimed at us.
        await asyncio.wait([task])
        self._subscribed_since = None

    # -------------------------------------------------------------- the task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            camera = new_camera(self._config)  # a fresh one: new sessions, xaddrs, clock
            subscription = None
            try:
                async with asyncio.timeout(self._request_timeout):
                    events = await events_service(camera)
                    subscription, result = await create_subscription(
                        camera, events, self._subscription_time
                    )
                subscription.renew_at = loop.time() + self._renew_delay(result)
                self._subscribed()
                await self._pull_forever(camera, events, subscription)
            except (OnvifError, *SOAP_ERRORS) as err:
                self._failed(to_onvif_error(err, self._config))
            except Exception as err:
                _LOGGER.warning("%s: unexpected ONVIF failure", self._where, exc_info=True)
                self._failed(to_onvif_error(err, self._config))
            finally:
                await close_camera(camera, subscription, self._where)
            await asyncio.sleep(self._backoff.next_delay())

    def _renew_delay(self, result: Any) -> float:
        """Seconds from now to renew: RENEW_AT of the granted lifetime, at least a second."""
        return max(1.0, RENEW_AT * _lifetime(result, self._subscription_time))

    async def _renew(self, camera: Any, events: Any, subscription: Subscription) -> None:
        """Renew; if the camera refuses (no Renew, or it forgot us), subscribe anew quietly.

        A new subscription replaces the services in ``subscription`` in place, so that the
        task's cleanup unsubscribes the current one.
        """
        interval = dt.timedelta(seconds=self._subscription_time)
        try:
            async with asyncio.timeout(self._request_timeout):
                result = await subscription.manager.Renew(
                    {"TerminationTime": camera.get_next_termination_time(interval)}
                )
        except Fault as err:
            _LOGGER.debug(
                "%s: Renew refused, subscribing anew: %s",
                self._where,
                stringify_onvif_error(err),
            )
            await unsubscribe(subscription, self._where)
            async with asyncio.timeout(self._request_timeout):
                fresh, result = await create_subscription(camera, events, self._subscription_time)
            subscription.manager, subscription.pullpoint = fresh.manager, fresh.pullpoint
            self._subscriptions += 1
        else:
            self._renewals += 1
        subscription.renew_at = asyncio.get_running_loop().time() + self._renew_delay(result)

    async def _pull_forever(self, camera: Any, events: Any, subscription: Subscription) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # Renew when less than the shortest pull is left before the renewal time.
            if subscription.renew_at - loop.time() < MIN_PULL:
                await self._renew(camera, events, subscription)
            wait = min(self._pull_timeout, max(MIN_PULL, int(subscription.renew_at - loop.time())))
            started = loop.time()
            async with asyncio.timeout(wait + self._request_timeout):
                response = await subscription.pullpoint.PullMessages(
                    {"MessageLimit": MESSAGE_LIMIT, "Timeout": dt.timedelta(seconds=wait)}
                )
            self._pulls += 1
            self._backoff.reset()
            messages = getattr(response, "NotificationMessage", None) or []
            received = time.time()
            for message in messages:
                event = await event_from_message(message, received)
                if event is not None:
                    self._deliver(event)
            elapsed = loop.time() - started
            if not messages and elapsed < PULL_COOLDOWN:
                await asyncio.sleep(PULL_COOLDOWN - elapsed)  # the camera ignored Timeout

    def _deliver(self, event: OnvifEvent) -> None:
        if event.category not in self._config.categories:
            _LOGGER.debug("%s: %s (%s) filtered out", self._where, event.topic, event.category)
            return
        self._events += 1
        try:
            self._on_event(event)
        except Exception:
            _LOGGER.exception("%s: ONVIF event callback failed", self._where)

    def _subscribed(self) -> None:
        self._subscriptions += 1
        self._subscribed_since = time.time()
        _LOGGER.debug("%s: ONVIF pull-point subscription created", self._where)
        self._report(connected=True, error=None)

    def _failed(self, error: OnvifError) -> None:
        self._subscribed_since = None
        self._last_error = str(error)
        if self._reported is False:
            _LOGGER.debug("%s: still failing: %s", self._where, error)
            return
        _LOGGER.debug("%s: ONVIF events lost: %s", self._where, error)
        self._report(connected=False, error=error)

    def _report(self, *, connected: bool, error: OnvifError | None) -> None:
        self._reported = connected
        try:
            self._on_status(connected, error)
        except Exception:
            _LOGGER.exception("%s: ONVIF status callback failed", self._where)
