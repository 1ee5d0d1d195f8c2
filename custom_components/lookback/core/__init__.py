"""Lookback's recording core: no Home Assistant imports, publishable on its own."""
