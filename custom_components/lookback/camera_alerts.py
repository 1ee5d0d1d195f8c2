"""CameraAlerts: one camera's alerts from outside the picture, into its event pipeline.

Every source (alert mail, ONVIF events, HA entities turning on, the camera's webhook, the
``lookback.trigger`` action) becomes an ``Alert``: a Trigger for the EventTracker (a clip with
pre-roll), the alert binary sensor on for the hold time, and a ``lookback_alert`` bus event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from aiohttp import ClientError, web
from homeassistant.components import webhook
from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, callback
from homeassistant.helpers.event import async_call_later, async_track_state_change_event

from .bus_data import camera_fields, iso_time
from .camera_config import onvif_config_from
from .const import (
    CONF_ALERT_HOLD,
    CONF_ONVIF_ENABLED,
    CONF_TRIGGER_ENTITIES,
    CONF_WEBHOOK_ID,
    DEFAULT_ALERT_HOLD,
    DOMAIN,
    EVENT_ALERT,
)
from .core.alerts.onvif import OnvifError, OnvifEvent, OnvifSubscriber
from .core.frames import image_as_jpeg
from .core.models import Trigger
from .paths import signed_file_path

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant

    from .camera_hub import CameraHub
    from .core.alerts.mail import MailAlert
    from .core.models import Event as LookbackEvent

_LOGGER = logging.getLogger(__name__)

MESSAGE_LIMIT: Final = 500  # characters of a mail's text or a webhook's message kept
WEBHOOK_BODY_LIMIT: Final = 64 * 1024
WEBHOOK_METHODS: Final = ("GET", "POST", "PUT")
# States an entity leaves when it "turns on"; from these (HA starting, a device coming back)
# turning on is not news.
_NOT_A_CHANGE: Final = frozenset({STATE_UNAVAILABLE, STATE_UNKNOWN, STATE_ON})


@dataclass(frozen=True, slots=True)
class Alert:
    """Something outside the picture says this camera saw something."""

    source: str  # smtp, onvif, entity, webhook, service
    time: float
    label: str | None = None
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    snapshots: tuple[str, ...] = ()  # stored pictures that came with it (paths)


def mail_alert(mail: MailAlert, received: float, peer: str, snapshots: tuple[str, ...]) -> Alert:
    """The alert an alarm mail raises: its time is when it arrived, its label the event type."""
    return Alert(
        source="smtp",
        time=received,
        label=mail.event_type,
        message=_trim(f"{mail.subject}\n{mail.text}" if mail.text else mail.subject),
        data={
            "subject": mail.subject,
            "sender": mail.sender,
            "vendor": mail.vendor,
            "channel": mail.channel,
            "peer": peer,
        },
        snapshots=snapshots,
    )


def _trim(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


class CameraAlerts:
    """A camera's alert sources and its alert state (on for a hold time after each alert)."""

    def __init__(self, camera: CameraHub, data: Mapping[str, Any]) -> None:
        """Read the camera's alert settings; nothing listens before ``async_start``."""
        self._camera = camera
        self.hass: HomeAssistant = camera.hass
        self.hold = float(data.get(CONF_ALERT_HOLD) or DEFAULT_ALERT_HOLD)
        self.webhook_id: str | None = data.get(CONF_WEBHOOK_ID) or None
        self.trigger_entities: tuple[str, ...] = tuple(data.get(CONF_TRIGGER_ENTITIES) or ())
        self.onvif: OnvifSubscriber | None = (
            OnvifSubscriber(onvif_config_from(data), self._onvif_event, self._onvif_status)
            if data.get(CONF_ONVIF_ENABLED)
            else None
        )
        self.onvif_error: OnvifError | None = None
        self.last: Alert | None = None
        self.counts: dict[str, int] = {}
        self._hold_timer: CALLBACK_TYPE | None = None
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._stopped = False

    @property
    def on(self) -> bool:
        """Whether an alert came in within the hold time."""
        return self._hold_timer is not None

    # Life ------------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Listen: webhook, entities, ONVIF (which connects in its own task)."""
        if self.webhook_id:
            webhook.async_register(
                self.hass,
                DOMAIN,
                f"Lookback {self._camera.name}",
                self.webhook_id,
                self._async_handle_webhook,
                allowed_methods=WEBHOOK_METHODS,
                local_only=True,  # cameras are on the LAN; not reachable through the cloud
            )
            self._unsubscribe.append(self._unregister_webhook)
        if self.trigger_entities:
            self._unsubscribe.append(
                async_track_state_change_event(
                    self.hass, self.trigger_entities, self._entity_changed
                )
            )
        if self.onvif is not None:
            await self.onvif.start()

    def _unregister_webhook(self) -> None:
        if self.webhook_id:
            webhook.async_unregister(self.hass, self.webhook_id)

    async def async_stop(self) -> None:
        """Stop listening; the sensor goes off. Alerts that still arrive are dropped."""
        self._stopped = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self.onvif is not None:
            await self.onvif.stop()
        self._cancel_hold()

    # The one way in --------------------------------------------------------------------

    @callback
    def async_alert(self, alert: Alert) -> LookbackEvent | None:
        """Trigger a clip, hold the sensor on, fire ``lookback_alert``; returns the event."""
        if self._stopped:  # the camera restarted or went away while this alert was on its way
            _LOGGER.debug("%s: %s alert after stop dropped", self._camera.name, alert.source)
            return None
        camera = self._camera
        data = dict(alert.data)
        if alert.message:
            data["message"] = alert.message
        if alert.snapshots:
            data["snapshots"] = list(alert.snapshots)
        event = camera.async_trigger(
            Trigger(
                camera_id=camera.camera_id,
                source=alert.source,
                time=alert.time,
                label=alert.label,
                data=data,
            )
        )
        if camera.objects.enabled:  # label the alert: what is in the picture now?
            camera.async_background(
                camera.objects.async_detect_now("alert"),
                f"lookback {camera.camera_id} alert detection",
            )
        self.last = alert
        self.counts[alert.source] = self.counts.get(alert.source, 0) + 1
        self._cancel_hold()
        self._hold_timer = async_call_later(self.hass, self.hold, self._hold_over)
        self.hass.bus.async_fire(EVENT_ALERT, self._bus_data(alert, event))
        camera.async_notify()
        return event

    def _bus_data(self, alert: Alert, event: LookbackEvent | None) -> dict[str, Any]:
        return camera_fields(self._camera) | {
            "source": alert.source,
            "label": alert.label,
            "message": alert.message,
            "time": iso_time(alert.time),
            "event_id": event.event_id if event else None,
            "data": alert.data,
            "snapshots": list(alert.snapshots),
            "snapshot_urls": [signed_file_path(self.hass, path) for path in alert.snapshots],
        }

    def _cancel_hold(self) -> None:
        if self._hold_timer is not None:
            self._hold_timer()
            self._hold_timer = None

    @callback
    def _hold_over(self, _now: datetime) -> None:
        self._hold_timer = None
        self._camera.async_notify()

    # Sources ---------------------------------------------------------------------------

    async def async_store_pictures(self, mail: MailAlert, received: float) -> tuple[str, ...]:
        """The mail's JPEG / PNG pictures as the camera's snapshots (PNG becomes JPEG)."""
        store = self._camera.store
        stored: list[str] = []
        for image in mail.images:
            try:
                jpeg = await self.hass.async_add_executor_job(
                    image_as_jpeg, image.data, image.content_type
                )
                path = await self.hass.async_add_executor_job(
                    store.save_snapshot, self._camera.camera_id, received, jpeg
                )
            except (OSError, ValueError) as err:  # a broken picture or a full disk
                _LOGGER.warning(
                    "%s: picture %s from an alert mail not stored: %s",
                    self._camera.name,
                    image.filename,
                    err,
                )
                continue
            stored.append(path)
        return tuple(stored)

    @callback
    def _onvif_event(self, event: OnvifEvent) -> None:
        if not event.active:  # the end of a motion: the post-roll ends the clip
            return
        self.async_alert(
            Alert(
                source="onvif",
                time=event.time,
                label=event.category.value,
                data={"topic": event.topic, "source": event.source, "data": event.data},
            )
        )

    @callback
    def _onvif_status(self, connected: bool, error: OnvifError | None) -> None:
        if connected:
            if self.onvif_error is not None:
                _LOGGER.info("%s: ONVIF events are back", self._camera.name)
            self.onvif_error = None
        else:
            _LOGGER.warning("%s: ONVIF events unavailable: %s", self._camera.name, error)
            self.onvif_error = error
        self._camera.async_notify()

    @callback
    def _entity_changed(self, event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if new is None or new.state != STATE_ON or old is None or old.state in _NOT_A_CHANGE:
            return
        self.async_alert(
            Alert(
                source="entity",
                time=new.last_changed.timestamp(),
                message=new.name,
                data={"entity_id": new.entity_id},
            )
        )

    async def _async_handle_webhook(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """A camera's HTTP notification: ``label`` / ``message`` from JSON, form or query."""
        del hass, webhook_id
        fields: dict[str, Any] = dict(request.query)
        if (request.content_length or 0) > WEBHOOK_BODY_LIMIT:
            return web.Response(status=413, text="body too large")
        try:
            body = (await request.read())[:WEBHOOK_BODY_LIMIT]
        except (ClientError, ConnectionError) as err:  # the camera hung up mid-body
            _LOGGER.debug("%s: webhook body not read: %s", self._camera.name, err)
            return web.Response(status=400, text="body not read")
        text = body.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError, RecursionError:  # not JSON after all: kept as the message
                parsed = None
            if isinstance(parsed, dict):
                fields |= parsed
        elif request.content_type == "application/x-www-form-urlencoded":
            fields |= dict(parse_qsl(text, keep_blank_values=True))
        label = fields.get("label") or fields.get("event") or fields.get("type")
        message = fields.get("message") or (text if text and not fields else None)
        event = self.async_alert(
            Alert(
                source="webhook",
                time=time.time(),
                label=str(label)[:64] if label else None,
                message=_trim(str(message)) if message else None,
                data={"method": request.method},
            )
        )
        return web.json_response({"event_id": event.event_id if event else None})

    # What entities show ----------------------------------------------------------------

    def attributes(self) -> dict[str, Any]:
        """The alert sensor's attributes: what the last alert was, and ONVIF's state."""
        last = self.last
        attributes: dict[str, Any] = {
            "source": last.source if last else None,
            "label": last.label if last else None,
            "message": last.message if last else None,
            "time": iso_time(last.time) if last else None,
        }
        if self.onvif is not None:
            attributes["onvif_connected"] = self.onvif.stats.connected
            attributes["onvif_error"] = str(self.onvif_error) if self.onvif_error else None
        return attributes
