"""Build the core's settings (camera, motion, ONVIF, mail route) from a camera subentry."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from homeassistant.const import CONF_NAME, CONF_PASSWORD, CONF_USERNAME

from .const import (
    CONF_CAMERA_ID,
    CONF_DETECT_URL,
    CONF_MAIL_ADDRESS,
    CONF_MAIL_CHANNEL,
    CONF_MAX_CLIP_SECONDS,
    CONF_MOTION_ACTIVE_FPS,
    CONF_MOTION_MASKS,
    CONF_MOTION_MIN_AREA,
    CONF_MOTION_MIN_DURATION,
    CONF_MOTION_SENSITIVITY,
    CONF_MOTION_ZONES,
    CONF_OBJECT_FPS,
    CONF_OBJECT_INTERVAL,
    CONF_OBJECT_LABELS,
    CONF_OBJECT_MASKS,
    CONF_OBJECT_MAX_AREA,
    CONF_OBJECT_MIN_AREA,
    CONF_OBJECT_MIN_FRAMES,
    CONF_OBJECT_MIN_SCORE,
    CONF_OBJECT_MODEL,
    CONF_OBJECTS_ENABLED,
    CONF_ONVIF_EVENTS,
    CONF_ONVIF_HOST,
    CONF_ONVIF_PASSWORD,
    CONF_ONVIF_PORT,
    CONF_ONVIF_USERNAME,
    CONF_POST_ROLL,
    CONF_PRE_ROLL,
    CONF_RETENTION_DAYS,
    CONF_RETENTION_GB,
    CONF_TRANSPORT,
    CONF_URL,
    DEFAULT_MAX_CLIP_SECONDS,
    DEFAULT_ONVIF_PORT,
    DEFAULT_POST_ROLL,
    DEFAULT_PRE_ROLL,
    DEFAULT_TRANSPORT,
)
from .core.alerts.onvif import OnvifCategory, OnvifConfig
from .core.alerts.routing import MailRoute
from .core.models import CameraConfig, MotionConfig, Transport
from .core.objects.types import ObjectConfig
from .core.polygons import parse_masks, parse_zones
from .core.urls import with_credentials

GB = 1_000_000_000


def camera_config_from(data: Mapping[str, Any]) -> CameraConfig:
    """The core's view of one camera subentry (credentials go into the URL here only)."""
    retention_days = float(data.get(CONF_RETENTION_DAYS) or 0)
    retention_gb = float(data.get(CONF_RETENTION_GB) or 0)
    return CameraConfig(
        camera_id=data[CONF_CAMERA_ID],
        name=data[CONF_NAME],
        url=stream_url(data),
        transport=Transport(data.get(CONF_TRANSPORT, DEFAULT_TRANSPORT)),
        pre_roll=float(data.get(CONF_PRE_ROLL, DEFAULT_PRE_ROLL)),
        post_roll=float(data.get(CONF_POST_ROLL, DEFAULT_POST_ROLL)),
        max_clip_seconds=float(data.get(CONF_MAX_CLIP_SECONDS, DEFAULT_MAX_CLIP_SECONDS)),
        retention_days=retention_days or None,
        retention_bytes=round(retention_gb * GB) or None,
        detect_url=stream_url(data, CONF_DETECT_URL) if data.get(CONF_DETECT_URL) else None,
        motion=motion_config_from(data),
    )


def motion_config_from(data: Mapping[str, Any], *, enabled: bool = True) -> MotionConfig:
    """Motion settings of a camera subentry (masks and zones were validated when saved)."""
    defaults = MotionConfig()
    return MotionConfig(
        enabled=enabled,
        sensitivity=float(data.get(CONF_MOTION_SENSITIVITY, defaults.sensitivity)),
        min_area=float(data.get(CONF_MOTION_MIN_AREA, defaults.min_area)),
        min_duration=float(data.get(CONF_MOTION_MIN_DURATION, defaults.min_duration)),
        active_fps=float(data.get(CONF_MOTION_ACTIVE_FPS, defaults.active_fps)),
        masks=parse_masks(data.get(CONF_MOTION_MASKS) or ""),
        zones=parse_zones(data.get(CONF_MOTION_ZONES) or ""),
    )


def object_config_from(data: Mapping[str, Any], *, detector_on: bool = True) -> ObjectConfig:
    """Object settings of a camera subentry; off while the NVR has no detector.

    The form shows the score in percent; the core takes 0-1.
    """
    defaults = ObjectConfig()
    labels = data.get(CONF_OBJECT_LABELS)
    model = str(data.get(CONF_OBJECT_MODEL) or "").strip() or None
    return ObjectConfig(
        enabled=detector_on and bool(data.get(CONF_OBJECTS_ENABLED, True)),
        labels=tuple(labels) if labels is not None else defaults.labels,
        min_score=float(data.get(CONF_OBJECT_MIN_SCORE, defaults.min_score * 100)) / 100,
        min_area=float(data.get(CONF_OBJECT_MIN_AREA, defaults.min_area)),
        max_area=float(data.get(CONF_OBJECT_MAX_AREA, defaults.max_area)),
        masks=parse_masks(data.get(CONF_OBJECT_MASKS) or ""),
        min_frames=int(data.get(CONF_OBJECT_MIN_FRAMES, defaults.min_frames)),
        interval=float(data.get(CONF_OBJECT_INTERVAL, defaults.interval)),
        fps=float(data.get(CONF_OBJECT_FPS, defaults.fps)),
        model_path=model,
    )


def stream_url(data: Mapping[str, Any], key: str = CONF_URL) -> str:
    """The main (or ``key``'s) stream URL with the subentry's credentials in it."""
    return with_credentials(data[key], data.get(CONF_USERNAME) or "", data.get(CONF_PASSWORD) or "")


def onvif_config_from(data: Mapping[str, Any]) -> OnvifConfig:
    """ONVIF settings of a camera; host and credentials default to the stream's."""
    username = data.get(CONF_ONVIF_USERNAME) or data.get(CONF_USERNAME) or None
    password = data.get(CONF_ONVIF_PASSWORD) or data.get(CONF_PASSWORD) or None
    events = data.get(CONF_ONVIF_EVENTS)
    categories = (
        frozenset(OnvifCategory(value) for value in events)
        if events is not None
        else OnvifConfig(host="").categories
    )
    return OnvifConfig(
        host=data.get(CONF_ONVIF_HOST) or urlsplit(data[CONF_URL]).hostname or "",
        port=int(data.get(CONF_ONVIF_PORT) or DEFAULT_ONVIF_PORT),
        username=username,
        password=password,
        categories=categories,
    )


def mail_route_from(data: Mapping[str, Any], name: str) -> MailRoute:
    """Where a camera's alert mail arrives: its address (its id until changed), its channel."""
    return MailRoute(
        camera_id=data[CONF_CAMERA_ID],
        name=name,
        address=str(data.get(CONF_MAIL_ADDRESS) or data[CONF_CAMERA_ID]),
        channel=int(data.get(CONF_MAIL_CHANNEL) or 0) or None,
    )
