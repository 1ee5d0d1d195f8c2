"""Typed config entry and runtime data of the Lookback NVR integration."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .hub import LookbackHub


@dataclass(slots=True)
class LookbackData:
    """What a loaded NVR entry holds while it runs."""

    hub: LookbackHub


type LookbackConfigEntry = ConfigEntry[LookbackData]
