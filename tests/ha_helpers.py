"""Helpers for HA tests: a Lookback NVR entry with camera subentries, and bounded waits.

Plain functions, not fixtures (pytest collects fixtures only from conftest.py and the test
module itself), so any test module can import them. Every wait is bounded (``WAIT_TIMEOUT``
unless told) and fails with what it waited for.

A test that sets up an entry must unload it (``async_unload_lookback``) before it ends: the
camera pipelines run threads, and the HA plugin fails tests that leave threads behind.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import Event, HomeAssistant, callback
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.lookback.camera_hub import CameraHub
from custom_components.lookback.const import DOMAIN, NAME, SUBENTRY_CAMERA
from custom_components.lookback.hub import LookbackHub

WAIT_TIMEOUT = 30.0
"""Seconds a wait allows by default: a stream connects and a short clip closes well within."""

RECHECK_S = 0.05
"""How often ``async_wait_for`` re-checks a condition that no hub notification announces."""

# A small live camera for HA tests: 640x360 H.264 at 10 fps, a keyframe every second.
CAMERA_MEDIA: Final[dict[str, Any]] = {
    "codec": "h264",
    "width": 640,
    "height": 360,
    "fps": 10,
    "seconds": 20,
    "gop_seconds": 1,
}

UNREACHABLE_URL = "rtsp://127.0.0.1:9/stream1"
"""A camera URL that refuses connections at once (discard port), for tests needing no video."""


def nvr_entry_data(storage_path: Path, **overrides: Any) -> dict[str, Any]:
    """The NVR entry's data: short pre- and post-roll, no SMTP server, no storage cap."""
    return {
        "storage_path": str(storage_path),
        "storage_max_gb": 0,
        "pre_roll": 2,
        "post_roll": 2,
        "smtp_enabled": False,
        "smtp_host": "0.0.0.0",
        "smtp_port": 2525,
        "smtp_username": "",
        "smtp_password": "",
        "smtp_starttls": False,
        "smtp_auth_without_tls": False,
        "smtp_max_mb": 10,
        "smtp_rate_per_minute": 60,
    } | overrides


def camera_subentry_data(camera_id: str, name: str, url: str, **overrides: Any) -> dict[str, Any]:
    """A camera subentry's data: 2 s pre- and post-roll, no credentials, TCP."""
    return {
        "camera_id": camera_id,
        "name": name,
        "url": url,
        "detect_url": "",
        "snapshot_url": "",
        "username": "",
        "password": "",
        "transport": "tcp",
        "pre_roll": 2,
        "post_roll": 2,
        "max_clip_seconds": 600,
        "retention_days": 14,
        "retention_gb": 0,
    } | overrides


def camera_subentry(camera_id: str, name: str, url: str, **overrides: Any) -> ConfigSubentryData:
    """A camera subentry for ``MockConfigEntry(subentries_data=...)``."""
    return ConfigSubentryData(
        data=camera_subentry_data(camera_id, name, url, **overrides),
        subentry_type=SUBENTRY_CAMERA,
        title=name,
        unique_id=camera_id,
    )


async def async_setup_lookback(
    hass: HomeAssistant,
    storage_path: Path,
    cameras: Mapping[str, str] | None = None,
    *,
    subentries: Iterable[ConfigSubentryData] = (),
    **entry_overrides: Any,
) -> MockConfigEntry:
    """Add and load an NVR entry storing below ``storage_path``; asserts that it loaded.

    ``cameras`` maps camera ids to stream URLs, each with default settings ("front" is named
    "Front"); ``subentries`` adds cameras made with ``camera_subentry(..., **overrides)``.
    ``entry_overrides`` change the NVR entry's data. Cameras connect in their own threads
    after this returns: see ``async_wait_connected``.
    """
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=NAME,
        data=nvr_entry_data(storage_path, **entry_overrides),
        subentries_data=[
            *(
                camera_subentry(camera_id, camera_id.replace("_", " ").title(), url)
                for camera_id, url in (cameras or {}).items()
            ),
            *subentries,
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def async_unload_lookback(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the entry if it is loaded: stops every camera thread and timer."""
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def lookback_hub(entry: MockConfigEntry) -> LookbackHub:
    """The running hub of a loaded entry."""
    hub: LookbackHub = entry.runtime_data.hub
    return hub


async def async_wait_for[T](
    awaitable: Awaitable[T], what: str, *, within: float = WAIT_TIMEOUT
) -> T:
    """Await ``awaitable`` for at most ``within`` seconds; a timeout fails saying ``what``."""
    try:
        async with asyncio.timeout(within):
            return await awaitable
    except TimeoutError as err:
        raise AssertionError(f"timed out after {within:g} s waiting for {what}") from err


async def async_wait_camera(
    camera: CameraHub,
    condition: Callable[[], bool],
    what: str,
    *,
    within: float = WAIT_TIMEOUT,
) -> None:
    """Return once ``condition()`` holds: checked now and whenever the camera's hub notifies.

    Some states have no notification (packets reaching the ring): for those the condition is
    also re-checked every ``RECHECK_S``. Fails after ``within`` seconds, saying ``what``.
    """
    changed = asyncio.Event()
    unsubscribe = camera.async_add_listener(changed.set)
    try:
        async with asyncio.timeout(within):
            while not condition():
                changed.clear()
                try:
                    async with asyncio.timeout(RECHECK_S):
                        await changed.wait()
                except TimeoutError:
                    pass  # nothing announced: look again
    except TimeoutError as err:
        raise AssertionError(
            f"{camera.name}: timed out after {within:g} s waiting for {what} "
            f"(connected: {camera.connected}, last error: {camera.last_error})"
        ) from err
    finally:
        unsubscribe()


async def async_wait_connected(camera: CameraHub, *, within: float = WAIT_TIMEOUT) -> None:
    """Return once the stream is up: the source says so when a keyframe is in the ring."""
    await async_wait_camera(camera, lambda: camera.connected, "its stream", within=within)


def async_next_bus_event(
    hass: HomeAssistant,
    event_type: str,
    match: Callable[[Mapping[str, Any]], bool] = lambda _data: True,
) -> asyncio.Future[Event[dict[str, Any]]]:
    """A future for the next ``event_type`` bus event whose data ``match`` accepts.

    Call it before the action that fires the event; await it with ``async_wait_for``.
    """
    future: asyncio.Future[Event[dict[str, Any]]] = hass.loop.create_future()

    @callback
    def listener(event: Event[dict[str, Any]]) -> None:
        if not future.done() and match(event.data):
            future.set_result(event)

    unsubscribe = hass.bus.async_listen(event_type, listener)
    future.add_done_callback(lambda _future: unsubscribe())
    return future
