"""Probing a camera's stream for the config flows: what it sends, or a form error.

Shared by adding and changing a camera and by camera reauth; tests replace ``probe_source``.
"""

from collections.abc import Mapping
import logging
from typing import Any, Final

from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .const import CONF_TRANSPORT, DEFAULT_TRANSPORT, PROBE_TIMEOUT_S
from .core.errors import SourceError, SourceErrorKind
from .core.models import Transport
from .core.probe import ProbeResult, probe_source
from .core.urls import with_credentials

_LOGGER = logging.getLogger(__name__)

# Probe failures the user can act on; the form shows their own translated error.
PROBE_ERRORS: Final = frozenset(
    {
        SourceErrorKind.AUTH_FAILED,
        SourceErrorKind.NOT_FOUND,
        SourceErrorKind.UNREACHABLE,
        SourceErrorKind.TIMEOUT,
        SourceErrorKind.NOT_VIDEO,
        SourceErrorKind.UNSUPPORTED_CODEC,
    }
)
_VIDEO_CODECS: Final = {"h264": "H.264", "hevc": "H.265"}
_AUDIO_CODECS: Final = {
    "aac": "AAC",
    "pcm_alaw": "G.711 A-law",
    "pcm_mulaw": "G.711 µ-law",
    "adpcm_g726": "G.726",
    "opus": "Opus",
}
_MISSING: Final = "—"  # a language-neutral "not seen" inside translated text


async def async_probe(
    hass: HomeAssistant, data: Mapping[str, Any], url_key: str
) -> ProbeResult | SourceError:
    """Probe one of the camera's URLs with its credentials: what it sends, or why it failed."""
    url = with_credentials(
        data[url_key], data.get(CONF_USERNAME) or "", data.get(CONF_PASSWORD) or ""
    )
    transport = Transport(data.get(CONF_TRANSPORT, DEFAULT_TRANSPORT))
    try:
        return await hass.async_add_executor_job(probe_source, url, transport, PROBE_TIMEOUT_S)
    except SourceError as err:  # the message is already credential-free
        _LOGGER.debug("Probe of %s failed: %s", url_key, err)
        return err
    except Exception:
        _LOGGER.exception("Unexpected error probing a camera")
        return SourceError(SourceErrorKind.UNKNOWN, "unexpected error, see the log")


def probe_error_key(error: SourceError, placeholders: dict[str, str]) -> str:
    """The form error for a failed probe; FFmpeg's own (redacted) words go to ``{error}``."""
    placeholders["error"] = str(error.args[0])
    return error.kind.value if error.kind in PROBE_ERRORS else "unknown"


def describe_probe(probe: ProbeResult) -> dict[str, str]:
    """The confirm step's placeholders: what the main stream sends."""
    resolution = f"{probe.width}x{probe.height}" if probe.width and probe.height else _MISSING
    audio = probe.audio_codec
    return {
        "video_codec": _VIDEO_CODECS.get(probe.video_codec, probe.video_codec),
        "resolution": resolution,
        "fps": _number_text(probe.fps),
        "keyframe_interval": (
            f"{_number_text(probe.keyframe_interval_s)} s"
            if probe.keyframe_interval_s
            else _MISSING
        ),
        "audio": _AUDIO_CODECS.get(audio, audio.upper()) if audio else _MISSING,
    }


def _number_text(value: float | None) -> str:
    """At most one decimal, none when whole: 25, 30, 1.5 (a measured 9.89 fps reads 9.9)."""
    if not value:
        return _MISSING
    return f"{value:.1f}".rstrip("0").rstrip(".")
