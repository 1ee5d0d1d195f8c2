"""HTTP view that serves stored clips, thumbnails and snapshots.

One view for every stored file, addressed by its path below the storage folder (see
``paths.file_path``). It needs a logged-in user or a path signed with ``async_sign_path`` (the
hub puts signed URLs in bus events, for notifications). Only ``.mp4`` and ``.jpg`` files that
really lie below the storage folder are served: sidecars, unfinished ``.part`` files and
anything a symlink leads out of the folder answer 404.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

from aiohttp import hdrs, web
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import HomeAssistantView

from .const import DOMAIN, FILE_URL_PREFIX

if TYPE_CHECKING:
    from .core.storage import ClipStore
    from .data import LookbackConfigEntry

# Set explicitly: aiohttp guesses from the system's mime.types, which may lack .mp4.
CONTENT_TYPES: Final = {".mp4": "video/mp4", ".jpg": "image/jpeg"}


@callback
def async_register_views(hass: HomeAssistant) -> None:
    """Register the file view (once, from ``async_setup``; it answers 404 until an entry loads)."""
    hass.http.register_view(LookbackFileView(hass))


def servable_file(store: ClipStore, relative: str) -> Path | None:
    """The file to send for ``relative``, or None when it must not be served (file I/O).

    ``ClipStore.resolve`` follows symlinks and refuses anything that ends up outside the
    storage folder; the suffix is checked again on the resolved path so that a link cannot
    lead to a sidecar or an unfinished clip.
    """
    try:
        path = store.resolve(relative)
    except ValueError, OSError:  # leaves the folder, NUL byte, symlink loop
        return None
    if path.suffix not in CONTENT_TYPES or not path.is_file():
        return None
    return path


class LookbackFileView(HomeAssistantView):
    """Serve a stored ``.mp4`` or ``.jpg`` with HTTP ranges (seeking) and conditional GETs."""

    url = FILE_URL_PREFIX + "/{relative:.+}"
    name = "api:lookback:file"
    requires_auth = True

    def __init__(self, hass: HomeAssistant) -> None:
        """Keep ``hass`` to find the loaded entry's store on each request."""
        self.hass = hass

    async def get(self, request: web.Request, relative: str) -> web.StreamResponse:
        """Send the file, or 404 when no entry is loaded or the path is not a stored file."""
        del request  # aiohttp's FileResponse reads Range and If-* headers itself
        entries: list[LookbackConfigEntry] = self.hass.config_entries.async_loaded_entries(DOMAIN)
        # Cheap refusal before any file I/O: only the two kinds of file we store.
        if not entries or PurePosixPath(relative).suffix not in CONTENT_TYPES:
            raise web.HTTPNotFound
        store = entries[0].runtime_data.hub.store
        path = await self.hass.async_add_executor_job(servable_file, store, relative)
        if path is None:
            raise web.HTTPNotFound
        return web.FileResponse(path, headers={hdrs.CONTENT_TYPE: CONTENT_TYPES[path.suffix]})
