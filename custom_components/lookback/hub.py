"""LookbackHub: the NVR entry's runtime in HA (store, Nvr, cameras, storage figures).

Entities never poll: stream statistics live in memory and are read on a timer, storage
figures after each clip and hourly, everything else is pushed by the cameras' hubs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from datetime import datetime, timedelta
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from . import repairs
from .camera_config import GB
from .camera_hub import CameraHub
from .config_flow import async_start_camera_reauth
from .const import (
    ALERT_KEYS,
    CONF_SMTP_ENABLED,
    CONF_STORAGE_MAX_GB,
    CONF_STORAGE_PATH,
    DETECTOR_OFF,
    DOMAIN,
    STATS_REFRESH_S,
    SUBENTRY_CAMERA,
)
from .core.nvr import Nvr
from .core.storage import ClipStore, StorageError
from .detector_hub import DetectorHub, detector_choice
from .listeners import Listeners
from .mail_server import MailServerHub

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigSubentry

    from .data import LookbackConfigEntry

_LOGGER = logging.getLogger(__name__)

RETENTION_INTERVAL = timedelta(hours=1)


def _only_alerts_changed(before: Mapping[str, Any], subentry: ConfigSubentry) -> bool:
    """Whether a subentry's change touches alert settings only (no stream restart needed)."""
    after = subentry.data
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    return changed <= set(ALERT_KEYS)


class LookbackHub(Listeners):
    """The NVR entry's runtime: the clip store, the Nvr, every camera, storage figures."""

    def __init__(self, hass: HomeAssistant, entry: LookbackConfigEntry) -> None:
        """Build the store and Nvr from the entry; nothing runs before ``async_start``."""
        super().__init__()
        self.hass = hass
        self.entry = entry
        root = Path(entry.data[CONF_STORAGE_PATH])
        cap_gb = float(entry.data.get(CONF_STORAGE_MAX_GB) or 0)
        # Folders and names in HA's time zone, as the media browser shows them.
        self.store = ClipStore(root, round(cap_gb * GB) or None, dt_util.get_default_time_zone())
        self.nvr = Nvr(self.store, hass.loop)
        self.detector = (
            DetectorHub(self, entry.data) if detector_choice(entry.data) != DETECTOR_OFF else None
        )
        self.cameras: dict[str, CameraHub] = {}
        self.mail_server = (
            MailServerHub(self, entry.data) if entry.data.get(CONF_SMTP_ENABLED) else None
        )
        self._entry_data = dict(entry.data)  # what the NVR was started with
        # Platforms register how they add a camera's entities (cameras added without reload).
        self.entity_adders: list[Callable[[CameraHub], None]] = []
        self.nvr_device_id = ""  # set by async_setup_entry once the device is registered
        self.storage_used: int | None = None
        self.storage_free: int | None = None
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._housekeeping_pending = False
        self._reauth_started: set[str] = set()
        self._detector_start: asyncio.Task[None] | None = None

    async def async_start(self) -> None:
        """Check storage, finish what a crash left, start every camera.

        A storage folder that cannot be written makes setup retry later (and a repair issue
        explains it); nothing recorded so far is touched.
        """
        try:
            await self.nvr.async_prepare()
        except StorageError as err:
            repairs.async_report_storage_not_writable(self.hass, str(self.store.root), str(err))
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="storage_not_writable",
                translation_placeholders={"path": str(self.store.root), "error": str(err)},
            ) from err
        repairs.async_clear_storage_not_writable(self.hass)
        for subentry in self.entry.subentries.values():
            if subentry.subentry_type == SUBENTRY_CAMERA:
                camera = CameraHub(self, subentry)
                self.cameras[camera.camera_id] = camera
        repairs.async_clear_removed_cameras(self.hass, set(self.cameras))
        for camera in self.cameras.values():
            await camera.async_start()
        if self.detector is not None:
            # Installing the runtime and loading a model take a while: cameras record meanwhile,
            # and their label sensors become available once the detector is ready.
            self._detector_start = self.entry.async_create_background_task(
                self.hass, self.detector.async_start(), "lookback object detector start"
            )
        else:
            repairs.async_clear_detector(self.hass)
        if self.mail_server is not None:
            await self.mail_server.async_start()
        else:
            repairs.async_clear_smtp_not_listening(self.hass)
        self._unsubscribe += [
            async_track_time_interval(
                self.hass, self._refresh_stats, timedelta(seconds=STATS_REFRESH_S)
            ),
            async_track_time_interval(self.hass, self._retention_tick, RETENTION_INTERVAL),
        ]
        await self.async_housekeeping()

    async def async_stop(self) -> None:
        """Stop timers, every camera and every thread (ends open events, closes clips).

        Runs at unload and at HA's shutdown (which does not unload entries); twice is fine.
        """
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self.mail_server is not None:
            await self.mail_server.async_stop()
        for camera in self.cameras.values():
            await camera.async_stop()
        await self.nvr.async_stop()
        if self._detector_start is not None and not self._detector_start.done():
            self._detector_start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._detector_start
        if self.detector is not None:
            await self.detector.async_stop()

    async def async_apply_entry_update(self) -> bool:
        """Start, restart or stop the cameras whose subentries changed; the rest go on.

        Returns False when the NVR's own settings changed: the entry must be reloaded.
        """
        if dict(self.entry.data) != self._entry_data:
            return False
        wanted = {
            subentry.subentry_id: subentry
            for subentry in self.entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_CAMERA
        }
        for camera in list(self.cameras.values()):
            subentry = wanted.get(camera.subentry_id)
            if subentry is None or dict(subentry.data) != camera.subentry_data:
                if subentry is not None and _only_alerts_changed(camera.subentry_data, subentry):
                    _LOGGER.debug("%s: alert settings changed, restarting them", camera.name)
                    await camera.async_apply_alert_settings(subentry)
                    self._cameras_changed()
                    continue
                _LOGGER.debug("%s: camera removed or changed, stopping it", camera.name)
                del self.cameras[camera.camera_id]
                self._cameras_changed()  # mail for it is refused from now on
                await camera.async_remove()
        running = {camera.subentry_id for camera in self.cameras.values()}
        for subentry_id, subentry in wanted.items():
            if subentry_id not in running:
                camera = CameraHub(self, subentry)
                self.cameras[camera.camera_id] = camera
                await camera.async_start()
                self._cameras_changed()
                for add in self.entity_adders:
                    add(camera)
        self._reauth_started.clear()  # changed credentials deserve a new reauth if they fail
        return True

    def _cameras_changed(self) -> None:
        if self.mail_server is not None:
            self.mail_server.cameras_changed()

    def camera_by_subentry(self, subentry_id: str) -> CameraHub | None:
        """The camera of a subentry."""
        return next((c for c in self.cameras.values() if c.subentry_id == subentry_id), None)

    @callback
    def async_start_reauth(self, subentry_id: str) -> None:
        """Ask the user for new credentials of one camera (once per run)."""
        if subentry_id in self._reauth_started:
            return
        self._reauth_started.add(subentry_id)

        async_start_camera_reauth(self.hass, self.entry, subentry_id)

    # Storage figures and retention -----------------------------------------------------

    @callback
    def async_schedule_housekeeping(self) -> None:
        """Apply retention and refresh storage figures soon (coalesces bursts of clips)."""
        if self._housekeeping_pending:
            return
        self._housekeeping_pending = True
        self.entry.async_create_background_task(
            self.hass, self.async_housekeeping(), "lookback housekeeping"
        )

    async def async_housekeeping(self) -> None:
        """Apply age and size limits, then recount what is stored.

        A file that cannot be deleted or read (permissions, a failing disk) is logged; it
        must not fail setup or leave an unhandled task error.
        """
        self._housekeeping_pending = False
        try:
            removed = await self.nvr.async_enforce_retention()
            if removed:
                _LOGGER.debug("retention removed %d clips", len(removed))
            await self.async_refresh_storage()
        except OSError as err:
            _LOGGER.warning("storage housekeeping failed: %s", err)

    async def async_refresh_storage(self) -> None:
        """Recount bytes stored (per camera and in all) and free space (file I/O: executor)."""
        figures = await self.hass.async_add_executor_job(self._storage_figures)
        per_camera, used, free = figures
        for camera_id, (clips, size) in per_camera.items():
            if camera := self.cameras.get(camera_id):
                camera.async_set_stored(clips, size)
        if (used, free) != (self.storage_used, self.storage_free):
            self.storage_used, self.storage_free = used, free
            self.async_notify()

    def _storage_figures(self) -> tuple[dict[str, tuple[int, int]], int, int | None]:
        usage = self.store.usage_by_camera()  # one stat per thumbnail, not one per figure
        per_camera = {camera_id: usage.get(camera_id, (0, 0)) for camera_id in self.cameras}
        try:
            free: int | None = self.store.disk_usage().free
        except OSError:
            free = None
        return per_camera, sum(size for _count, size in usage.values()), free

    async def _retention_tick(self, _now: datetime) -> None:
        await self.async_housekeeping()

    @callback
    def _refresh_stats(self, _now: datetime) -> None:
        for camera in self.cameras.values():
            camera.async_refresh_stats()
        # Rejected mails and detector figures tell no one: read their counts.
        if self.mail_server is not None or self.detector is not None:
            self.async_notify()
