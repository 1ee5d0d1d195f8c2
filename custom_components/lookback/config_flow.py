"""Config flow for Lookback NVR: the NVR entry, its camera subentries and camera reauth.

The single NVR entry holds storage, default clip lengths and the SMTP trigger; each camera is
a subentry. A camera is only added after its stream was probed, so a wrong URL, password or
codec is reported in the form, and the user sees what the camera sends before confirming.
"""

from collections.abc import Mapping
import logging
from pathlib import Path
import re
from typing import Any, Final, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import slugify

from .config_schemas import (
    REAUTH_SCHEMA,
    camera_schema,
    motion_defaults,
    motion_schema,
    nvr_defaults,
    nvr_schema,
)
from .const import (
    CONF_CAMERA_ID,
    CONF_DETECT_URL,
    CONF_MAX_CLIP_SECONDS,
    CONF_MOTION_MASKS,
    CONF_MOTION_ZONES,
    CONF_POST_ROLL,
    CONF_PRE_ROLL,
    CONF_RETENTION_DAYS,
    CONF_RETENTION_GB,
    CONF_SMTP_HOST,
    CONF_SNAPSHOT_URL,
    CONF_STORAGE_PATH,
    CONF_TRANSPORT,
    CONF_URL,
    DEFAULT_MAX_CLIP_SECONDS,
    DEFAULT_POST_ROLL,
    DEFAULT_PRE_ROLL,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_RETENTION_GB,
    DEFAULT_TRANSPORT,
    DOMAIN,
    NAME,
    PROBE_TIMEOUT_S,
    SUBENTRY_CAMERA,
)
from .core.errors import SourceError, SourceErrorKind
from .core.models import Transport
from .core.polygons import PolygonError, parse_masks, parse_zones
from .core.probe import ProbeResult, probe_source
from .core.urls import (
    HTTP_SCHEMES,
    split_credentials,
    stream_identity,
    validate_stream_url,
    with_credentials,
)

_LOGGER = logging.getLogger(__name__)

CAMERA_ID_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CAMERA_ID_MAX_LEN: Final = 64
FALLBACK_CAMERA_ID: Final = "camera"
# The key in a reauth flow's data that says which camera to sign in again.
REAUTH_SUBENTRY_ID: Final = "subentry_id"
_WRITE_TEST_FILE: Final = ".lookback-write-test"

# Probe failures the user can act on; the form shows their own translated error.
PROBE_ERRORS: Final = frozenset(
    {
        SourceErrorKind.AUTH_FAILED,
        SourceErrorKind.NOT_FOUND,
        SourceErrorKind.UNREACHABLE,
        SourceErrorKind.TIMEOUT,
        SourceErrorKind.NOT_VIDEO,
        SourceErrorKind.UNSUPPORTED_CODEC,
    }
)
_VIDEO_CODECS: Final = {"h264": "H.264", "hevc": "H.265"}
_AUDIO_CODECS: Final = {
    "aac": "AAC",
    "pcm_alaw": "G.711 A-law",
    "pcm_mulaw": "G.711 µ-law",
    "adpcm_g726": "G.726",
    "opus": "Opus",
}
_MISSING: Final = "—"  # a language-neutral "not seen" inside translated text


# Helpers --------------------------------------------------------------------------------------


def _check_storage(path: Path) -> str | None:
    """Create the folder and write a file in it (blocking); return why that failed, or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        test_file = path / _WRITE_TEST_FILE
        test_file.write_bytes(b"")
        test_file.unlink()
    except OSError as err:
        return err.strerror or str(err)
    return None


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


async def _async_probe(
    hass: HomeAssistant, data: Mapping[str, Any], url_key: str
) -> ProbeResult | SourceError:
    """Probe one of the camera's URLs with its credentials: what it sends, or why it failed."""
    url = with_credentials(
        data[url_key], data.get(CONF_USERNAME) or "", data.get(CONF_PASSWORD) or ""
    )
    transport = Transport(data.get(CONF_TRANSPORT, DEFAULT_TRANSPORT))
    try:
        return await hass.async_add_executor_job(probe_source, url, transport, PROBE_TIMEOUT_S)
    except SourceError as err:  # the message is already credential-free
        _LOGGER.debug("Probe of %s failed: %s", url_key, err)
        return err
    except Exception:
        _LOGGER.exception("Unexpected error probing a camera")
        return SourceError(SourceErrorKind.UNKNOWN, "unexpected error, see the log")


def _error_key(error: SourceError, placeholders: dict[str, str]) -> str:
    """The form error for a failed probe; FFmpeg's own (redacted) words go to ``{error}``."""
    placeholders["error"] = str(error.args[0])
    return error.kind.value if error.kind in PROBE_ERRORS else "unknown"


def _describe(probe: ProbeResult) -> dict[str, str]:
    """The confirm step's placeholders: what the main stream sends."""
    resolution = f"{probe.width}x{probe.height}" if probe.width and probe.height else _MISSING
    audio = probe.audio_codec
    return {
        "video_codec": _VIDEO_CODECS.get(probe.video_codec, probe.video_codec),
        "resolution": resolution,
        "fps": _number_text(probe.fps),
        "keyframe_interval": (
            f"{_number_text(probe.keyframe_interval_s)} s"
            if probe.keyframe_interval_s
            else _MISSING
        ),
        "audio": _AUDIO_CODECS.get(audio, audio.upper()) if audio else _MISSING,
    }


def _number_text(value: float | None) -> str:
    """At most one decimal, none when whole: 25, 30, 1.5 (a measured 9.89 fps reads 9.9)."""
    if not value:
        return _MISSING
    return f"{value:.1f}".rstrip("0").rstrip(".")


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


# The NVR entry ------------------------------------------------------------------------------


class LookbackConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create and reconfigure the single Lookback NVR entry; sign cameras in again.

    The manifest sets single_config_entry, so HA itself aborts a second flow with
    "single_instance_allowed" before this class runs.
    """

    VERSION = 1
    MINOR_VERSION = 1

    _reauth_subentry_id: str | None = None

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Cameras are subentries of the NVR entry."""
        return {SUBENTRY_CAMERA: CameraSubentryFlowHandler}

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask where to store clips, the default clip lengths and the SMTP trigger."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = await self._async_validate_nvr(user_input, errors, placeholders)
            if not errors:
                return self.async_create_entry(title=NAME, data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=nvr_schema(user_input or nvr_defaults(self.hass)),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the NVR settings; the entry reloads through its update listener."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = await self._async_validate_nvr(user_input, errors, placeholders)
            if not errors:
                # Not async_update_reload_and_abort: the integration's update listener reloads
                # on every change, and HA refuses to schedule a second reload next to one.
                return self.async_update_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=nvr_schema(user_input or (nvr_defaults(self.hass) | dict(entry.data))),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_validate_nvr(
        self, user_input: dict[str, Any], errors: dict[str, str], placeholders: dict[str, str]
    ) -> dict[str, Any]:
        """Resolve the storage folder and check it can be written; fill ``errors`` if not.

        Ranges (roll lengths, port) are enforced by the schema's selectors before this runs.
        """
        # A relative folder is taken relative to HA's config folder; absolute ones stay.
        storage = Path(self.hass.config.path(str(user_input[CONF_STORAGE_PATH]).strip()))
        problem = await self.hass.async_add_executor_job(_check_storage, storage)
        if problem is not None:
            errors[CONF_STORAGE_PATH] = "storage_not_writable"
            placeholders["storage_error"] = problem
        return user_input | {
            CONF_STORAGE_PATH: str(storage),
            CONF_SMTP_HOST: str(user_input[CONF_SMTP_HOST]).strip(),
        }

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """A camera refused its credentials; ``entry_data`` names it (async_start_camera_reauth)."""
        self._reauth_subentry_id = entry_data.get(REAUTH_SUBENTRY_ID)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the camera's username and password, probe, then store them."""
        entry = self._get_reauth_entry()
        subentry = entry.subentries.get(self._reauth_subentry_id or "")
        if subentry is None:  # not a camera reauth, or the camera was removed meanwhile
            return self.async_abort(reason="camera_not_found")
        errors: dict[str, str] = {}
        placeholders = {"camera": subentry.title}
        if user_input is not None:
            data = dict(subentry.data) | {
                CONF_USERNAME: (user_input.get(CONF_USERNAME) or "").strip(),
                CONF_PASSWORD: user_input.get(CONF_PASSWORD) or "",
            }
            probe = await _async_probe(self.hass, data, CONF_URL)
            if isinstance(probe, SourceError):
                errors["base"] = _error_key(probe, placeholders)
            else:
                changed = self.hass.config_entries.async_update_subentry(entry, subentry, data=data)
                # A change reloads the entry through its update listener. Unchanged credentials
                # that work now (the camera was fixed instead): reload to retry it at once.
                if not changed:
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_abort(reason="reauth_successful")
        suggested = user_input or {CONF_USERNAME: subentry.data.get(CONF_USERNAME, "")}
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(REAUTH_SCHEMA, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )


@callback
def async_start_camera_reauth(hass: HomeAssistant, entry: ConfigEntry, subentry_id: str) -> None:
    """Ask the user to sign one camera in again (its stream answered 401 or 403).

    HA runs at most one reauth flow per entry: while one is open, this does nothing. That
    flow reloads the entry when it succeeds, and a camera that still fails asks again then.
    """
    subentry = entry.subentries.get(subentry_id)
    if subentry is None:
        return
    entry.async_start_reauth(
        hass,
        context={"title_placeholders": {"name": subentry.title}},
        data={REAUTH_SUBENTRY_ID: subentry_id},
    )


# Camera subentries --------------------------------------------------------------------------


class CameraSubentryFlowHandler(ConfigSubentryFlow):
    """Add or change a camera: URLs, credentials and clip settings, probed before saving."""

    def __init__(self) -> None:
        """Nothing probed yet."""
        self._data: dict[str, Any] = {}
        self._probe: ProbeResult | None = None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for a new camera's settings and probe its streams."""
        return await self._async_step_camera("user", None, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose what to change: the stream and recording, or motion detection."""
        del user_input
        return self.async_show_menu(step_id="reconfigure", menu_options=["camera", "motion"])

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

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Show what the camera sends; submitting adds it."""
        assert self._probe is not None
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                description_placeholders={"name": self._data[CONF_NAME]} | _describe(self._probe),
            )
        entry = self._get_entry()
        taken = {str(s.data.get(CONF_CAMERA_ID)) for s in _cameras(entry)}
        camera_id = camera_id_for(self._data[CONF_NAME], taken)
        return self.async_create_entry(
            title=self._data[CONF_NAME],
            data=self._data | {CONF_CAMERA_ID: camera_id},
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
                    data=data | {CONF_CAMERA_ID: subentry.data[CONF_CAMERA_ID]},
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
        probe = await _async_probe(self.hass, data, CONF_URL)
        if isinstance(probe, SourceError):  # URL or credentials: the error text says which
            return {"base": _error_key(probe, placeholders)}
        self._probe = probe
        if data[CONF_DETECT_URL]:
            detect = await _async_probe(self.hass, data, CONF_DETECT_URL)
            if isinstance(detect, SourceError):
                return {CONF_DETECT_URL: _error_key(detect, placeholders)}
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
