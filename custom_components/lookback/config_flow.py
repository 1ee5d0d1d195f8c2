"""Config flow for Lookback NVR: the NVR entry and camera reauth.

The single NVR entry holds storage, default clip lengths and the SMTP server; each camera is
a subentry (``camera_flow.py``). Reauth asks for one camera's credentials and probes them.
"""

from collections.abc import Mapping
from ipaddress import ip_address
import logging
from pathlib import Path
from typing import Any, Final, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
)
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback

from .camera_flow import CameraSubentryFlowHandler
from .config_schemas import REAUTH_SCHEMA, nvr_defaults, nvr_schema
from .const import (
    CONF_DETECTOR,
    CONF_DETECTOR_API_KEY,
    CONF_DETECTOR_MODEL,
    CONF_DETECTOR_URL,
    CONF_SMTP_AUTH_WITHOUT_TLS,
    CONF_SMTP_HOST,
    CONF_SMTP_PASSWORD,
    CONF_SMTP_STARTTLS,
    CONF_SMTP_USERNAME,
    CONF_STORAGE_PATH,
    CONF_URL,
    DOMAIN,
    NAME,
    SUBENTRY_CAMERA,
)
from .core.errors import SourceError
from .detector_flow import async_detector_errors
from .flow_probe import async_probe, probe_error_key

_LOGGER = logging.getLogger(__name__)

DETECTOR_KEYS: Final = (
    CONF_DETECTOR,
    CONF_DETECTOR_MODEL,
    CONF_DETECTOR_URL,
    CONF_DETECTOR_API_KEY,
)
# The key in a reauth flow's data that says which camera to sign in again.
REAUTH_SUBENTRY_ID: Final = "subentry_id"
_WRITE_TEST_FILE: Final = ".lookback-write-test"


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


def _smtp_errors(data: Mapping[str, Any]) -> dict[str, str]:
    """SMTP settings that cannot work together: the form says which field to change."""
    try:
        ip_address(data[CONF_SMTP_HOST])
    except ValueError:
        return {CONF_SMTP_HOST: "invalid_bind_address"}
    if data[CONF_SMTP_USERNAME] and not data[CONF_SMTP_PASSWORD]:
        return {CONF_SMTP_PASSWORD: "smtp_password_missing"}
    if (
        data[CONF_SMTP_USERNAME]
        and not data.get(CONF_SMTP_STARTTLS)
        and not data.get(CONF_SMTP_AUTH_WITHOUT_TLS)
    ):
        # Signing in would need TLS that is not offered: no camera could deliver.
        return {CONF_SMTP_AUTH_WITHOUT_TLS: "smtp_auth_needs_tls"}
    return {}


def _without_password(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in (CONF_SMTP_PASSWORD, CONF_DETECTOR_API_KEY)}


# The NVR entry ------------------------------------------------------------------------------


class LookbackConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create and reconfigure the single Lookback NVR entry; sign cameras in again.

    The manifest sets single_config_entry, so HA itself aborts a second flow with
    "single_instance_allowed" before this class runs.
    """

    VERSION = 1
    MINOR_VERSION = 2  # 1.2: cameras have an alert mail address and a webhook id

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
            data = await self._async_validate_nvr(user_input, errors, placeholders, entry.data)
            if not errors:
                # Not async_update_reload_and_abort: the integration's update listener reloads
                # on every change, and HA refuses to schedule a second reload next to one.
                return self.async_update_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=nvr_schema(
                user_input or (nvr_defaults(self.hass) | _without_password(entry.data))
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_validate_nvr(
        self,
        user_input: dict[str, Any],
        errors: dict[str, str],
        placeholders: dict[str, str],
        stored: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resolve the storage folder, check it can be written and the SMTP settings fit.

        Ranges (roll lengths, port) are enforced by the schema's selectors before this runs.
        An empty SMTP password keeps the stored one (it is never sent to the browser).
        """
        # A relative folder is taken relative to HA's config folder; absolute ones stay.
        storage = Path(self.hass.config.path(str(user_input[CONF_STORAGE_PATH]).strip()))
        problem = await self.hass.async_add_executor_job(_check_storage, storage)
        if problem is not None:
            errors[CONF_STORAGE_PATH] = "storage_not_writable"
            placeholders["storage_error"] = problem
        data = user_input | {
            CONF_STORAGE_PATH: str(storage),
            CONF_SMTP_HOST: str(user_input[CONF_SMTP_HOST]).strip(),
            CONF_SMTP_USERNAME: str(user_input.get(CONF_SMTP_USERNAME) or "").strip(),
            CONF_SMTP_PASSWORD: user_input.get(CONF_SMTP_PASSWORD)
            or (stored or {}).get(CONF_SMTP_PASSWORD, ""),
        }
        data[CONF_DETECTOR_API_KEY] = user_input.get(CONF_DETECTOR_API_KEY) or (stored or {}).get(
            CONF_DETECTOR_API_KEY, ""
        )
        for key in (CONF_DETECTOR_MODEL, CONF_DETECTOR_URL):
            data[key] = str(user_input.get(key) or "").strip()
        errors.update(_smtp_errors(data))
        # Loading a model or asking a server is worth it only for a good form, and only when
        # the detector changed: storage or SMTP changes must not wait on a server that is down.
        detector_changed = stored is None or any(
            data.get(key) != stored.get(key) for key in DETECTOR_KEYS
        )
        if not errors and detector_changed:
            errors.update(await async_detector_errors(self.hass, data, placeholders))
        return data

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
            probe = await async_probe(self.hass, data, CONF_URL)
            if isinstance(probe, SourceError):
                errors["base"] = probe_error_key(probe, placeholders)
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
