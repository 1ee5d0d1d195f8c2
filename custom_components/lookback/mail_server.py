"""The NVR's SMTP server in HA: settings from the entry, mail to cameras, repairs, figures.

The core's AlertMailServer runs on HA's event loop; this adapts it. A port that cannot be
opened (in use, no permission) is a repair issue, never a failed setup: recording goes on,
and the server tries again every minute.
"""

from __future__ import annotations

from datetime import datetime
import errno
import logging
from pathlib import Path
import ssl
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import STORAGE_DIR

from . import repairs
from .camera_alerts import mail_alert
from .camera_config import mail_route_from
from .const import (
    CONF_SMTP_AUTH_WITHOUT_TLS,
    CONF_SMTP_HOST,
    CONF_SMTP_MAX_MB,
    CONF_SMTP_PASSWORD,
    CONF_SMTP_PORT,
    CONF_SMTP_RATE,
    CONF_SMTP_STARTTLS,
    CONF_SMTP_USERNAME,
    DEFAULT_SMTP_HOST,
    DEFAULT_SMTP_MAX_MB,
    DEFAULT_SMTP_PORT,
    DEFAULT_SMTP_RATE,
    DOMAIN,
)
from .core.alerts.mail import MailKind
from .core.alerts.routing import MailRouter
from .core.alerts.smtp import AlertMailServer, MailDelivery, MailServerConfig, MailServerStats
from .core.alerts.tls import load_or_create_tls_context

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .hub import LookbackHub

_LOGGER = logging.getLogger(__name__)

MB: Final = 1024 * 1024
RETRY_S: Final = 60.0  # a port in use may be freed: listen again this often


def mail_server_config_from(data: Mapping[str, Any]) -> MailServerConfig:
    """The SMTP server's settings from the NVR entry."""
    username = data.get(CONF_SMTP_USERNAME) or None
    return MailServerConfig(
        host=data.get(CONF_SMTP_HOST) or DEFAULT_SMTP_HOST,
        port=int(data.get(CONF_SMTP_PORT, DEFAULT_SMTP_PORT)),  # tests use 0: any free port
        max_bytes=round(float(data.get(CONF_SMTP_MAX_MB) or DEFAULT_SMTP_MAX_MB) * MB),
        username=username,
        password=(data.get(CONF_SMTP_PASSWORD) or None) if username else None,
        auth_without_tls=bool(data.get(CONF_SMTP_AUTH_WITHOUT_TLS)),
        starttls=bool(data.get(CONF_SMTP_STARTTLS)),
        rate_per_minute=int(data.get(CONF_SMTP_RATE, DEFAULT_SMTP_RATE)),
    )


class MailServerHub:
    """The SMTP server of one NVR entry: started and stopped with it."""

    def __init__(self, hub: LookbackHub, data: Mapping[str, Any]) -> None:
        """Configure from the entry's data; nothing listens before ``async_start``."""
        self._hub = hub
        self.hass: HomeAssistant = hub.hass
        self.config = mail_server_config_from(data)
        self.server: AlertMailServer | None = None
        self.error: str | None = None  # why it is not listening
        self._retry: CALLBACK_TYPE | None = None
        self._stopped = False

    @property
    def stats(self) -> MailServerStats | None:
        """Mails accepted and rejected so far (None: not running)."""
        return self.server.stats if self.server else None

    def _router(self) -> MailRouter:
        return MailRouter(
            mail_route_from(camera.subentry_data, camera.name)
            for camera in self._hub.cameras.values()
        )

    async def async_start(self) -> None:
        """Listen, or report why not and try again in ``RETRY_S``.

        What stops it (port taken, no permission, no certificate) is a repair issue.
        """
        self._retry = None
        try:
            tls_context: ssl.SSLContext | None = None
            if self.config.starttls:
                folder = Path(self.hass.config.path(STORAGE_DIR, DOMAIN))
                tls_context = await self.hass.async_add_executor_job(
                    load_or_create_tls_context, folder, self.config.hostname
                )
            server = AlertMailServer(
                self.config, self._router(), self._delivered, tls_context=tls_context
            )
            await server.start()
        except OSError as err:  # ssl.SSLError included
            if self._stopped:  # the entry unloaded during a retry
                return
            self._report(err)
            self._retry = async_call_later(self.hass, RETRY_S, self._async_retry)
            return
        if self._stopped:  # the entry unloaded while a retry was starting it
            await server.stop()
            return
        self.server, self.error = server, None
        repairs.async_clear_smtp_not_listening(self.hass)
        _LOGGER.info("SMTP server listening on %s:%s", self.config.host, server.port)

    def _report(self, err: OSError) -> None:
        error = err.strerror or str(err)
        if error != self.error:  # once per cause, not every retry
            _LOGGER.error(
                "SMTP server cannot listen on %s:%s: %s", self.config.host, self.config.port, error
            )
        self.error = error
        in_use = err.errno == errno.EADDRINUSE
        repairs.async_report_smtp_not_listening(
            self.hass, self.config.host, self.config.port, error, in_use=in_use
        )

    async def _async_retry(self, _now: datetime) -> None:
        await self.async_start()

    async def async_stop(self) -> None:
        """Close the listener and its sessions; no more retries."""
        self._stopped = True
        if self._retry is not None:
            self._retry()
            self._retry = None
        if self.server is not None:
            await self.server.stop()
            self.server = None

    def cameras_changed(self) -> None:
        """A camera was added, changed or removed: mail goes to the cameras there are now."""
        if self.server is not None:
            self.server.set_router(self._router())

    def _delivered(self, delivery: MailDelivery) -> None:
        """An accepted mail (on the loop): each camera it is for stores and triggers."""
        if delivery.mail.kind is not MailKind.ALARM:
            # Test, health and "alarm ended" mails are counted by the server; no clip.
            _LOGGER.debug("%s mail from %s makes no clip", delivery.mail.kind, delivery.peer)
        else:
            for camera_id in delivery.camera_ids:
                self._hub.entry.async_create_background_task(
                    self.hass, self._async_deliver(camera_id, delivery), "lookback alert mail"
                )
        self._hub.async_notify()

    async def _async_deliver(self, camera_id: str, delivery: MailDelivery) -> None:
        """Store the mail's pictures, then raise the alert on the camera running now.

        A camera restarts when its settings change: the one that stored the pictures may be
        gone by the time they are stored, and the alert belongs to its successor.
        """
        camera = self._hub.cameras.get(camera_id)
        if camera is not None:
            snapshots = await camera.alerts.async_store_pictures(delivery.mail, delivery.received)
            camera = self._hub.cameras.get(camera_id)
        if camera is None:
            _LOGGER.warning("Alert mail for camera %s, which is not running: no clip", camera_id)
            return
        camera.alerts.async_alert(
            mail_alert(delivery.mail, delivery.received, delivery.peer, snapshots)
        )
