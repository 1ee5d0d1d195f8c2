"""An in-process ONVIF camera for tests: device service and pull-point event service (SOAP 1.2).

There is no ONVIF device simulator installable here (no PyPI or apt package serves an ONVIF
device; ONVIF's own Device Test Tool is a Windows client, not a device), so this serves
hand-written SOAP responses shaped like what real cameras send, as far as onvif-zeep-async
4.3.0 (the library HA core's onvif integration pins) and zeep need them:

- device service (``/onvif/device_service``): GetSystemDateAndTime (answered without
  credentials, as ONVIF's PRE_AUTH class requires), GetServices, GetCapabilities,
  GetDeviceInformation;
- event service (``/onvif/Events``): GetServiceCapabilities, GetEventProperties (a TopicSet of
  the announced topics), CreatePullPointSubscription;
- one subscription manager per subscription (``/onvif/Subscription?Idx=N``, as Hikvision
  names them): PullMessages, Renew, Unsubscribe, SetSynchronizationPoint.

Every other request needs a WS-Security UsernameToken (PasswordDigest or PasswordText) with
the right password and a ``Created`` time within ``max_clock_skew`` of the camera's clock;
otherwise the answer is a SOAP fault with subcode ``ter:NotAuthorized`` and HTTP 400 (what
Hikvision and Dahua send; some cameras use 401: ``auth_fault_status``).

Event messages look like the ones Hikvision, Dahua, Reolink and TP-Link cameras send: see
``TOPICS`` for the topics with a known shape (their Source items and the Data item carrying
the state). Messages go to every live subscription; a PullMessages call is held open until a
message is queued or its Timeout runs out, as real cameras do. A new subscription first gets
one ``PropertyOperation="Initialized"`` message per property state pushed earlier (the state
of the camera at subscribe time), then only what is pushed later.

Usage (on the test's event loop)::

    server = OnvifTestServer("admin", "secret")
    port = await server.start()                 # bound to 127.0.0.1, a free port
    ...  # point the client at 127.0.0.1:port
    server.push("tns1:RuleEngine/CellMotionDetector/Motion")            # IsMotion=true
    server.push("tns1:RuleEngine/CellMotionDetector/Motion", active=False)
    server.push("tns1:RuleEngine/MyRuleDetector/PeopleDetect", "State")  # Reolink
    await server.wait_for_calls("Renew", 2)
    server.fail_next_pull()                     # the camera forgets its subscriptions
    assert server.create_count == 2
    await server.stop()

Options make a camera without an event service (``events=False``), one whose event service
has no pull point (``pull_point=False``), no GetEventProperties (``event_properties=False``)
or no Renew (``renew=False``), subscriptions that expire fast whatever the client asks
(``subscription_lifetime``), pulls answered at once instead of held (``hold_pulls=False``),
a camera clock that is off (``clock_offset``) and discovery without credentials
(``pre_auth``). Attributes with the same names may be changed while the server runs (e.g.
``server.pull_point = False`` makes the next CreatePullPointSubscription fail).
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
import datetime as dt
import hashlib
import hmac
import itertools
import re
import time
from typing import Final
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

ENV: Final = "http://www.w3.org/2003/05/soap-envelope"
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
TDS: Final = "http://www.onvif.org/ver10/device/wsdl"
TEV: Final = "http://www.onvif.org/ver10/events/wsdl"
TT: Final = "http://www.onvif.org/ver10/schema"
WSNT: Final = "http://docs.oasis-open.org/wsn/b-2"
WSA: Final = "http://www.w3.org/2005/08/addressing"
WSTOP: Final = "http://docs.oasis-open.org/wsn/t-1"
TNS1: Final = "http://www.onvif.org/ver10/topics"
TER: Final = "http://www.onvif.org/ver10/error"
WSRF_RW: Final = "http://docs.oasis-open.org/wsrf/rw-2"

_NAMESPACES: Final = {
    "env": ENV,
    "tds": TDS,
    "tev": TEV,
    "tt": TT,
    "wsnt": WSNT,
    "wsa": WSA,
    "wstop": WSTOP,
    "tns1": TNS1,
    "ter": TER,
    "wsrf-rw": WSRF_RW,
}
_XMLNS: Final = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in _NAMESPACES.items())
_CONTENT_TYPE: Final = "application/soap+xml; charset=utf-8"
_DEVICE_PATH: Final = "/onvif/device_service"
_EVENTS_PATH: Final = "/onvif/Events"
_SUBSCRIPTION_PATH: Final = "/onvif/Subscription"
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class TopicShape:
    """How a camera fills a topic's message: its Source items and the Data item with the state.

    ``state_item`` is set to "true"/"false"; a topic that is not a property (a pulse such as a
    line crossing) carries a counter in it instead and has no PropertyOperation.
    """

    source: tuple[tuple[str, str], ...]
    state_item: str
    is_property: bool = True


def _rule_source(rule: str) -> tuple[tuple[str, str], ...]:
    return (
        ("VideoSourceConfigurationToken", "VideoSourceToken"),
        ("VideoAnalyticsConfigurationToken", "VideoAnalyticsToken"),
        ("Rule", rule),
    )


TOPICS: Final[Mapping[str, TopicShape]] = {
    # Hikvision, Dahua, Reolink, Tapo, most others: the ONVIF motion rule.
    "tns1:RuleEngine/CellMotionDetector/Motion": TopicShape(
        _rule_source("MyMotionDetectorRule"), "IsMotion"
    ),
    # Hikvision and Dahua: the video source's motion alarm.
    "tns1:VideoSource/MotionAlarm": TopicShape((("Source", "VideoSource_1"),), "State"),
    # Hikvision intrusion ("field") detection.
    "tns1:RuleEngine/FieldDetector/ObjectsInside": TopicShape(
        _rule_source("MyFieldDetectorRule"), "IsInside"
    ),
    # Hikvision/Dahua line crossing: a pulse whose Data is the crossing object's id.
    "tns1:RuleEngine/LineDetector/Crossed": TopicShape(
        _rule_source("MyLineDetectorRule"), "ObjectId", is_property=False
    ),
    # Hikvision video tampering.
    "tns1:VideoSource/GlobalSceneChange/ImagingService": TopicShape(
        (("Source", "VideoSource_1"),), "State"
    ),
    # Reolink AI detection.
    "tns1:RuleEngine/MyRuleDetector/PeopleDetect": TopicShape((("Source", "000"),), "State"),
    "tns1:RuleEngine/MyRuleDetector/VehicleDetect": TopicShape((("Source", "000"),), "State"),
    # TP-Link Tapo person detection.
    "tns1:RuleEngine/PeopleDetector/People": TopicShape(
        _rule_source("MyPeopleDetectorRule"), "IsPeople"
    ),
}
_OTHER_TOPIC: Final = TopicShape((("Source", "VideoSource_1"),), "State")


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    source: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    operation: str | None  # PropertyOperation: Initialized / Changed / Deleted; None: a pulse
    utc: float


@dataclass(slots=True)
class _Subscription:
    index: int
    termination: float  # camera clock (epoch seconds)
    queue: list[_Message] = field(default_factory=list)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False


class SoapFaultError(Exception):
    """A SOAP 1.2 fault to answer with."""

    def __init__(self, status: int, code: str, subcode: str, reason: str) -> None:
        """``code`` is env:Sender or env:Receiver, ``subcode`` a prefixed QName."""
        super().__init__(reason)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.reason = reason


def _not_supported() -> SoapFaultError:
    return SoapFaultError(
        500, "env:Receiver", "ter:ActionNotSupported", "Optional Action Not Implemented"
    )


def _unknown_subscription() -> SoapFaultError:
    return SoapFaultError(
        400, "env:Sender", "wsrf-rw:ResourceUnknownFault", "Subscription not found"
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _find_text(element: ET.Element | None, local_name: str) -> str | None:
    """Text of the first descendant named ``local_name`` in any namespace."""
    if element is None:
        return None
    for child in element.iter():
        if _local(child.tag) == local_name:
            return (child.text or "").strip()
    return None


def parse_duration(text: str) -> float | None:
    """Seconds of an xs:duration such as PT60S or P1DT2H (no months or years); None if not."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(match[key] or 0) for key in ("d", "h", "m", "s"))
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _parse_time(text: str) -> float | None:
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _xml_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _items(items: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f"<tt:SimpleItem Name={quoteattr(name)} Value={quoteattr(value)}/>" for name, value in items
    )


class OnvifTestServer:
    """An ONVIF camera on 127.0.0.1 that serves pull-point events a test pushes.

    Counters: ``calls`` counts every request by operation name (also rejected ones) and
    ``call_times`` lists when each arrived (``time.monotonic()``); ``create_count``,
    ``pull_count``, ``renew_count`` and ``unsubscribe_count`` are shortcuts and
    ``wait_for_calls`` awaits a count. ``live_subscriptions`` is how many subscriptions the
    camera holds now.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        events: bool = True,
        pull_point: bool = True,
        subscription_lifetime: float | None = None,
        clock_offset: float = 0.0,
        max_clock_skew: float | None = 300.0,
        auth_fault_status: int = 400,
        announced_topics: Iterable[str] | None = None,
        event_properties: bool = True,
        renew: bool = True,
        hold_pulls: bool = True,
        pre_auth: Iterable[str] = ("GetSystemDateAndTime",),
    ) -> None:
        """Configure the camera.

        Args:
            username: The one user the camera knows.
            password: Its password.
            events: Whether the camera has an event service at all (GetServices and
                GetCapabilities announce it).
            pull_point: Whether its event service supports CreatePullPointSubscription
                (otherwise a ter:ActionNotSupported fault).
            subscription_lifetime: Seconds every subscription lives after its creation or
                renewal, whatever the client asks (None: what it asks, as most cameras do).
                A pull, renew or unsubscribe after that gets a fault.
            clock_offset: Seconds the camera's clock is ahead of ours (negative: behind).
            max_clock_skew: How far a UsernameToken's Created may be from the camera's clock
                (None: not checked).
            auth_fault_status: HTTP status of the NotAuthorized fault (400 or 401).
            announced_topics: Topics GetEventProperties lists (default: all of ``TOPICS``).
            event_properties: Whether GetEventProperties is implemented (some older
                firmware answers ter:ActionNotSupported).
            renew: Whether the subscription manager implements Renew (some cameras answer
                ter:ActionNotSupported).
            hold_pulls: Whether PullMessages waits up to its Timeout for a message (False:
                an empty answer at once, as some cameras do).
            pre_auth: Operations answered without checking credentials. ONVIF allows
                GetServices, GetCapabilities... too; many cameras still check a token
                that is sent, so the default only exempts GetSystemDateAndTime.
        """
        self.username = username
        self.password = password
        self.events = events
        self.pull_point = pull_point
        self.subscription_lifetime = subscription_lifetime
        self.clock_offset = clock_offset
        self.max_clock_skew = max_clock_skew
        self.auth_fault_status = auth_fault_status
        self.announced_topics = tuple(TOPICS if announced_topics is None else announced_topics)
        self.event_properties = event_properties
        self.renew = renew
        self.hold_pulls = hold_pulls
        self.pre_auth = frozenset(pre_auth)
        self.calls: Counter[str] = Counter()
        self.call_times: dict[str, list[float]] = {}
        self._changed = asyncio.Condition()
        self._subscriptions: dict[int, _Subscription] = {}
        self._states: dict[tuple[str, tuple[tuple[str, str], ...]], _Message] = {}
        self._indexes = itertools.count(1)
        self._object_ids = itertools.count(1)
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Listen on 127.0.0.1 on a free port; return the port."""
        app = web.Application()
        app.router.add_post(_DEVICE_PATH, self._handle)
        app.router.add_post(_EVENTS_PATH, self._handle)
        app.router.add_post(_SUBSCRIPTION_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        """Answer held pulls (empty) and close the server."""
        self._stopping = True
        for subscription in self._subscriptions.values():
            subscription.wakeup.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ test controls

    def push(
        self,
        topic: str,
        items: str | Mapping[str, str] | None = None,
        active: bool = True,
        *,
        source: Mapping[str, str] | None = None,
        operation: str | None = "Changed",
    ) -> None:
        """Queue an event for every live subscription; wake their held PullMessages.

        Args:
            topic: The topic as the camera writes it, e.g. "tns1:VideoSource/MotionAlarm".
            items: The Data items. None: the topic's state item from ``TOPICS`` ("State" for
                other topics) set from ``active``; a name: that item set from ``active``; a
                mapping: these items verbatim (``active`` is not used).
            active: The state: "true" or "false".
            source: The Source items (default: the topic's usual ones from ``TOPICS``).
            operation: PropertyOperation for a property topic (ignored for a pulse topic).

        A property event is also remembered as the camera's state: a later subscription
        first gets it with PropertyOperation="Initialized".
        """
        shape = TOPICS.get(topic, _OTHER_TOPIC)
        if isinstance(items, Mapping):
            data = tuple(items.items())
        elif not shape.is_property and items is None:
            data = ((shape.state_item, str(next(self._object_ids))),)
        else:
            data = ((items or shape.state_item, "true" if active else "false"),)
        source_items = tuple(source.items()) if source is not None else shape.source
        message = _Message(
            topic,
            source_items,
            data,
            operation if shape.is_property else None,
            self._camera_now(),
        )
        if shape.is_property:
            self._states[topic, source_items] = replace(message, operation="Initialized")
        for subscription in self._subscriptions.values():
            subscription.queue.append(message)
            subscription.wakeup.set()

    def fail_next_pull(self) -> None:
        """Forget every subscription, as a rebooting camera does.

        The held or next PullMessages (and any Renew or Unsubscribe) of a forgotten
        subscription gets a wsrf-rw:ResourceUnknownFault.
        """
        for subscription in self._subscriptions.values():
            subscription.dropped = True
            subscription.wakeup.set()
        self._subscriptions.clear()

    @property
    def create_count(self) -> int:
        """CreatePullPointSubscription requests received."""
        return self.calls["CreatePullPointSubscription"]

    @property
    def pull_count(self) -> int:
        """PullMessages requests received."""
        return self.calls["PullMessages"]

    @property
    def renew_count(self) -> int:
        """Renew requests received."""
        return self.calls["Renew"]

    @property
    def unsubscribe_count(self) -> int:
        """Unsubscribe requests received."""
        return self.calls["Unsubscribe"]

    @property
    def live_subscriptions(self) -> int:
        """Subscriptions the camera holds (not unsubscribed, not expired, not dropped)."""
        now = self._camera_now()
        return sum(1 for sub in self._subscriptions.values() if sub.termination > now)

    async def wait_for_calls(
        self,
        operation: str,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 (a test helper with a default bound)
    ) -> None:
        """Wait until ``operation`` was requested at least ``count`` times in total."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.calls[operation] >= count)

    # ------------------------------------------------------------------ HTTP / SOAP

    def _camera_now(self) -> float:
        return time.time() + self.clock_offset

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            envelope = ET.fromstring(body)  # noqa: S314 (our own test client on 127.0.0.1)
        except ET.ParseError:
            return self._fault(SoapFaultError(400, "env:Sender", "ter:WellFormed", "Bad XML"))
        body_element = envelope.find(f"{{{ENV}}}Body")
        if body_element is None or len(body_element) == 0:
            return self._fault(SoapFaultError(400, "env:Sender", "ter:WellFormed", "No SOAP body"))
        operation = body_element[0]
        name = _local(operation.tag)
        async with self._changed:
            self.calls[name] += 1
            self.call_times.setdefault(name, []).append(time.monotonic())
            self._changed.notify_all()
        try:
            if name not in self.pre_auth:
                self._check_auth(envelope.find(f"{{{ENV}}}Header"))
            handler = self._handler(request, name)
            return self._ok(await handler(request, operation))
        except SoapFaultError as fault:
            return self._fault(fault)

    def _handler(
        self, request: web.Request, name: str
    ) -> Callable[[web.Request, ET.Element], Awaitable[str]]:
        handlers: dict[str, dict[str, Callable[[web.Request, ET.Element], Awaitable[str]]]] = {
            _DEVICE_PATH: {
                "GetSystemDateAndTime": self._get_system_date_and_time,
                "GetServices": self._get_services,
                "GetCapabilities": self._get_capabilities,
                "GetDeviceInformation": self._get_device_information,
            },
            _EVENTS_PATH: {
                "GetServiceCapabilities": self._get_event_service_capabilities,
                "GetEventProperties": self._get_event_properties,
                "CreatePullPointSubscription": self._create_pull_point_subscription,
            },
            _SUBSCRIPTION_PATH: {
                "PullMessages": self._pull_messages,
                "Renew": self._renew,
                "Unsubscribe": self._unsubscribe,
                "SetSynchronizationPoint": self._set_synchronization_point,
            },
        }
        if request.path == _EVENTS_PATH and not self.events:
            raise _not_supported()
        handler = handlers.get(request.path, {}).get(name)
        if handler is None:
            raise _not_supported()
        return handler

    def _check_auth(self, header: ET.Element | None) -> None:
        denied = SoapFaultError(
            self.auth_fault_status, "env:Sender", "ter:NotAuthorized", "Sender not Authorized"
        )
        token = None if header is None else header.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            raise denied
        username = _find_text(token, "Username")
        password_element = token.find(f"{{{WSSE}}}Password")
        nonce = _find_text(token, "Nonce") or ""
        created = _find_text(token, "Created") or ""
        if username != self.username or password_element is None:
            raise denied
        supplied = (password_element.text or "").strip()
        if password_element.get("Type", "").endswith("#PasswordText"):
            expected = self.password
        else:
            try:
                nonce_bytes = base64.b64decode(nonce, validate=True)
            except ValueError:
                raise denied from None
            digest = hashlib.sha1(  # noqa: S324 (WS-Security UsernameToken is SHA-1)
                nonce_bytes + created.encode() + self.password.encode()
            ).digest()
            expected = base64.b64encode(digest).decode()
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise denied
        if self.max_clock_skew is not None:
            created_at = _parse_time(created) if created else None
            if created_at is None or abs(created_at - self._camera_now()) > self.max_clock_skew:
                raise denied

    @staticmethod
    def _ok(payload: str) -> web.Response:
        return web.Response(
            body=f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope {_XMLNS}>'
            f"<env:Header/><env:Body>{payload}</env:Body></env:Envelope>",
            status=200,
            headers={"Content-Type": _CONTENT_TYPE},
        )

    @staticmethod
    def _fault(fault: SoapFaultError) -> web.Response:
        payload = (
            "<env:Fault><env:Code>"
            f"<env:Value>{fault.code}</env:Value>"
            f"<env:Subcode><env:Value>{fault.subcode}</env:Value></env:Subcode>"
            "</env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason>'
            "</env:Fault>"
        )
        return web.Response(
            body=f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope {_XMLNS}>'
            f"<env:Body>{payload}</env:Body></env:Envelope>",
            status=fault.status,
            headers={"Content-Type": _CONTENT_TYPE},
        )

    # ------------------------------------------------------------------ device service

    async def _get_system_date_and_time(self, _request: web.Request, _op: ET.Element) -> str:
        now = dt.datetime.fromtimestamp(self._camera_now(), dt.UTC)

        def date_time(value: dt.datetime) -> str:
            return (
                f"<tt:Time><tt:Hour>{value.hour}</tt:Hour><tt:Minute>{value.minute}</tt:Minute>"
                f"<tt:Second>{value.second}</tt:Second></tt:Time>"
                f"<tt:Date><tt:Year>{value.year}</tt:Year><tt:Month>{value.month}</tt:Month>"
                f"<tt:Day>{value.day}</tt:Day></tt:Date>"
            )

        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{date_time(now)}</tt:UTCDateTime>"
            f"<tt:LocalDateTime>{date_time(now)}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _service(self, namespace: str, path: str, major: int, minor: int) -> str:
        return (
            f"<tds:Service><tds:Namespace>{namespace}</tds:Namespace>"
            f"<tds:XAddr>{self.base_url}{path}</tds:XAddr>"
            f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version>"
            "</tds:Service>"
        )

    async def _get_services(self, _request: web.Request, _op: ET.Element) -> str:
        services = self._service(TDS, _DEVICE_PATH, 17, 12)
        if self.events:
            services += self._service(TEV, _EVENTS_PATH, 2, 60)
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    async def _get_capabilities(self, _request: web.Request, _op: ET.Element) -> str:
        events = (
            f"<tt:Events><tt:XAddr>{self.base_url}{_EVENTS_PATH}</tt:XAddr>"
            "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
            f"<tt:WSPullPointSupport>{str(self.pull_point).lower()}</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
            "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
            if self.events
            else ""
        )
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{self.base_url}{_DEVICE_PATH}</tt:XAddr></tt:Device>"
            f"{events}</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    async def _get_device_information(self, _request: web.Request, _op: ET.Element) -> str:
        return (
            "<tds:GetDeviceInformationResponse>"
            "<tds:Manufacturer>Lookback</tds:Manufacturer>"
            "<tds:Model>ONVIF test camera</tds:Model>"
            "<tds:FirmwareVersion>1.0.0</tds:FirmwareVersion>"
            "<tds:SerialNumber>LB0001</tds:SerialNumber>"
            "<tds:HardwareId>sim</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    # ------------------------------------------------------------------ event service

    async def _get_event_service_capabilities(self, _request: web.Request, _op: ET.Element) -> str:
        return (
            "<tev:GetServiceCapabilitiesResponse><tev:Capabilities"
            ' WSSubscriptionPolicySupport="false"'
            f' WSPullPointSupport="{str(self.pull_point).lower()}"'
            ' WSPausableSubscriptionManagerInterfaceSupport="false"'
            ' MaxNotificationProducers="10" MaxPullPoints="10"'
            ' PersistentNotificationStorage="false"/>'
            "</tev:GetServiceCapabilitiesResponse>"
        )

    def _topic_set(self) -> str:
        """The announced topics as a wstop:TopicSet tree with MessageDescriptions."""
        tree: dict[str, object] = {}
        for topic in self.announced_topics:
            node = tree
            for part in topic.split("/"):
                child = node.setdefault(part, {})
                assert isinstance(child, dict)
                node = child
            node[""] = topic  # a leaf marker

        def render(node: dict[str, object]) -> str:
            out = []
            for part, child in node.items():
                if part == "" or not isinstance(child, dict):
                    continue
                leaf = child.get("")
                inner = render(child)
                if isinstance(leaf, str):
                    shape = TOPICS.get(leaf, _OTHER_TOPIC)
                    sources = "".join(
                        f'<tt:SimpleItemDescription Name={quoteattr(name)} Type="tt:ReferenceToken"/>'
                        for name, _ in shape.source
                    )
                    value_type = "xs:boolean" if shape.is_property else "xs:string"
                    inner += (
                        f"<tt:MessageDescription IsProperty={quoteattr(str(shape.is_property).lower())}>"
                        f"<tt:Source>{sources}</tt:Source>"
                        f"<tt:Data><tt:SimpleItemDescription Name={quoteattr(shape.state_item)}"
                        f" Type={quoteattr(value_type)}/></tt:Data>"
                        "</tt:MessageDescription>"
                    )
                topic_attr = ' wstop:topic="true"' if isinstance(leaf, str) else ""
                out.append(f"<{part}{topic_attr}>{inner}</{part}>")
            return "".join(out)

        return f"<wstop:TopicSet>{render(tree)}</wstop:TopicSet>"

    async def _get_event_properties(self, _request: web.Request, _op: ET.Element) -> str:
        if not self.event_properties:
            raise _not_supported()
        return (
            "<tev:GetEventPropertiesResponse>"
            "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
            "</tev:TopicNamespaceLocation>"
            "<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
            f"{self._topic_set()}"
            "<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
            "</wsnt:TopicExpressionDialect>"
            "<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
            "</wsnt:TopicExpressionDialect>"
            "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
            "</tev:MessageContentFilterDialect>"
            "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
            "</tev:MessageContentSchemaLocation>"
            "</tev:GetEventPropertiesResponse>"
        )

    def _lifetime(self, requested: str | None, now: float) -> float:
        """Seconds a subscription lives from ``now``, from a relative or absolute time."""
        if self.subscription_lifetime is not None:
            return self.subscription_lifetime
        if requested:
            if (seconds := parse_duration(requested)) is not None:
                return seconds
            if (absolute := _parse_time(requested)) is not None:
                return max(0.0, absolute - now)
        return 60.0

    async def _create_pull_point_subscription(
        self, _request: web.Request, operation: ET.Element
    ) -> str:
        if not self.pull_point:
            raise _not_supported()
        now = self._camera_now()
        lifetime = self._lifetime(_find_text(operation, "InitialTerminationTime"), now)
        subscription = _Subscription(next(self._indexes), now + lifetime)
        subscription.queue.extend(self._states.values())
        self._subscriptions[subscription.index] = subscription
        return (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{self.base_url}{_SUBSCRIPTION_PATH}?Idx={subscription.index}"
            "</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{_xml_time(now)}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{_xml_time(subscription.termination)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )

    def _subscription(self, request: web.Request) -> _Subscription:
        try:
            index = int(request.query.get("Idx", ""))
        except ValueError:
            raise _unknown_subscription() from None
        subscription = self._subscriptions.get(index)
        if subscription is None:
            raise _unknown_subscription()
        if subscription.termination <= self._camera_now():
            del self._subscriptions[index]
            raise _unknown_subscription()
        return subscription

    async def _pull_messages(self, request: web.Request, operation: ET.Element) -> str:
        subscription = self._subscription(request)
        timeout = parse_duration(_find_text(operation, "Timeout") or "") or 10.0
        limit = int(_find_text(operation, "MessageLimit") or "100")
        if not subscription.queue and self.hold_pulls and not self._stopping:
            subscription.wakeup.clear()
            try:
                async with asyncio.timeout(timeout):
                    await subscription.wakeup.wait()
            except TimeoutError:
                pass
        if subscription.dropped:
            raise _unknown_subscription()
        messages = subscription.queue[:limit]
        del subscription.queue[:limit]
        now = self._camera_now()
        return (
            "<tev:PullMessagesResponse>"
            f"<tev:CurrentTime>{_xml_time(now)}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_xml_time(subscription.termination)}</tev:TerminationTime>"
            f"{''.join(self._notification(message) for message in messages)}"
            "</tev:PullMessagesResponse>"
        )

    def _notification(self, message: _Message) -> str:
        operation = (
            f" PropertyOperation={quoteattr(message.operation)}" if message.operation else ""
        )
        return (
            "<wsnt:NotificationMessage>"
            '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
            f"{escape(message.topic)}</wsnt:Topic>"
            f'<wsnt:Message><tt:Message UtcTime="{_xml_time(message.utc)}"{operation}>'
            f"<tt:Source>{_items(message.source)}</tt:Source>"
            f"<tt:Data>{_items(message.data)}</tt:Data>"
            "</tt:Message></wsnt:Message>"
            "</wsnt:NotificationMessage>"
        )

    async def _renew(self, request: web.Request, operation: ET.Element) -> str:
        if not self.renew:
            raise _not_supported()
        subscription = self._subscription(request)
        now = self._camera_now()
        subscription.termination = now + self._lifetime(
            _find_text(operation, "TerminationTime"), now
        )
        return (
            "<wsnt:RenewResponse>"
            f"<wsnt:TerminationTime>{_xml_time(subscription.termination)}</wsnt:TerminationTime>"
            f"<wsnt:CurrentTime>{_xml_time(now)}</wsnt:CurrentTime>"
            "</wsnt:RenewResponse>"
        )

    async def _unsubscribe(self, request: web.Request, _op: ET.Element) -> str:
        subscription = self._subscription(request)
        del self._subscriptions[subscription.index]
        subscription.dropped = True
        subscription.wakeup.set()
        return "<wsnt:UnsubscribeResponse/>"

    async def _set_synchronization_point(self, request: web.Request, _op: ET.Element) -> str:
        subscription = self._subscription(request)
        subscription.queue.extend(self._states.values())
        subscription.wakeup.set()
        return "<tev:SetSynchronizationPointResponse/>"
