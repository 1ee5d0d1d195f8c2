"""What an ONVIF camera's events mean: categories, topic rules, messages turned into events.

onvif_parsers (HA's curated per-topic parsers) names the topics it knows and reads their
state; our own rules (``category_for``) map its names, or the topic and data item names for
topics it does not know, to an ``OnvifCategory``.

No I/O here: the subscriber (onvif.py) passes each pulled NotificationMessage to
``event_from_message``, the config flow's check (onvif_connection.py) passes the camera's
GetEventProperties TopicSet to ``announced_categories``.

HA-free: never import homeassistant here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
import logging
import re
from typing import Any, Final

import onvif_parsers
import onvif_parsers.errors

__all__ = [
    "CATEGORY_RULES",
    "DEFAULT_CATEGORIES",
    "TNS1_NAMESPACE",
    "TT_NAMESPACE",
    "WSTOP_TOPIC",
    "OnvifCategory",
    "OnvifEvent",
    "announced_categories",
    "category_for",
    "event_from_message",
    "state_of",
]

_LOGGER = logging.getLogger(__name__)

WSTOP_TOPIC: Final = "{http://docs.oasis-open.org/wsn/t-1}topic"
TT_NAMESPACE: Final = "http://www.onvif.org/ver10/schema"
TNS1_NAMESPACE: Final = "http://www.onvif.org/ver10/topics"
_DATA_ITEMS: Final = "/".join(
    f"{{{TT_NAMESPACE}}}{name}" for name in ("MessageDescription", "Data", "SimpleItemDescription")
)


class OnvifCategory(StrEnum):
    """What a user filters ONVIF events on."""

    MOTION = "motion"
    CELL_MOTION = "cell_motion"
    FIELD_DETECTION = "field_detection"
    LINE_CROSSING = "line_crossing"
    TAMPER = "tamper"
    PERSON = "person"
    VEHICLE = "vehicle"
    OTHER = "other"


DEFAULT_CATEGORIES: Final = frozenset(c for c in OnvifCategory if c is not OnvifCategory.OTHER)


@dataclass(frozen=True, slots=True)
class OnvifEvent:
    """One event message of the camera (an edge: ``active`` rises or falls)."""

    topic: str  # e.g. "tns1:RuleEngine/CellMotionDetector/Motion"
    category: OnvifCategory
    active: bool  # IsMotion/State true: a rising edge; false: the end. Pulses are active.
    time: float  # wall clock (time.time()) when received
    source: dict[str, str]  # Source SimpleItems (VideoSourceConfigurationToken, Rule ...)
    data: dict[str, str]  # Data SimpleItems (IsMotion, State ...)


# Checked in this order on the joined, lower-cased letters and digits of the parser's name, the
# topic and the data item names: specific analytics first, plain motion last, so that
# "CellMotionDetector/People" (Tapo) is a person and "CellMotionDetector/Motion" cell motion.
CATEGORY_RULES: Final[tuple[tuple[OnvifCategory, tuple[str, ...]], ...]] = (
    (OnvifCategory.LINE_CROSSING, ("linecross", "linedetector", "crossed", "tripwire")),
    (
        OnvifCategory.FIELD_DETECTION,
        ("fielddetect", "objectsinside", "isinside", "intrusion", "regionentr", "regionexit"),
    ),
    (OnvifCategory.TAMPER, ("tamper", "scenechange", "defocus", "videoblind", "shelter")),
    (OnvifCategory.PERSON, ("people", "person", "human", "pedestrian", "facedetect")),
    (OnvifCategory.VEHICLE, ("vehicle",)),
    (OnvifCategory.CELL_MOTION, ("cellmotion",)),
    (OnvifCategory.MOTION, ("motion", "vmd")),
)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_TRUE: Final = frozenset({"true", "1", "active", "on"})
_FALSE: Final = frozenset({"false", "0", "inactive", "off"})


def category_for(
    topic: str, item_names: Iterable[str] = (), name: str | None = None
) -> OnvifCategory:
    """The category of a topic, its data item names and onvif_parsers' name for it."""
    text = " ".join(_NOT_ALNUM.sub("", part.lower()) for part in (name or "", topic, *item_names))
    for category, needles in CATEGORY_RULES:
        if any(needle in text for needle in needles):
            return category
    return OnvifCategory.OTHER


def state_of(data: Mapping[str, str]) -> bool:
    """Whether a message's data says "on": its state item (IsMotion, State...), else a pulse.

    A message without a boolean item (a line crossing carries an ObjectId) is a pulse: active.
    """
    for name, value in data.items():
        key, text = name.lower(), value.strip().lower()
        if (key.startswith("is") or key.endswith("state")) and text in _TRUE | _FALSE:
            return text in _TRUE
    for value in data.values():
        if (text := value.strip().lower()) in ("true", "false"):
            return text == "true"
    return True


def _simple_items(item_list: Any) -> dict[str, str]:
    """The SimpleItems of a tt:ItemList (a message's Source or Data) as a dict."""
    items = getattr(item_list, "SimpleItem", None) or []
    return {
        str(item.Name): "" if item.Value is None else str(item.Value)
        for item in items
        if getattr(item, "Name", None) is not None
    }


async def event_from_message(message: Any, received: float) -> OnvifEvent | None:
    """The event in one wsnt:NotificationMessage; None for an Initialized state or no topic."""
    topic_element = getattr(message, "Topic", None)
    raw_topic = getattr(topic_element, "_value_1", None)
    if not isinstance(raw_topic, str) or not raw_topic.strip():
        return None
    # Cameras write "tns1:RuleEngine/CellMotionDetector/Motion//." and variants.
    topic = raw_topic.strip().rstrip("/.")
    payload = getattr(getattr(message, "Message", None), "_value_1", None)
    if getattr(payload, "PropertyOperation", None) == "Initialized":
        return None  # the state at subscribe time, not a change
    source = _simple_items(getattr(payload, "Source", None))
    data = _simple_items(getattr(payload, "Data", None))
    name: str | None = None
    active: bool | None = None
    try:
        entities = await onvif_parsers.parse(topic, "onvif", message)
    except onvif_parsers.errors.UnknownTopicError:
        entities = []
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as err:
        _LOGGER.debug("onvif_parsers could not read %s: %r", topic, err)
        entities = []
    if entities:
        name = entities[0].name
        if entities[0].platform == "binary_sensor" and isinstance(entities[0].value, bool):
            active = entities[0].value
    return OnvifEvent(
        topic=topic,
        category=category_for(topic, data, name),
        active=state_of(data) if active is None else active,
        time=received,
        source=source,
        data=data,
    )


def announced_categories(topic_set: Any) -> tuple[str, ...]:
    """Categories (values, in enum order) of the topics in a GetEventProperties TopicSet.

    zeep leaves the TopicSet's content as lxml elements: a tree of topic nodes, the ones with
    wstop:topic="true" being topics, each with a tt:MessageDescription of its items.
    """
    found: set[OnvifCategory] = set()

    def walk(element: Any, path: str) -> None:
        tag = getattr(element, "tag", None)
        if not isinstance(tag, str):
            return  # a comment or processing instruction
        namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if namespace == TT_NAMESPACE:
            return  # a MessageDescription, not a topic node
        if not path:
            prefix = "tns1:" if namespace == TNS1_NAMESPACE else ""
            topic = f"{prefix}{local}"
        else:
            topic = f"{path}/{local}"
        if str(element.get(WSTOP_TOPIC, "")).lower() in ("true", "1"):
            names = [str(item.get("Name", "")) for item in element.findall(_DATA_ITEMS)]
            found.add(category_for(topic, names))
        for child in element:
            walk(child, topic)

    for root in getattr(topic_set, "_value_1", None) or []:
        walk(root, "")
    return tuple(c.value for c in OnvifCategory if c in found and c is not OnvifCategory.OTHER)
