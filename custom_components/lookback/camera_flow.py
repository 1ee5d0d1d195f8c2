"""Config subentry flow of a camera: add it, or change its stream, motion or alerts.

A camera is only added after its stream was probed, so a wrong URL, password or codec is
reported in the form, and the user sees what the camera sends before confirming.
"""

from collections.abc import Mapping
from ipaddress import ip_address
import logging
import re
from typing import Any, Final

from homeassistant.components import webhook
from homeassistant.components.network import async_get_source_ip
from homeassistant.config_entries import ConfigEntry, ConfigSubentry, SubentryFlowResult
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.util import slugify

from .camera_config import onvif_config_from
from .config_schemas import (
    alerts_defaults,
    alerts_schema,
    camera_schema,
    motion_defaults,
    motion_schema,
)
from .const import (
    ALERT_KEYS,
    CONF_CAMERA_ID,
    CONF_DETECT_URL,
    CONF_MAIL_ADDRESS,
    CONF_MAIL_CHANNEL,
    CONF_MAX_CLIP_SECONDS,
    CONF_MOTION_MASKS,
    CONF_MOTION_ZONES,
    CONF_ONVIF_ENABLED,
    CONF_ONVIF_EVENTS,
    CONF_ONVIF_HOST,
    CONF_ONVIF_PASSWORD,
    CONF_ONVIF_USERNAME,
    CONF_POST_ROLL,
    CONF_PRE_ROLL,
    CONF_RETENTION_DAYS,
    CONF_RETENTION_GB,
    CONF_SMTP_HOST,
    CONF_SMTP_PORT,
    CONF_SNAPSHOT_URL,
    CONF_TRANSPORT,
    CONF_TRIGGER_ENTITIES,
    CONF_URL,
    CONF_WEBHOOK_ID,
    DEFAULT_MAX_CLIP_SECONDS,
    DEFAULT_POST_ROLL,
    DEFAULT_PRE_ROLL,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_RETENTION_GB,
    DEFAULT_SMTP_HOST,
    DEFAULT_SMTP_PORT,
    DEFAULT_TRANSPORT,
    ONVIF_CHECK_TIMEOUT_S,
    SUBENTRY_CAMERA,
)
from .core.alerts.onvif import OnvifError, OnvifErrorKind, async_check_onvif
from .core.alerts.routing import normalise_name
from .core.errors import SourceError
from .core.polygons import PolygonError, parse_masks, parse_zones
from .core.probe import ProbeResult
from .core.urls import HTTP_SCHEMES, split_credentials, stream_identity, validate_stream_url
from .detector_flow import ObjectsStep
from .flow_probe import async_probe, describe_probe, probe_error_key

_LOGGER = logging.getLogger(__name__)

CAMERA_ID_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CAMERA_ID_MAX_LEN: Final = 64
FALLBACK_CAMERA_ID: Final = "camera"
# The part of an address before "@": printable, no spaces, quotes or angle brackets.
MAIL_LOCAL_PART: Final = re.compile(r'^[^\s@<>"(),;:\[\]\\]{1,64}$')


def camera_id_for(name: str, taken: set[str]) -> str:
    """A folder-safe slug of ``name`` that is not in ``taken`` (``_2``, ``_3``... appended)."""
    base = slugify(name)[:CAMERA_ID_MAX_LEN].strip("_-") if any(c.isalnum() for c in name) else ""
    if not CAMERA_ID_PATTERN.match(base):
        base = FALLBACK_CAMERA_ID
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate = base[: CAMERA_ID_MAX_LEN - len(suffix)] + suffix
        number += 1
    return candidate


def _cameras(entry: ConfigEntry) -> list[ConfigSubentry]:
    return [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_CAMERA]


def _clean_camera_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Every camera field, strings stripped, empty optional ones as ""; URL credentials moved.

    Credentials typed into the URL go to the username/password fields (which win when both
    are given), so the stored URL carries no secret and reauth can replace them.
    """
    data: dict[str, Any] = {
        str(key): user_input.get(str(key), "") for key in camera_schema().schema
    }
    for key in (CONF_NAME, CONF_URL, CONF_DETECT_URL, CONF_SNAPSHOT_URL, CONF_USERNAME):
        data[key] = (data[key] or "").strip()
    data[CONF_PASSWORD] = data[CONF_PASSWORD] or ""
    data[CONF_URL], url_user, url_password = split_credentials(data[CONF_URL])
    if not data[CONF_USERNAME]:
        data[CONF_USERNAME], data[CONF_PASSWORD] = url_user, url_password
    return data


def _url_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """Form errors for URLs that are not rtsp(s)/http(s) with a host (no network access)."""
    errors: dict[str, str] = {}
    for key in (CONF_URL, CONF_DETECT_URL):
        if key == CONF_URL or data[key]:
            try:
                validate_stream_url(data[key])
            except ValueError as err:
                _LOGGER.debug("Invalid %s: %s", key, err)
                errors[key] = "invalid_url"
    if data[CONF_SNAPSHOT_URL]:
        try:
            validate_stream_url(data[CONF_SNAPSHOT_URL], schemes=HTTP_SCHEMES)
        except ValueError as err:
            _LOGGER.debug("Invalid %s: %s", CONF_SNAPSHOT_URL, err)
            errors[CONF_SNAPSHOT_URL] = "invalid_snapshot_url"
    return errors


def _polygon_errors(data: Mapping[str, Any], placeholders: dict[str, str]) -> dict[str, str]:
    """Check the masks, then the zones; the first wrong line becomes the form's error."""
    for key, parse in ((CONF_MOTION_MASKS, parse_masks), (CONF_MOTION_ZONES, parse_zones)):
        try:
            parse(data[key])
        except PolygonError as err:
            placeholders["line"] = str(err.line)
            placeholders["text"] = err.text
            return {key: f"polygon_{err.problem.value}"}
    return {}


def _clean_alerts_input(user_input: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every alert field, cleaned; an empty ONVIF password keeps the stored one.

    An address typed in full (``door@lookback``) keeps its local part: any domain reaches us.
    """
    data: dict[str, Any] = {key: user_input.get(key, stored.get(key)) for key in ALERT_KEYS}
    address = str(data[CONF_MAIL_ADDRESS] or "").strip()
    data[CONF_MAIL_ADDRESS] = address.rpartition("@")[0] if "@" in address else address
    for key in (CONF_ONVIF_HOST, CONF_ONVIF_USERNAME):
        data[key] = str(user_input.get(key) or "").strip()
    data[CONF_ONVIF_PASSWORD] = user_input.get(CONF_ONVIF_PASSWORD) or stored.get(
        CONF_ONVIF_PASSWORD, ""
    )
    data[CONF_MAIL_CHANNEL] = int(data[CONF_MAIL_CHANNEL] or 0)
    data[CONF_TRIGGER_ENTITIES] = list(data[CONF_TRIGGER_ENTITIES] or [])
    data[CONF_ONVIF_EVENTS] = list(data[CONF_ONVIF_EVENTS] or [])
    return data


async def _async_onvif_errors(
    data: Mapping[str, Any], placeholders: dict[str, str]
) -> dict[str, str]:
    """Connect to the camera's ONVIF service as the subscriber will; a form error if not."""
    try:
        await async_check_onvif(onvif_config_from(data), timeout=ONVIF_CHECK_TIMEOUT_S)
    except OnvifError as err:  # the message names no credentials
        placeholders["error"] = str(err)
        return {"base": f"onvif_{err.kind.value}"}
    except Exception:
        _LOGGER.exception("Unexpected error checking ONVIF")
        placeholders["error"] = "unexpected error, see the log"
        return {"base": f"onvif_{OnvifErrorKind.UNKNOWN.value}"}
    return {}


# The subentry flow --------------------------------------------------------------------------


class CameraSubentryFlowHandler(ObjectsStep):
    """Add or change a camera: URLs, credentials and clip settings, probed before saving.

    Its object detection step lives in ObjectsStep (detector_flow.py).
    """

    def __init__(self) -> None:
        """Nothing probed yet."""
        self._data: dict[str, Any] = {}
        self._probe: ProbeResult | None = None
        self._source_ip: str | None = None  # this host's LAN address, for the alerts form

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for a new camera's settings and probe its streams."""
        return await self._async_step_camera("user", None, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose what to change: stream and recording, motion, alerts, or objects."""
        del user_input
        return self.async_show_menu(
            step_id="reconfigure", menu_options=["camera", "motion", "alerts", "objects"]
        )

    async def async_step_camera(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a camera's stream and clip settings (its id stays); probe again first."""
        return await self._async_step_camera("camera", self._get_reconfigure_subentry(), user_input)

    async def async_step_motion(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change motion detection: sensitivity, sizes, timing, masks and zones.

        Masks and zones are lines of relative points; a wrong line is named in the error.
        """
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {
                **user_input,
                CONF_MOTION_MASKS: str(user_input.get(CONF_MOTION_MASKS) or "").strip(),
                CONF_MOTION_ZONES: str(user_input.get(CONF_MOTION_ZONES) or "").strip(),
            }
            errors = _polygon_errors(data, placeholders)
            if not errors:
                return self.async_update_and_abort(
                    self._get_entry(), subentry, data=dict(subentry.data) | data
                )
        values = user_input or (motion_defaults() | dict(subentry.data))
        return self.async_show_form(
            step_id="motion",
            data_schema=self.add_suggested_values_to_schema(motion_schema(), values),
            errors=errors,
            description_placeholders={"name": subentry.title} | placeholders,
        )

    async def async_step_alerts(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change what else starts a clip: alert mail, ONVIF events, HA entities.

        ONVIF is checked against the camera before saving, so a wrong port or password is
        named here rather than in the log.
        """
        subentry = self._get_reconfigure_subentry()
        if self._source_ip is None:
            self._source_ip = await async_get_source_ip(self.hass)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        stored = alerts_defaults(subentry.data[CONF_CAMERA_ID]) | dict(subentry.data)
        if user_input is not None:
            data = _clean_alerts_input(user_input, stored)
            errors = self._mail_errors(data, subentry)
            if not errors and data[CONF_ONVIF_ENABLED] and not data[CONF_ONVIF_EVENTS]:
                errors = {CONF_ONVIF_EVENTS: "onvif_events_empty"}
            if not errors and data[CONF_ONVIF_ENABLED]:
                errors = await _async_onvif_errors(subentry.data | data, placeholders)
            if not errors:
                return self.async_update_and_abort(
                    self._get_entry(), subentry, data=dict(subentry.data) | data
                )
        values = user_input or {k: v for k, v in stored.items() if k != CONF_ONVIF_PASSWORD}
        return self.async_show_form(
            step_id="alerts",
            data_schema=self.add_suggested_values_to_schema(alerts_schema(), values),
            errors=errors,
            description_placeholders={"name": subentry.title}
            | self._alert_placeholders(stored)
            | placeholders,
        )

    def _mail_errors(self, data: Mapping[str, Any], subentry: ConfigSubentry) -> dict[str, str]:
        """A usable address; a DVR channel that no other camera of that address has."""
        address = data[CONF_MAIL_ADDRESS]
        if not MAIL_LOCAL_PART.match(address):
            return {CONF_MAIL_ADDRESS: "invalid_mail_address"}
        channel = data[CONF_MAIL_CHANNEL]
        for camera in _cameras(self._get_entry()):
            if camera.subentry_id == subentry.subentry_id:
                continue
            other = normalise_name(str(camera.data.get(CONF_MAIL_ADDRESS, "")))
            if (
                channel
                and other == normalise_name(address)
                and camera.data.get(CONF_MAIL_CHANNEL) == channel
            ):
                return {CONF_MAIL_CHANNEL: "mail_channel_taken"}
        return {}

    def _alert_placeholders(self, stored: Mapping[str, Any]) -> dict[str, str]:
        """Where the camera sends mail and HTTP notifications, for the form's description."""
        nvr = self._get_entry().data
        webhook_id = str(stored.get(CONF_WEBHOOK_ID) or "")
        try:
            webhook_url = webhook.async_generate_url(self.hass, webhook_id)
        except NoURLAvailableError:  # no URL configured: the path still tells the user
            webhook_url = webhook.async_generate_path(webhook_id)
        host = str(nvr.get(CONF_SMTP_HOST) or DEFAULT_SMTP_HOST)
        if ip_address(host).is_unspecified:  # listening everywhere: the address cameras use
            host = self._source_ip or host
        return {
            "mail_address": f"{stored[CONF_MAIL_ADDRESS]}@lookback",
            "smtp_server": f"{host}:{nvr.get(CONF_SMTP_PORT, DEFAULT_SMTP_PORT)}",
            "webhook_url": webhook_url,
        }

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show what the camera sends; submitting adds it."""
        assert self._probe is not None
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                description_placeholders={"name": self._data[CONF_NAME]}
                | describe_probe(self._probe),
            )
        entry = self._get_entry()
        taken = {str(s.data.get(CONF_CAMERA_ID)) for s in _cameras(entry)}
        camera_id = camera_id_for(self._data[CONF_NAME], taken)
        return self.async_create_entry(
            title=self._data[CONF_NAME],
            data=self._data
            | {
                CONF_CAMERA_ID: camera_id,
                CONF_MAIL_ADDRESS: camera_id,
                CONF_WEBHOOK_ID: webhook.async_generate_id(),
            },
            unique_id=camera_id,
        )

    async def _async_step_camera(
        self, step_id: str, subentry: ConfigSubentry | None, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        """The camera form of both add and reconfigure: validate, probe, then go on."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = _clean_camera_input(user_input)
            if subentry is not None and not data[CONF_PASSWORD]:
                data[CONF_PASSWORD] = subentry.data.get(CONF_PASSWORD, "")  # empty keeps it
            errors = _url_errors(data)
            if not errors:
                if self._url_taken(data[CONF_URL], subentry):  # an error keeps what was typed
                    errors = {CONF_URL: "url_taken"}
                else:
                    errors = await self._async_probe_streams(data, placeholders)
            if not errors:
                if subentry is None:
                    self._data = data
                    return await self.async_step_confirm()
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    title=data[CONF_NAME],
                    # Merged: the motion and alert settings (and the webhook id) stay.
                    data=dict(subentry.data)
                    | data
                    | {CONF_CAMERA_ID: subentry.data[CONF_CAMERA_ID]},
                )
        if user_input is not None:
            values: Mapping[str, Any] = user_input
        elif subentry is not None:  # the stored password is never sent to the browser
            values = {k: v for k, v in subentry.data.items() if k != CONF_PASSWORD}
        else:
            values = self._camera_defaults()
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(camera_schema(), values),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_probe_streams(
        self, data: dict[str, Any], placeholders: dict[str, str]
    ) -> dict[str, str]:
        """Probe the main stream, then the detect stream; errors keyed by form field."""
        probe = await async_probe(self.hass, data, CONF_URL)
        if isinstance(probe, SourceError):  # URL or credentials: the error text says which
            return {"base": probe_error_key(probe, placeholders)}
        self._probe = probe
        if data[CONF_DETECT_URL]:
            detect = await async_probe(self.hass, data, CONF_DETECT_URL)
            if isinstance(detect, SourceError):
                return {CONF_DETECT_URL: probe_error_key(detect, placeholders)}
        return {}

    def _url_taken(self, url: str, subentry: ConfigSubentry | None) -> bool:
        """Whether another camera already records this stream (credentials aside)."""
        identity = stream_identity(url)
        return any(
            stream_identity(str(camera.data.get(CONF_URL, ""))) == identity
            for camera in _cameras(self._get_entry())
            if subentry is None or camera.subentry_id != subentry.subentry_id
        )

    def _camera_defaults(self) -> dict[str, Any]:
        """A new camera's values; clip lengths default to the NVR's."""
        nvr = self._get_entry().data
        return {
            CONF_TRANSPORT: DEFAULT_TRANSPORT,
            CONF_PRE_ROLL: nvr.get(CONF_PRE_ROLL, DEFAULT_PRE_ROLL),
            CONF_POST_ROLL: nvr.get(CONF_POST_ROLL, DEFAULT_POST_ROLL),
            CONF_MAX_CLIP_SECONDS: DEFAULT_MAX_CLIP_SECONDS,
            CONF_RETENTION_DAYS: DEFAULT_RETENTION_DAYS,
            CONF_RETENTION_GB: DEFAULT_RETENTION_GB,
        }
