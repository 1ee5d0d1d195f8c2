"""Addresses of stored files: HTTP paths for the file view and media source ids for clips."""

from datetime import timedelta
from urllib.parse import quote

from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_source.const import URI_SCHEME
from homeassistant.core import HomeAssistant

from .const import DOMAIN, FILE_URL_PREFIX, SIGNED_URL_LIFETIME_S


def file_path(relative: str) -> str:
    """The view's path for a file below the storage folder (needs auth or a signature)."""
    return f"{FILE_URL_PREFIX}/{quote(relative)}"


def signed_file_path(hass: HomeAssistant, relative: str) -> str:
    """A path a notification can open without a login, for a day or until HA restarts.

    Signed for HA's content user, as bus events have no user of their own.
    """
    return async_sign_path(
        hass,
        file_path(relative),
        timedelta(seconds=SIGNED_URL_LIFETIME_S),
        use_content_user=True,
    )


def clip_identifier(camera_id: str, clip_id: str) -> str:
    """The media source identifier of one clip."""
    return f"clip/{camera_id}/{clip_id}"


def clip_media_content_id(camera_id: str, clip_id: str) -> str:
    """``media-source://lookback/clip/<camera>/<clip>``: plays the clip in HA's media browser."""
    return f"{URI_SCHEME}{DOMAIN}/{clip_identifier(camera_id, clip_id)}"
