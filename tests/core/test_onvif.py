"""ONVIF pull-point events against the in-process ONVIF test camera (tests/sim/onvif_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import datetime as dt
import itertools
import socket
import time
from types import SimpleNamespace
from typing import Any
import weakref

import aiohttp
import onvif.client as onvif_client
import pytest

from custom_components.lookback.core.alerts import onvif, onvif_connection
from custom_components.lookback.core.alerts.onvif import (
    DEFAULT_CATEGORIES,
    OnvifCategory,
    OnvifConfig,
    OnvifError,
    OnvifErrorKind,
    OnvifEvent,
    OnvifSubscriber,
    async_check_onvif,
)
from tests.sim.onvif_server import TOPICS, OnvifTestServer

USER = "admin"
PASSWORD = "s3cret-Pa55"
WRONG = "hunter2-wrong"
CELL = "tns1:RuleEngine/CellMotionDetector/Motion"
LINE = "tns1:RuleEngine/LineDetector/Crossed"
PEOPLE = "tns1:RuleEngine/MyRuleDetector/PeopleDetect"
WAIT = 5.0  # seconds any single expected callback may take

ServerFactory = Callable[..., Awaitable[OnvifTestServer]]


class Recorder:
    """Collects a subscriber's callbacks; tests await them instead of sleeping."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[OnvifEvent] = asyncio.Queue()
        self.statuses: asyncio.Queue[tuple[bool, OnvifError | None]] = asyncio.Queue()
        self.history: list[tuple[bool, OnvifError | None]] = []
        self.fail_callbacks = False

    def on_event(self, event: OnvifEvent) -> None:
        self.events.put_nowait(event)
        if self.fail_callbacks:
            raise RuntimeError("a broken listener")

    def on_status(self, connected: bool, error: OnvifError | None) -> None:
        self.statuses.put_nowait((connected, error))
        self.history.append((connected, error))
        if self.fail_callbacks:
            raise RuntimeError("a broken listener")

    async def event(self) -> OnvifEvent:
        async with asyncio.timeout(WAIT):
            return await self.events.get()

    async def status(self) -> tuple[bool, OnvifError | None]:
        async with asyncio.timeout(WAIT):
            return await self.statuses.get()


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    servers: list[OnvifTestServer] = []

    async def make(**options: Any) -> OnvifTestServer:
        server = OnvifTestServer(USER, PASSWORD, **options)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> OnvifTestServer:
    return await make_server()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def config_for(
    server: OnvifTestServer,
    password: str = PASSWORD,
    categories: frozenset[OnvifCategory] = DEFAULT_CATEGORIES,
) -> OnvifConfig:
    return OnvifConfig("127.0.0.1", server.port, USER, password, categories)


SubscriberFactory = Callable[..., Awaitable[OnvifSubscriber]]


@pytest.fixture
async def subscribe(
    make_server: ServerFactory, recorder: Recorder
) -> AsyncIterator[SubscriberFactory]:
    """Start subscribers (fast back-off); stopped before the servers (fixture order)."""
    subscribers: list[OnvifSubscriber] = []

    async def make(
        server: OnvifTestServer,
        *,
        password: str = PASSWORD,
        categories: frozenset[OnvifCategory] = DEFAULT_CATEGORIES,
        connected: bool = True,
        **options: Any,
    ) -> OnvifSubscriber:
        options = {"backoff_initial": 0.05, "backoff_max": 0.2} | options
        subscriber = OnvifSubscriber(
            config_for(server, password, categories),
            recorder.on_event,
            recorder.on_status,
            **options,
        )
        subscribers.append(subscriber)
        await subscriber.start()
        if connected:
            assert await recorder.status() == (True, None)
        return subscriber

    yield make
    for subscriber in subscribers:
        await subscriber.stop()


@pytest.fixture
def connectors(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.TCPConnector]:
    """Every aiohttp connector onvif-zeep-async makes (one per service client, one for snapshots)."""
    made: list[aiohttp.TCPConnector] = []

    class RecordingConnector(aiohttp.TCPConnector):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(onvif_client, "TCPConnector", RecordingConnector)
    return made


def connector_timers() -> list[asyncio.TimerHandle]:
    """Pending keep-alive cleanup timers of aiohttp connectors on the running loop.

    An open connector that pooled a connection has one (for its keep-alive time, 4 s here);
    HA's test harness fails a test that leaves it behind ("Lingering timer").
    """
    timers = []
    for handle in getattr(asyncio.get_running_loop(), "_scheduled", ()):
        args = getattr(handle, "_args", None) or ()
        target = args[0] if args and isinstance(args[0], tuple) and args[0] else None
        if (
            not handle.cancelled()
            and target is not None
            and isinstance(target[0], weakref.ref)
            and isinstance(target[0](), aiohttp.BaseConnector)
        ):
            timers.append(handle)
    return timers


def assert_all_closed(connectors: list[aiohttp.TCPConnector]) -> None:
    assert connectors  # the check is not vacuous
    assert [connector for connector in connectors if not connector.closed] == []
    assert connector_timers() == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ------------------------------------------------------------------------------ check


async def test_check_returns_announced_categories_and_cleans_up(
    server: OnvifTestServer, connectors: list[aiohttp.TCPConnector]
) -> None:
    categories = await async_check_onvif(config_for(server))
    assert categories == (
        "motion",
        "cell_motion",
        "field_detection",
        "line_crossing",
        "tamper",
        "person",
        "vehicle",
    )
    assert server.create_count == 1
    assert server.unsubscribe_count == 1
    assert server.live_subscriptions == 0
    # Snapshots, device management (twice: adjust_time), events, subscription, pull point.
    assert len(connectors) == 6
    assert_all_closed(connectors)


@pytest.mark.parametrize(
    ("announced", "expected"),
    [
        ([CELL, "tns1:Device/Trigger/DigitalInput"], ("cell_motion",)),
        (["tns1:Device/Trigger/DigitalInput", "tns1:Monitoring/ProcessorUsage"], ()),
    ],
)
async def test_check_returns_only_known_categories(
    make_server: ServerFactory, announced: list[str], expected: tuple[str, ...]
) -> None:
    server = await make_server(announced_topics=announced)
    assert await async_check_onvif(config_for(server)) == expected


async def test_check_without_event_properties_still_passes(make_server: ServerFactory) -> None:
    server = await make_server(event_properties=False)
    assert await async_check_onvif(config_for(server)) == ()
    assert server.create_count == 1


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"auth_fault_status": 401},
        # Discovery answered without credentials (as ONVIF allows): the event service refuses.
        {"pre_auth": ("GetSystemDateAndTime", "GetServices", "GetCapabilities")},
    ],
)
async def test_check_wrong_password_is_auth_failed(
    make_server: ServerFactory, options: dict[str, Any]
) -> None:
    server = await make_server(**options)
    with pytest.raises(OnvifError) as caught:
        await async_check_onvif(config_for(server, WRONG))
    assert caught.value.kind is OnvifErrorKind.AUTH_FAILED
    assert WRONG not in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_check_closed_port_is_unreachable() -> None:
    with pytest.raises(OnvifError) as caught:
        await async_check_onvif(OnvifConfig("127.0.0.1", free_port(), USER, PASSWORD))
    assert caught.value.kind is OnvifErrorKind.UNREACHABLE


@pytest.mark.parametrize("options", [{"events": False}, {"pull_point": False}])
async def test_check_without_pull_point_events_is_no_events(
    make_server: ServerFactory, options: dict[str, Any]
) -> None:
    server = await make_server(**options)
    with pytest.raises(OnvifError) as caught:
        await async_check_onvif(config_for(server))
    assert caught.value.kind is OnvifErrorKind.NO_EVENTS
    assert server.live_subscriptions == 0


async def test_check_silent_camera_is_timeout() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # read nothing, answer nothing

    silent = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OnvifError) as caught:
            await async_check_onvif(OnvifConfig("127.0.0.1", port, USER, PASSWORD), timeout=0.5)
        assert caught.value.kind is OnvifErrorKind.TIMEOUT
    finally:
        for writer in writers:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_check_signs_with_the_camera_clock(make_server: ServerFactory) -> None:
    """A camera an hour ahead rejects our clock's timestamps; adjust_time makes it work."""
    server = await make_server(clock_offset=3600.0, max_clock_skew=60.0)
    assert await async_check_onvif(config_for(server))
    assert server.calls["GetSystemDateAndTime"] >= 1


# ------------------------------------------------------------------------------ events


async def test_cell_motion_rising_then_falling(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    subscriber = await subscribe(server)
    before = time.time()
    server.push(CELL)
    rising = await recorder.event()
    server.push(CELL, active=False)
    falling = await recorder.event()

    assert rising.topic == CELL
    assert rising.category is OnvifCategory.CELL_MOTION
    assert rising.active is True
    assert rising.data == {"IsMotion": "true"}
    assert rising.source["Rule"] == "MyMotionDetectorRule"
    assert rising.source["VideoSourceConfigurationToken"] == "VideoSourceToken"
    assert before <= rising.time <= time.time()
    assert falling.category is OnvifCategory.CELL_MOTION
    assert falling.active is False
    stats = subscriber.stats
    assert stats.connected
    assert stats.subscribed_since is not None
    assert stats.events == 2
    assert stats.pulls >= 1
    assert stats.resubscriptions == 0


async def test_line_crossing_is_a_pulse(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    await subscribe(server)
    server.push(LINE)
    event = await recorder.event()
    assert event.category is OnvifCategory.LINE_CROSSING
    assert event.active is True
    assert event.data == {"ObjectId": "1"}
    assert event.source["Rule"] == "MyLineDetectorRule"


async def test_vendor_topics_map_to_categories(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    expected = {
        PEOPLE: OnvifCategory.PERSON,  # Reolink
        "tns1:RuleEngine/MyRuleDetector/VehicleDetect": OnvifCategory.VEHICLE,  # Reolink
        "tns1:RuleEngine/PeopleDetector/People": OnvifCategory.PERSON,  # Tapo
        "tns1:VideoSource/MotionAlarm": OnvifCategory.MOTION,  # Hikvision, Dahua
        "tns1:RuleEngine/FieldDetector/ObjectsInside": OnvifCategory.FIELD_DETECTION,
        "tns1:VideoSource/GlobalSceneChange/ImagingService": OnvifCategory.TAMPER,
    }
    assert set(expected) <= set(TOPICS)
    await subscribe(server)
    for topic, category in expected.items():
        server.push(topic)
        server.push(topic, active=False)
        rising, falling = await recorder.event(), await recorder.event()
        assert (rising.topic, rising.category, rising.active) == (topic, category, True)
        assert (falling.topic, falling.category, falling.active) == (topic, category, False)
    # A topic nobody knows, with a trailing "//." some cameras write: OTHER, state read.
    await subscribe(server, categories=frozenset({OnvifCategory.OTHER}))
    server.push("tns1:Device/Trigger/DigitalInput//.", "LogicalState", active=False)
    other = await recorder.event()
    assert (other.topic, other.category, other.active) == (
        "tns1:Device/Trigger/DigitalInput",
        OnvifCategory.OTHER,
        False,
    )


async def test_filtered_out_category_does_not_reach_on_event(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    subscriber = await subscribe(server, categories=frozenset({OnvifCategory.PERSON}))
    server.push(CELL)
    server.push(LINE)
    server.push(PEOPLE)
    event = await recorder.event()
    assert event.topic == PEOPLE
    assert recorder.events.empty()
    assert subscriber.stats.events == 1


async def test_initialized_state_does_not_trigger(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    server.push(CELL)  # the camera is in motion before anyone subscribes
    await subscribe(server)
    server.push(LINE)  # a marker: it comes after the Initialized message
    event = await recorder.event()
    assert event.topic == LINE
    assert recorder.events.empty()


async def test_broken_listeners_do_not_stop_the_subscriber(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    recorder.fail_callbacks = True
    await subscribe(server)
    server.push(CELL)
    server.push(LINE)
    assert (await recorder.event()).topic == CELL
    assert (await recorder.event()).topic == LINE


# ------------------------------------------------------------------------------ lifecycle


async def test_renews_before_a_short_termination_time(
    make_server: ServerFactory, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    """The camera grants 1.5 s whatever we ask; a late Renew would find it expired."""
    server = await make_server(subscription_lifetime=1.5)
    subscriber = await subscribe(server)
    await server.wait_for_calls("Renew", 3)
    server.push(CELL)
    assert (await recorder.event()).topic == CELL
    assert server.create_count == 1
    assert subscriber.stats.renewals >= 2
    assert subscriber.stats.resubscriptions == 0
    assert recorder.history == [(True, None)]


async def test_camera_without_renew_gets_fresh_subscriptions_quietly(
    make_server: ServerFactory, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    server = await make_server(subscription_lifetime=1.5, renew=False)
    subscriber = await subscribe(server)
    await server.wait_for_calls("CreatePullPointSubscription", 3)
    server.push(CELL)
    assert (await recorder.event()).topic == CELL
    assert recorder.history == [(True, None)]  # no outage reported
    stats = subscriber.stats
    assert stats.renewals == 0
    assert stats.resubscriptions >= 2
    assert server.unsubscribe_count >= 2  # the old subscriptions are given back
    assert server.live_subscriptions == 1


async def test_lost_subscription_is_recreated_after_one_status(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    subscriber = await subscribe(server, backoff_initial=0.05, backoff_max=0.4)
    server.pull_point = False  # the camera restarts and is not ready for a while
    server.fail_next_pull()
    connected, error = await recorder.status()
    assert not connected
    assert error is not None
    assert error.kind is OnvifErrorKind.UNKNOWN
    await server.wait_for_calls("CreatePullPointSubscription", 5)  # 4 failed attempts
    assert recorder.statuses.empty()  # one status per outage
    assert subscriber.stats.last_error is not None
    assert "pull-point" in subscriber.stats.last_error
    server.pull_point = True
    assert await recorder.status() == (True, None)
    server.push(CELL)
    assert (await recorder.event()).topic == CELL
    stats = subscriber.stats
    assert stats.connected
    assert stats.resubscriptions == 1
    # Exponential back-off between the failed attempts: 0.1, 0.2, 0.4 s, then capped.
    creates = server.call_times["CreatePullPointSubscription"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(creates[1:])]
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[2] == pytest.approx(gaps[3], abs=0.15)


async def test_unexpected_failure_is_reported_and_retried(
    server: OnvifTestServer,
    subscribe: SubscriberFactory,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = onvif_connection.create_subscription
    calls = 0

    async def flaky(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug")
        return await real(*args)

    monkeypatch.setattr(onvif, "create_subscription", flaky)  # the name the subscriber calls
    await subscribe(server, connected=False)
    connected, error = await recorder.status()
    assert not connected
    assert error is not None
    assert error.kind is OnvifErrorKind.UNKNOWN
    assert "a bug" in str(error)
    assert await recorder.status() == (True, None)


async def test_wrong_password_reports_auth_failed_without_the_password(
    server: OnvifTestServer, subscribe: SubscriberFactory, recorder: Recorder
) -> None:
    subscriber = await subscribe(server, password=WRONG, connected=False)
    connected, error = await recorder.status()
    assert not connected
    assert error is not None
    assert error.kind is OnvifErrorKind.AUTH_FAILED
    assert WRONG not in str(error)
    assert subscriber.stats.last_error is not None
    assert WRONG not in subscriber.stats.last_error
    assert not subscriber.stats.connected


async def test_camera_ignoring_the_pull_timeout_is_not_hammered(
    make_server: ServerFactory, subscribe: SubscriberFactory
) -> None:
    server = await make_server(hold_pulls=False)
    await subscribe(server)
    await server.wait_for_calls("PullMessages", 4)
    pulls = server.call_times["PullMessages"]
    assert pulls[3] - pulls[1] >= 2 * onvif.PULL_COOLDOWN - 0.05


async def test_stop_unsubscribes_and_ends_the_task(
    server: OnvifTestServer, recorder: Recorder, connectors: list[aiohttp.TCPConnector]
) -> None:
    subscriber = OnvifSubscriber(config_for(server), recorder.on_event, recorder.on_status)
    await subscriber.stop()  # not started: nothing to do
    await subscriber.start()
    await subscriber.start()  # already running: no second task
    assert await recorder.status() == (True, None)
    await server.wait_for_calls("PullMessages", 1)  # a pull is held open now
    async with asyncio.timeout(WAIT):
        await subscriber.stop()
    assert server.unsubscribe_count == 1
    assert server.live_subscriptions == 0
    assert server.create_count == 1
    assert not subscriber.stats.connected
    assert not [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("lookback ONVIF") and not task.done()
    ]
    assert recorder.history == [(True, None)]  # stopping is not an outage
    assert_all_closed(connectors)


async def test_stop_during_the_cleanup_of_an_outage_closes_every_connection(
    server: OnvifTestServer, recorder: Recorder, connectors: list[aiohttp.TCPConnector]
) -> None:
    """The camera goes away; stop() comes while the failed subscription is being cleaned up.

    That cancellation used to cut ONVIFCamera.close() short at its first await, leaving the
    service clients' connectors (with pooled keep-alive connections) open.
    """
    subscriber = OnvifSubscriber(
        config_for(server), recorder.on_event, recorder.on_status, backoff_initial=60.0
    )
    await subscriber.start()
    assert await recorder.status() == (True, None)
    await server.stop()  # the held pull is answered, the next one cannot connect
    connected, error = await recorder.status()
    assert not connected
    assert error is not None
    assert error.kind is OnvifErrorKind.UNREACHABLE
    async with asyncio.timeout(WAIT):
        await subscriber.stop()  # at once: the cleanup is under way
    assert_all_closed(connectors)
    assert not onvif_connection._CLEANUPS


async def test_cancelled_check_closes_every_connection(
    server: OnvifTestServer, connectors: list[aiohttp.TCPConnector]
) -> None:
    """A config flow aborted while the check waits for the camera."""
    check = asyncio.create_task(async_check_onvif(config_for(server)))
    await server.wait_for_calls("GetEventProperties", 1)
    check.cancel()
    with pytest.raises(asyncio.CancelledError):
        await check
    assert_all_closed(connectors)


async def test_cleanup_goes_on_past_failing_and_hanging_closes(
    server: OnvifTestServer,
    connectors: list[aiohttp.TCPConnector],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One service client's close raises, another's never ends: the rest still get closed."""
    real_close: Any = onvif_client.ONVIFService.close  # not annotated

    async def close(service: Any) -> None:
        await real_close(service)
        if service.binding_key[0] == "events":
            raise RuntimeError("close failed")
        if service.binding_key[0] == "subscription":
            await asyncio.Event().wait()  # a socket that never finishes closing

    monkeypatch.setattr(onvif_client.ONVIFService, "close", close)
    monkeypatch.setattr(onvif_connection, "CLOSE_TIMEOUT", 0.2)
    async with asyncio.timeout(WAIT):  # the hanging close is cut short by CLOSE_TIMEOUT
        assert await async_check_onvif(config_for(server))
    assert server.unsubscribe_count == 1
    assert_all_closed(connectors)


async def test_unsubscribe_never_raises() -> None:
    async def odd_answer() -> None:
        raise ValueError("not a SOAP envelope")

    async def refused() -> None:
        raise aiohttp.ClientConnectionError("refused")

    for unsubscribe in (odd_answer, refused):
        subscription = onvif_connection.Subscription(SimpleNamespace(Unsubscribe=unsubscribe), None)
        await onvif_connection.unsubscribe(subscription, "cam:80")


# ------------------------------------------------------------------------------ renewal time


def test_lifetime_from_the_camera_times() -> None:
    utc = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    granted = SimpleNamespace(CurrentTime=utc, TerminationTime=utc + dt.timedelta(seconds=90))
    assert onvif._lifetime(granted, 600.0) == 90.0
    naive = SimpleNamespace(CurrentTime=utc.replace(tzinfo=None), TerminationTime=utc)
    assert onvif._lifetime(naive, 600.0) == 600.0
    past = SimpleNamespace(CurrentTime=utc, TerminationTime=utc - dt.timedelta(seconds=1))
    assert onvif._lifetime(past, 600.0) == 600.0
    assert onvif._lifetime(None, 600.0) == 600.0
