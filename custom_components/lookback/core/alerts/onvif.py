"""ONVIF events of one camera: a pull-point subscription that is renewed, and re-created on failure.

Pull point only: the camera keeps the events and we fetch them with long-polling PullMessages
calls, so nothing has to reach Home Assistant from the camera. The WS-BaseNotification mode
(the camera POSTs to a webhook) is out of scope.

Libraries: onvif-zeep-async (the version HA core's onvif integration pins) makes the SOAP
clients: ``ONVIFCamera`` loads the WSDL in the loop's default executor, signs requests with a
WS-Security UsernameToken digest, compensates the camera's clock skew (``adjust_time``) and
detects cameras that mishandle relative termination times. onvif_parsers (HA's curated
per-topic parsers) names the topics it knows and reads their state; our own rules
(``category_for``) map its names, or the topic and data item names for topics it does not
know, to an ``OnvifCategory``.

The library's ``PullPointManager`` is not used: it never renews sooner than 48 s (a 60 s floor
at 80 %), retries a lost subscription after a fixed 40 s and runs its own timers and tasks
outside ours. The subscription here lives in one task: PullMessages in a loop, Renew before
80 % of the termination time the camera gave, and on any failure a fresh ``ONVIFCamera`` and
subscription after an exponential back-off.

HA-free: never import homeassistant here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
import datetime as dt
from enum import StrEnum
import logging
import re
import time
from typing import Any, Final

import aiohttp
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError
from onvif.util import is_auth_error, normalize_url, stringify_onvif_error
import onvif_parsers
import onvif_parsers.errors
from zeep.exceptions import Error as ZeepError, Fault, TransportError

from ..errors import redact
from ..timing import Backoff

_LOGGER = logging.getLogger(__name__)

PULLPOINT_XADDR: Final = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
WSTOP_TOPIC: Final = "{http://docs.oasis-open.org/wsn/t-1}topic"
TT_NAMESPACE: Final = "http://www.onvif.org/ver10/schema"
TNS1_NAMESPACE: Final = "http://www.onvif.org/ver10/topics"
_DATA_ITEMS: Final = "/".join(
    f"{{{TT_NAMESPACE}}}{name}" for name in ("MessageDescription", "Data", "SimpleItemDescription")
)

MESSAGE_LIMIT: Final = 100
DEFAULT_PULL_TIMEOUT: Final = 30.0  # seconds a PullMessages may be held open by the camera
# Short-lived subscriptions, renewed: ONVIF has no way to list subscriptions, so one we lose
# track of (HA restart, network cut) only occupies one of the camera's few slots until then.
DEFAULT_SUBSCRIPTION_TIME: Final = 600.0
RENEW_AT: Final = 0.8  # renew at this fraction of the lifetime the camera granted
MIN_PULL: Final = 1  # whole seconds: the shortest PullMessages Timeout we ask for
PULL_COOLDOWN: Final = 0.5  # seconds between empty pulls of a camera that ignores Timeout
REQUEST_TIMEOUT: Final = 30.0  # seconds for connect + subscribe, for a Renew, beyond a pull
UNSUBSCRIBE_TIMEOUT: Final = 3.0
CLOSE_TIMEOUT: Final = 2.0  # seconds to close the HTTP sessions (waiting for their sockets)
BACKOFF_INITIAL: Final = 2.0
BACKOFF_MAX: Final = 300.0

# What the SOAP layer raises for a camera that fails: zeep's Fault, TransportError,
# XMLParseError..., the library's ONVIFError, aiohttp's connection errors, timeouts.
SOAP_ERRORS: Final = (ONVIFError, ZeepError, aiohttp.ClientError, TimeoutError, OSError)


# Cleanups running (see _close): the loop keeps only weak references to tasks.
_CLEANUPS: Final[set[asyncio.Task[None]]] = set()


class OnvifCategory(StrEnum):
    """What a user filters ONVIF events on."""

    MOTION = "motion"
    CELL_MOTION = "cell_motion"
    FIELD_DETECTION = "field_detection"
    LINE_CROSSING = "line_crossing"
    TAMPER = "tamper"
    PERSON = "person"
    VEHICLE = "vehicle"
    OTHER = "other"


DEFAULT_CATEGORIES: Final = frozenset(c for c in OnvifCategory if c is not OnvifCategory.OTHER)


@dataclass(frozen=True, slots=True)
class OnvifConfig:
    """Where the camera's ONVIF service is and which event categories make triggers."""

    host: str
    port: int = 80
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    categories: frozenset[OnvifCategory] = DEFAULT_CATEGORIES


@dataclass(frozen=True, slots=True)
class OnvifEvent:
    """One event message of the camera (an edge: ``active`` rises or falls)."""

    topic: str  # e.g. "tns1:RuleEngine/CellMotionDetector/Motion"
    category: OnvifCategory
    active: bool  # IsMotion/State true: a rising edge; false: the end. Pulses are active.
    time: float  # wall clock (time.time()) when received
    source: dict[str, str]  # Source SimpleItems (VideoSourceConfigurationToken, Rule ...)
    data: dict[str, str]  # Data SimpleItems (IsMotion, State ...)


class OnvifErrorKind(StrEnum):
    """Why ONVIF events are unavailable; values double as translation keys."""

    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    NO_EVENTS = "no_events"  # no event service, or no pull-point support
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


class OnvifError(Exception):
    """An ONVIF failure with a kind a user can act on; the message names no credentials."""

    def __init__(self, kind: OnvifErrorKind, message: str) -> None:
        """Keep the kind; the message must already be redacted."""
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        """The redacted message."""
        return self.message


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


# ------------------------------------------------------------------------------ classification

# Checked in this order on the joined, lower-cased letters and digits of the parser's name, the
# topic and the data item names: specific analytics first, plain motion last, so that
# "CellMotionDetector/People" (Tapo) is a person and "CellMotionDetector/Motion" cell motion.
CATEGORY_RULES: Final[tuple[tuple[OnvifCategory, tuple[str, ...]], ...]] = (
    (OnvifCategory.LINE_CROSSING, ("linecross", "linedetector", "crossed", "tripwire")),
    (
        OnvifCategory.FIELD_DETECTION,
        ("fielddetect", "objectsinside", "isinside", "intrusion", "regionentr", "regionexit"),
    ),
    (OnvifCategory.TAMPER, ("tamper", "scenechange", "defocus", "videoblind", "shelter")),
    (OnvifCategory.PERSON, ("people", "person", "human", "pedestrian", "facedetect")),
    (OnvifCategory.VEHICLE, ("vehicle",)),
    (OnvifCategory.CELL_MOTION, ("cellmotion",)),
    (OnvifCategory.MOTION, ("motion", "vmd")),
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_TRUE: Final = frozenset({"true", "1", "active", "on"})
_FALSE: Final = frozenset({"false", "0", "inactive", "off"})


def category_for(
    topic: str, item_names: Iterable[str] = (), name: str | None = None
) -> OnvifCategory:
    """The category of a topic, its data item names and onvif_parsers' name for it."""
    text = " ".join(_NOT_ALNUM.sub("", part.lower()) for part in (name or "", topic, *item_names))
    for category, needles in CATEGORY_RULES:
        if any(needle in text for needle in needles):
            return category
    return OnvifCategory.OTHER


def state_of(data: Mapping[str, str]) -> bool:
    """Whether a message's data says "on": its state item (IsMotion, State...), else a pulse.

    A message without a boolean item (a line crossing carries an ObjectId) is a pulse: active.
    """
    for name, value in data.items():
        key, text = name.lower(), value.strip().lower()
        if (key.startswith("is") or key.endswith("state")) and text in _TRUE | _FALSE:
            return text in _TRUE
    for value in data.values():
        if (text := value.strip().lower()) in ("true", "false"):
            return text == "true"
    return True


def _simple_items(item_list: Any) -> dict[str, str]:
    """The SimpleItems of a tt:ItemList (a message's Source or Data) as a dict."""
    items = getattr(item_list, "SimpleItem", None) or []
    return {
        str(item.Name): "" if item.Value is None else str(item.Value)
        for item in items
        if getattr(item, "Name", None) is not None
    }


async def event_from_message(message: Any, received: float) -> OnvifEvent | None:
    """The event in one wsnt:NotificationMessage; None for an Initialized state or no topic."""
    topic_element = getattr(message, "Topic", None)
    raw_topic = getattr(topic_element, "_value_1", None)
    if not isinstance(raw_topic, str) or not raw_topic.strip():
        return None
    # Cameras write "tns1:RuleEngine/CellMotionDetector/Motion//." and variants.
    topic = raw_topic.strip().rstrip("/.")
    payload = getattr(getattr(message, "Message", None), "_value_1", None)
    if getattr(payload, "PropertyOperation", None) == "Initialized":
        return None  # the state at subscribe time, not a change
    source = _simple_items(getattr(payload, "Source", None))
    data = _simple_items(getattr(payload, "Data", None))
    name: str | None = None
    active: bool | None = None
    try:
        entities = await onvif_parsers.parse(topic, "onvif", message)
    except onvif_parsers.errors.UnknownTopicError:
        entities = []
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as err:
        _LOGGER.debug("onvif_parsers could not read %s: %r", topic, err)
        entities = []
    if entities:
        name = entities[0].name
        if entities[0].platform == "binary_sensor" and isinstance(entities[0].value, bool):
            active = entities[0].value
    return OnvifEvent(
        topic=topic,
        category=category_for(topic, data, name),
        active=state_of(data) if active is None else active,
        time=received,
        source=source,
        data=data,
    )


def announced_categories(topic_set: Any) -> tuple[str, ...]:
    """Categories (values, in enum order) of the topics in a GetEventProperties TopicSet.

    zeep leaves the TopicSet's content as lxml elements: a tree of topic nodes, the ones with
    wstop:topic="true" being topics, each with a tt:MessageDescription of its items.
    """
    found: set[OnvifCategory] = set()

    def walk(element: Any, path: str) -> None:
        tag = getattr(element, "tag", None)
        if not isinstance(tag, str):
            return  # a comment or processing instruction
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if namespace == TT_NAMESPACE:
            return  # a MessageDescription, not a topic node
        if not path:
            prefix = "tns1:" if namespace == TNS1_NAMESPACE else ""
            topic = f"{prefix}{local}"
        else:
            topic = f"{path}/{local}"
        if str(element.get(WSTOP_TOPIC, "")).lower() in ("true", "1"):
            names = [str(item.get("Name", "")) for item in element.findall(_DATA_ITEMS)]
            found.add(category_for(topic, names))
        for child in element:
            walk(child, topic)

    for root in getattr(topic_set, "_value_1", None) or []:
        walk(root, "")
    return tuple(c.value for c in OnvifCategory if c in found and c is not OnvifCategory.OTHER)


# ------------------------------------------------------------------------------ errors


def _secrets(config: OnvifConfig) -> tuple[str | None, ...]:
    """What to hide in messages: the password, and the user name unless it is too short."""
    username = config.username if config.username and len(config.username) >= 3 else None
    return (config.password, username)


def to_onvif_error(err: BaseException, config: OnvifConfig) -> OnvifError:
    """Classify a failure of the SOAP layer; the message is redacted."""
    secrets = _secrets(config)
    if isinstance(err, OnvifError):
        message = redact(err.message, *secrets)
        return err if message == err.message else OnvifError(err.kind, message)
    if isinstance(err, TimeoutError):
        kind, text = OnvifErrorKind.TIMEOUT, "the camera did not answer in time"
    elif isinstance(err, Fault):
        kind = OnvifErrorKind.AUTH_FAILED if is_auth_error(err) else OnvifErrorKind.UNKNOWN
        text = f"SOAP fault: {stringify_onvif_error(err)}"
    elif isinstance(err, TransportError):
        kind = (
            OnvifErrorKind.AUTH_FAILED if err.status_code in (401, 403) else OnvifErrorKind.UNKNOWN
        )
        text = f"HTTP {err.status_code} from the camera"
    elif isinstance(err, aiohttp.ClientError | OSError):
        kind, text = OnvifErrorKind.UNREACHABLE, str(err) or type(err).__name__
    else:
        kind, text = OnvifErrorKind.UNKNOWN, f"{type(err).__name__}: {err}"
    where = f"{config.host}:{config.port}"
    return OnvifError(kind, redact(f"ONVIF {where}: {text}", *secrets))


# ------------------------------------------------------------------------------ SOAP steps


def _new_camera(config: OnvifConfig) -> Any:
    """An ONVIFCamera (its constructor only makes aiohttp sessions: no file I/O).

    adjust_time: sign with the camera's clock (GetSystemDateAndTime first), as many cameras
    reject a UsernameToken whose Created is minutes off theirs. no_cache: zeep's SQLite cache
    is for remote WSDL only; ours are the library's files.
    """
    return ONVIFCamera(
        config.host,
        config.port,
        config.username,
        config.password,
        no_cache=True,
        adjust_time=True,
    )


async def _events_service(camera: Any) -> Any:
    """Discover the services (also the credential check) and make the event service client."""
    await camera.update_xaddrs()
    try:
        return await camera.create_events_service()
    except ONVIFError as err:
        raise OnvifError(
            OnvifErrorKind.NO_EVENTS, f"ONVIF {camera.host}:{camera.port}: no event service"
        ) from err


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


@dataclass(slots=True)
class _Subscription:
    manager: Any  # the SubscriptionManager service: Renew, Unsubscribe
    pullpoint: Any  # the PullPointSubscription service: PullMessages
    renew_at: float = 0.0  # loop.time()


async def _create_subscription(
    camera: Any, events: Any, seconds: float
) -> tuple[_Subscription, Any]:
    """CreatePullPointSubscription and the services to pull and renew it.

    Returns the subscription and the camera's answer with the granted lifetime (after one
    Renew with an absolute time if the camera mishandles relative ones, when it can renew).
    """
    interval = dt.timedelta(seconds=seconds)
    try:
        result = await events.CreatePullPointSubscription(
            {"InitialTerminationTime": camera.get_next_termination_time(interval)}
        )
    except Fault as err:
        if is_auth_error(err):
            raise
        raise OnvifError(
            OnvifErrorKind.NO_EVENTS,
            f"ONVIF {camera.host}:{camera.port}: no pull-point subscription: "
            f"{stringify_onvif_error(err)}",
        ) from err
    address = result.SubscriptionReference.Address._value_1  # noqa: SLF001 (zeep's name)
    camera.xaddrs[PULLPOINT_XADDR] = camera.rewrite_url(normalize_url(address))
    subscription = _Subscription(
        manager=await camera.create_subscription_service("PullPointSubscription"),
        pullpoint=await camera.create_pullpoint_service(),
    )
    if camera.has_broken_relative_time(interval, result.CurrentTime, result.TerminationTime):
        try:
            result = await subscription.manager.Renew(
                {"TerminationTime": camera.get_next_termination_time(interval)}
            )
        except Fault as err:  # no Renew: live with the lifetime granted
            _LOGGER.debug("%s: Renew refused: %s", camera.host, stringify_onvif_error(err))
    return subscription, result


async def _unsubscribe(subscription: _Subscription, where: str) -> None:
    """Unsubscribe, best effort: the subscription expires on its own anyway. Never raises.

    Only a cancellation of the caller gets through.
    """
    try:
        async with asyncio.timeout(UNSUBSCRIBE_TIMEOUT):
            await subscription.manager.Unsubscribe()
    except SOAP_ERRORS as err:
        _LOGGER.debug("%s: Unsubscribe failed (normal if the camera restarted): %s", where, err)
    except Exception:  # an odd answer: still best effort, and the cleanup must go on
        _LOGGER.debug("%s: Unsubscribe failed", where, exc_info=True)


async def _close_quietly(close: Callable[[], Awaitable[object]], where: str) -> None:
    try:
        await close()
    except Exception:
        _LOGGER.debug("%s: closing an ONVIF HTTP session failed", where, exc_info=True)


async def _close_sessions(camera: Any, where: str) -> None:
    """Close every aiohttp session (and its connector) of the camera, within CLOSE_TIMEOUT.

    Each service client the library made (device management, events, subscription manager,
    pull point...) owns a session and a connector that pools keep-alive connections; the
    camera has one more for snapshots. ``ONVIFCamera.close()`` closes them one after another
    and stops at the first that fails (or is cancelled), so each service is also closed on its
    own; closing twice is harmless. A connector is closed as soon as its close starts (the
    wait is for the sockets), so the time bound leaves none open.
    """
    closers = [camera.close, *(service.close for service in list(camera.services.values()))]
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await asyncio.gather(*(_close_quietly(close, where) for close in closers))
    except TimeoutError:
        _LOGGER.debug("%s: closing the ONVIF HTTP sessions timed out", where)


async def _cleanup(camera: Any, subscription: _Subscription | None, where: str) -> None:
    if subscription is not None:
        await _unsubscribe(subscription, where)
    await _close_sessions(camera, where)


async def _close(camera: Any, subscription: _Subscription | None, where: str) -> None:
    """Unsubscribe if subscribed, then close all of the camera's HTTP sessions.

    The cleanup runs in a task of its own, so that a cancellation (``stop()`` while a failed
    subscription is being cleaned up, a config flow that is aborted) cannot cut it short and
    leave connectors open: the caller waits for it (it is bounded by UNSUBSCRIBE_TIMEOUT and
    CLOSE_TIMEOUT), then gets its cancellation. Raises nothing else.
    """
    cleanup = asyncio.get_running_loop().create_task(
        _cleanup(camera, subscription, where), name=f"lookback ONVIF cleanup {where}"
    )
    _CLEANUPS.add(cleanup)
    cleanup.add_done_callback(_CLEANUPS.discard)
    try:
        await asyncio.shield(cleanup)
    except asyncio.CancelledError:
        await asyncio.wait([cleanup])  # cancelled again: it finishes on its own
        raise


async def async_check_onvif(
    config: OnvifConfig,
    timeout: float = 15,  # noqa: ASYNC109 (the config flow's interface)
) -> tuple[str, ...]:
    """For the config flow: connect and check that the event service has pull points.

    Creates a pull-point subscription and unsubscribes it at once, as that is the only proof.
    Returns the categories (values) of the topics the camera announces in GetEventProperties
    (best effort: an empty tuple when it announces none we know). Raises OnvifError.
    """
    where = f"{config.host}:{config.port}"
    camera = _new_camera(config)
    subscription = None
    try:
        async with asyncio.timeout(timeout):
            events = await _events_service(camera)
            try:
                properties = await events.GetEventProperties()
            except Fault as err:  # best effort: the subscription below is the real check
                _LOGGER.debug("%s: GetEventProperties failed: %s", where, err)
                categories: tuple[str, ...] = ()
            else:
                categories = announced_categories(getattr(properties, "TopicSet", None))
            subscription, _ = await _create_subscription(camera, events, 60.0)
    except Exception as err:
        error = to_onvif_error(err, config)
        if error is err:
            raise
        raise error from err
    finally:
        await _close(camera, subscription, where)
    return categories


# ------------------------------------------------------------------------------ subscriber


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
            camera = _new_camera(self._config)  # a fresh one: new sessions, xaddrs, clock
            subscription = None
            try:
                async with asyncio.timeout(self._request_timeout):
                    events = await _events_service(camera)
                    subscription, result = await _create_subscription(
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
                await _close(camera, subscription, self._where)
            await asyncio.sleep(self._backoff.next_delay())

    def _renew_delay(self, result: Any) -> float:
        """Seconds from now to renew: RENEW_AT of the granted lifetime, at least a second."""
        return max(1.0, RENEW_AT * _lifetime(result, self._subscription_time))

    async def _renew(self, camera: Any, events: Any, subscription: _Subscription) -> None:
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
            await _unsubscribe(subscription, self._where)
            async with asyncio.timeout(self._request_timeout):
                fresh, result = await _create_subscription(camera, events, self._subscription_time)
            subscription.manager, subscription.pullpoint = fresh.manager, fresh.pullpoint
            self._subscriptions += 1
        else:
            self._renewals += 1
        subscription.renew_at = asyncio.get_running_loop().time() + self._renew_delay(result)

    async def _pull_forever(self, camera: Any, events: Any, subscription: _Subscription) -> None:
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
