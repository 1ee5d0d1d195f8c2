"""Talking to one ONVIF camera: connect, subscribe to pull-point events, unsubscribe, close.

Libraries: onvif-zeep-async (the version HA core's onvif integration pins) makes the SOAP
clients: ``ONVIFCamera`` loads the WSDL in the loop's default executor, signs requests with a
WS-Security UsernameToken digest, compensates the camera's clock skew (``adjust_time``) and
detects cameras that mishandle relative termination times.

The steps here are shared by the config flow's check (``async_check_onvif``, also here) and
the subscriber task (onvif.py), which adds pulling, renewal and back-off.

HA-free: never import homeassistant here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import datetime as dt
import logging
from typing import Any, Final

from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError
from onvif.util import is_auth_error, normalize_url, stringify_onvif_error
from zeep.exceptions import Fault

from .onvif_errors import SOAP_ERRORS, OnvifError, OnvifErrorKind, to_onvif_error
from .onvif_events import DEFAULT_CATEGORIES, OnvifCategory, announced_categories

__all__ = [
    "CLOSE_TIMEOUT",
    "PULLPOINT_XADDR",
    "UNSUBSCRIBE_TIMEOUT",
    "OnvifConfig",
    "Subscription",
    "async_check_onvif",
    "close_camera",
    "create_subscription",
    "events_service",
    "new_camera",
    "unsubscribe",
]

_LOGGER = logging.getLogger(__name__)

PULLPOINT_XADDR: Final = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
UNSUBSCRIBE_TIMEOUT: Final = 3.0
CLOSE_TIMEOUT: Final = 2.0  # seconds to close the HTTP sessions (waiting for their sockets)

# Cleanups running (see close_camera): the loop keeps only weak references to tasks.
_CLEANUPS: Final[set[asyncio.Task[None]]] = set()


@dataclass(frozen=True, slots=True)
class OnvifConfig:
    """Where the camera's ONVIF service is and which event categories make triggers."""

    host: str
    port: int = 80
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    categories: frozenset[OnvifCategory] = DEFAULT_CATEGORIES


def new_camera(config: OnvifConfig) -> Any:
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


async def events_service(camera: Any) -> Any:
    """Discover the services (also the credential check) and make the event service client."""
    await camera.update_xaddrs()
    try:
        return await camera.create_events_service()
    except ONVIFError as err:
        raise OnvifError(
            OnvifErrorKind.NO_EVENTS, f"ONVIF {camera.host}:{camera.port}: no event service"
        ) from err


@dataclass(slots=True)
class Subscription:
    """A pull-point subscription: the services to renew and end it, and to pull from it."""

    manager: Any  # the SubscriptionManager service: Renew, Unsubscribe
    pullpoint: Any  # the PullPointSubscription service: PullMessages
    renew_at: float = 0.0  # loop.time()


async def create_subscription(camera: Any, events: Any, seconds: float) -> tuple[Subscription, Any]:
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
    subscription = Subscription(
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


async def unsubscribe(subscription: Subscription, where: str) -> None:
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


async def _cleanup(camera: Any, subscription: Subscription | None, where: str) -> None:
    if subscription is not None:
        await unsubscribe(subscription, where)
    await _close_sessions(camera, where)


async def close_camera(camera: Any, subscription: Subscription | None, where: str) -> None:
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
    camera = new_camera(config)
    subscription = None
    try:
        async with asyncio.timeout(timeout):
            events = await events_service(camera)
            try:
                properties = await events.GetEventProperties()
            except Fault as err:  # best effort: the subscription below is the real check
                _LOGGER.debug("%s: GetEventProperties failed: %s", where, err)
                categories: tuple[str, ...] = ()
            else:
                categories = announced_categories(getattr(properties, "TopicSet", None))
            subscription, _ = await create_subscription(camera, events, 60.0)
    except Exception as err:
        error = to_onvif_error(err, config)
        if error is err:
            raise
        raise error from err
    finally:
        await close_camera(camera, subscription, where)
    return categories
