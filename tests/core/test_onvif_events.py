"""ONVIF topics to categories, message data to states, NotificationMessages to events."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from custom_components.lookback.core.alerts import onvif_events
from custom_components.lookback.core.alerts.onvif_events import (
    OnvifCategory,
    announced_categories,
    category_for,
    event_from_message,
    state_of,
)

CELL = "tns1:RuleEngine/CellMotionDetector/Motion"


@pytest.mark.parametrize(
    ("topic", "items", "name", "expected"),
    [
        (CELL, ["IsMotion"], "Cell Motion Detection", OnvifCategory.CELL_MOTION),
        ("tns1:VideoSource/MotionAlarm", ["State"], None, OnvifCategory.MOTION),
        ("tns1:RuleEngine/CellMotionDetector/People", ["IsPeople"], None, OnvifCategory.PERSON),
        (
            "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent",
            ["IsVehicle"],
            None,
            OnvifCategory.VEHICLE,
        ),
        ("tns1:RuleEngine/CellMotionDetector/Tamper", ["IsTamper"], None, OnvifCategory.TAMPER),
        (
            "tns1:RuleEngine/LineCrossDetector/LineCross",
            ["IsLineCross"],
            None,
            OnvifCategory.LINE_CROSSING,
        ),
        (
            "tns1:RuleEngine/CellMotionDetector/Intrusion",
            ["IsIntrusion"],
            None,
            OnvifCategory.FIELD_DETECTION,
        ),
        ("tns1:UserAlarm/IVA/HumanShapeDetect", ["State"], None, OnvifCategory.PERSON),
        (
            "tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1",
            ["active"],
            None,
            OnvifCategory.MOTION,
        ),
        ("tns1:VideoSource/ImageTooDark/ImagingService", ["State"], None, OnvifCategory.OTHER),
        (
            "tns1:Device/Trigger/DigitalInput",
            ["LogicalState"],
            "Digital Input",
            OnvifCategory.OTHER,
        ),
        ("tns1:Monitoring/NetworkInterface/LinkDown", ["State"], None, OnvifCategory.OTHER),
    ],
)
def test_category_rules(
    topic: str, items: list[str], name: str | None, expected: OnvifCategory
) -> None:
    assert category_for(topic, items, name) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"IsMotion": "true"}, True),
        ({"IsMotion": "false"}, False),
        ({"State": "1"}, True),
        ({"LogicalState": "inactive"}, False),
        ({"ObjectId": "0"}, True),  # a pulse: a crossing, not "off"
        ({"Level": "3", "Alarm": "false"}, False),
        ({}, True),
    ],
)
def test_state_of(data: dict[str, str], expected: bool) -> None:
    assert state_of(data) is expected


def _message(topic: Any, payload: Any) -> SimpleNamespace:
    return SimpleNamespace(
        Topic=SimpleNamespace(_value_1=topic), Message=SimpleNamespace(_value_1=payload)
    )


def _item_list(**items: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        SimpleItem=[SimpleNamespace(Name=name, Value=value) for name, value in items.items()]
    )


async def test_event_from_odd_messages() -> None:
    assert await event_from_message(_message(None, None), 1.0) is None
    assert await event_from_message(_message("  ", None), 1.0) is None
    # A known topic whose payload the parser cannot read (no Source): our rules still apply.
    broken = _message(CELL, SimpleNamespace(Source=None, Data=_item_list(IsMotion="false")))
    event = await event_from_message(broken, 2.0)
    assert event is not None
    assert (event.category, event.active, event.source, event.time) == (
        OnvifCategory.CELL_MOTION,
        False,
        {},
        2.0,
    )
    valueless = _message(
        "tns1:Vendor/Thing", SimpleNamespace(Source=_item_list(Source=None), Data=None)
    )
    event = await event_from_message(valueless, 3.0)
    assert event is not None
    assert (event.source, event.data, event.active) == ({"Source": ""}, {}, True)


def test_announced_categories_walks_the_topic_tree() -> None:
    tt, wstop, tns1 = (
        "http://www.onvif.org/ver10/schema",
        "http://docs.oasis-open.org/wsn/t-1",
        onvif_events.TNS1_NAMESPACE,
    )
    rule_engine = ET.Element(f"{{{tns1}}}RuleEngine")
    rule_engine.append(ET.Comment("vendors leave comments"))
    detector = ET.SubElement(rule_engine, "MyRuleDetector")
    topic = ET.SubElement(detector, "SmartThing", {f"{{{wstop}}}topic": "true"})
    description = ET.SubElement(topic, f"{{{tt}}}MessageDescription")
    ET.SubElement(
        ET.SubElement(description, f"{{{tt}}}Data"),
        f"{{{tt}}}SimpleItemDescription",
        Name="IsPeople",
    )
    ET.SubElement(
        ET.SubElement(description, f"{{{tt}}}Source"),
        f"{{{tt}}}SimpleItemDescription",
        Name="LineCrossRule",
    )
    vendor = ET.Element("{http://www.axis.com/2009/event/topics}CameraApplicationPlatform")
    ET.SubElement(ET.SubElement(vendor, "VMD"), "Camera1Profile1", {f"{{{wstop}}}topic": "true"})
    not_a_topic = ET.Element(f"{{{tns1}}}Vehicle")  # no wstop:topic="true"
    topic_set = SimpleNamespace(_value_1=[rule_engine, vendor, not_a_topic])
    assert announced_categories(topic_set) == ("motion", "person")
    assert announced_categories(None) == ()
