"""Typed config entry and runtime data of the Lookback NVR integration."""

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry


@dataclass(slots=True)
class LookbackData:
    """What a loaded NVR entry holds while it runs (the Nvr joins here later)."""


type LookbackConfigEntry = ConfigEntry[LookbackData]
