"""Listeners: how entities hear that a hub's state changed (push, no polling)."""

from __future__ import annotations

from homeassistant.core import CALLBACK_TYPE, callback


class Listeners:
    """Callbacks entities register to hear that state changed."""

    def __init__(self) -> None:
        """No listener yet."""
        self._update: list[CALLBACK_TYPE] = []

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` on every change until the returned function is called."""
        self._update.append(update)
        return lambda: self._update.remove(update)

    @callback
    def async_notify(self) -> None:
        """Tell every listener to write its state."""
        for update in list(self._update):
            update()
