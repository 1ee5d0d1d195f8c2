"""The Lookback NVR integration: records camera clips with pre-roll."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .data import LookbackConfigEntry, LookbackData

PLATFORMS: tuple[Platform, ...] = ()


async def async_setup_entry(hass: HomeAssistant, entry: LookbackConfigEntry) -> bool:
    """Set up the NVR from its config entry."""
    entry.runtime_data = LookbackData()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: LookbackConfigEntry) -> bool:
    """Unload the NVR entry and its platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
