"""Config flow for Lookback NVR: one NVR entry (cameras become subentries later)."""

from typing import Any, override

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

from .const import DOMAIN, NAME


class LookbackConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create the single Lookback NVR entry.

    The manifest sets single_config_entry, so HA itself aborts a second flow with
    "single_instance_allowed" before this class runs.
    """

    VERSION = 1
    MINOR_VERSION = 1

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm and create the NVR entry."""
        if user_input is not None:
            return self.async_create_entry(title=NAME, data={})
        return self.async_show_form(step_id="user")
