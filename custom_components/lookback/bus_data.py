"""The data of Lookback's bus events: the camera's fields, events and clips, ISO times.

One place for what every ``lookback_*`` event carries, so automations see the same fields
from each of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .paths import clip_media_content_id, signed_file_path

if TYPE_CHECKING:
    from .camera_hub import CameraHub
    from .core.models import ClipInfo, Event


def iso_time(timestamp: float) -> str:
    """A wall-clock timestamp as ISO 8601 in UTC."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def camera_fields(camera: CameraHub) -> dict[str, Any]:
    """Which camera: its entity id (users may rename it), id and name."""
    return {
        "camera_entity_id": camera.camera_entity_id,
        "camera_id": camera.camera_id,
        "camera_name": camera.name,
    }


def event_data(camera: CameraHub, event: Event) -> dict[str, Any]:
    """``lookback_event_started`` / ``lookback_event_ended``."""
    return camera_fields(camera) | {
        "event_id": event.event_id,
        "start_time": iso_time(event.first_trigger_time),
        "pre_roll": event.pre_roll,
        "triggers": [trigger.as_dict() for trigger in event.triggers],
        "labels": event.labels,
        "objects": event.objects,
        "media_content_id": clip_media_content_id(camera.camera_id, event.event_id),
    }


def clip_data(camera: CameraHub, clip: ClipInfo) -> dict[str, Any]:
    """``lookback_clip_saved``, with signed URLs of the clip and its thumbnail."""
    event = clip.event
    return camera_fields(camera) | {
        "event_id": clip.event_id,
        "clip_id": clip.clip_id,
        "part": clip.part,
        "start_time": iso_time(clip.start_time),
        "end_time": iso_time(clip.end_time),
        "trigger_time": iso_time(clip.trigger_time),
        "duration": round(clip.duration, 3),
        "size": clip.size,
        "triggers": event.get("triggers", []),
        "labels": event.get("labels", {}),
        "objects": event.get("objects", {}),
        "media_content_id": clip_media_content_id(camera.camera_id, clip.clip_id),
        "clip_url": signed_file_path(camera.hass, clip.path),
        "thumbnail_url": signed_file_path(camera.hass, clip.thumbnail) if clip.thumbnail else None,
    }
