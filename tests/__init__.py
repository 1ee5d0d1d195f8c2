"""Tests for the Lookback NVR integration."""
