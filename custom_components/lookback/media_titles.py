"""Titles of clips and folders in the media browser (HA's time zone, plain words)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.util import dt as dt_util

if TYPE_CHECKING:
    from .core.models import ClipInfo


def local(timestamp: float) -> datetime:
    """A timestamp in HA's time zone."""
    return dt_util.as_local(dt_util.utc_from_timestamp(timestamp))


def day_title(day: date) -> str:
    """``Sat 21 Nov 2026``."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def count(number: int, noun: str) -> str:
    """``1 clip``, ``2 clips``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def duration(seconds: float) -> str:
    """``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# Trigger sources as users know them: HA's UI calls services "actions"; mail is "e-mail".
SOURCE_WORDS: Final = {"service": "action", "smtp": "e-mail"}
# Objects get their own part of the title, so "object" is not repeated as a source.
HIDDEN_SOURCES: Final = frozenset({"object"})


def _what(clip: ClipInfo) -> list[str]:
    """Trigger sources (in order, once each; motion with its zones), objects and labels.

    Sidecars are read from disk, so their event data is checked rather than trusted.
    """
    parts: list[str] = []
    triggers = clip.event.get("triggers")
    sources = dict.fromkeys(
        SOURCE_WORDS.get(str(trigger["source"]), str(trigger["source"]))
        for trigger in (triggers if isinstance(triggers, list) else [])
        if isinstance(trigger, dict)
        and trigger.get("source")
        and trigger["source"] not in HIDDEN_SOURCES
    )
    zones = dict.fromkeys(
        str(zone)
        for trigger in (triggers if isinstance(triggers, list) else [])
        if isinstance(trigger, dict) and isinstance(trigger.get("data"), dict)
        for zone in trigger["data"].get("zones") or ()
    )
    if zones and "motion" in sources:  # motion (driveway, porch)
        sources = {
            (f"motion ({', '.join(zones)})" if source == "motion" else source): None
            for source in sources
        }
    if sources:
        parts.append(", ".join(sources))
    objects = _scores(clip.event.get("objects"), lambda value: value.get("score"))
    if objects:  # what detection saw: objects: person 84%, car 71%
        parts.append("objects: " + ", ".join(f"{label} {score:.0%}" for label, score in objects))
    labels = [
        (label, score)
        for label, score in _scores(clip.event.get("labels"), lambda value: value)
        if label not in dict(objects)
    ]
    if labels:
        parts.append(
            ", ".join(f"{label} {score:.2f}" if score else label for label, score in labels)
        )
    if clip.part > 1:  # a long event is split into several files
        parts.append(f"part {clip.part}")
    return parts


def _scores(data: object, score_of: Callable[[Any], object]) -> list[tuple[str, float]]:
    """(label, score) pairs of a sidecar mapping, best first; anything malformed scores 0."""
    if not isinstance(data, dict):
        return []
    pairs: list[tuple[str, float]] = []
    for label, value in data.items():
        try:
            score = score_of(value)
        except AttributeError:  # a sidecar edited by hand
            score = None
        pairs.append((str(label), float(score) if isinstance(score, int | float) else 0.0))
    return sorted(pairs, key=lambda pair: -pair[1])


def clip_title(clip: ClipInfo) -> str:
    """``14:03:21 · 12 s · action, motion · person 0.82`` (local start time)."""
    start = local(clip.start_time)
    return " · ".join([f"{start:%H:%M:%S}", duration(clip.duration), *_what(clip)])


def recent_clip_title(camera_name: str, clip: ClipInfo) -> str:
    """``14:03:21 · Sat 21 Nov · Front door · motion · person 0.82``.

    The time comes first: tiles cut long titles short, and it is what tells clips apart.
    """
    start = local(clip.start_time)
    return " · ".join(
        [f"{start:%H:%M:%S}", f"{start:%a} {start.day} {start:%b}", camera_name, *_what(clip)]
    )
