"""HA-free tests of custom_components/lookback/core."""
