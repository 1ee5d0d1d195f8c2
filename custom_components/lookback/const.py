"""Constants for the Lookback NVR integration."""

from typing import Final

DOMAIN: Final = "lookback"
NAME: Final = "Lookback NVR"
