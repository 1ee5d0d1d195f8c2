"""Build translations/en.json from strings.json, resolving ``[%key:...%]`` references.

HA resolves these references only for its core integrations; a custom integration ships the
resolved English text. Run ``scripts/translations``; tests/test_translations.py checks it.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import homeassistant

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components" / "lookback"
STRINGS = INTEGRATION / "strings.json"
ENGLISH = INTEGRATION / "translations" / "en.json"
REFERENCE = re.compile(r"\[%key:([^%]+)%\]")


def _lookup(reference: str, ours: dict[str, Any], common: dict[str, Any]) -> str:
    """``common::...`` from HA's strings, ``component::lookback::...`` from ours."""
    parts = reference.split("::")
    node: Any = common
    if parts[:2] == ["component", "lookback"]:
        node, parts = ours, parts[2:]
    for part in parts:
        node = node[part]
    if not isinstance(node, str):
        msg = f"reference {reference} does not name a string"
        raise TypeError(msg)
    return node


def resolved(value: Any, ours: dict[str, Any], common: dict[str, Any]) -> Any:
    """``value`` with every reference replaced by its (itself resolved) text."""
    if isinstance(value, dict):
        return {key: resolved(item, ours, common) for key, item in value.items()}
    if isinstance(value, str):
        return REFERENCE.sub(
            lambda match: resolved(_lookup(match.group(1), ours, common), ours, common), value
        )
    return value


def english() -> str:
    """The text en.json must have."""
    ours = json.loads(STRINGS.read_text(encoding="utf-8"))
    common_file = Path(homeassistant.__file__).parent / "strings.json"
    common = json.loads(common_file.read_text(encoding="utf-8"))
    return json.dumps(resolved(ours, ours, common), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    ENGLISH.write_text(english(), encoding="utf-8")
