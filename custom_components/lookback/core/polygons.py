"""Masks and zones as text (one polygon per line), their validation and their pixel masks.

The options form takes polygons as lines of relative ``x,y`` points, e.g. a mask
``0,0 0.4,0 0.4,0.2 0,0.2`` (top-left strip) or a zone ``driveway: 0,0.6 1,0.6 1,1 0,1``.
Errors name the line and the reason so the form can say exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
import re

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from .models import Point, Zone

ZONE_NAME_RE = re.compile(r"^[\w][\w .\-]{0,39}$")
MIN_POINTS = 3
MIN_AREA = 1e-4  # of the picture: a polygon smaller than this is a typo, not a region

Polygon = tuple[Point, ...]
BoolMask = npt.NDArray[np.bool_]


class PolygonProblem(StrEnum):
    """Why a polygon line was refused (also the translation key's suffix)."""

    BAD_POINT = "bad_point"
    OUT_OF_RANGE = "out_of_range"
    TOO_FEW_POINTS = "too_few_points"
    NO_AREA = "no_area"
    MISSING_NAME = "missing_name"
    BAD_NAME = "bad_name"
    DUPLICATE_NAME = "duplicate_name"


class PolygonError(ValueError):
    """A line of polygon text that is not a valid polygon."""

    def __init__(self, line: int, problem: PolygonProblem, text: str) -> None:
        """``line`` counts from 1; ``text`` is the offending part as typed."""
        super().__init__(f"line {line}: {problem.value}: {text}")
        self.line = line
        self.problem = problem
        self.text = text


def parse_masks(text: str) -> tuple[Polygon, ...]:
    """Mask polygons from text: one polygon per line, blank lines ignored."""
    return tuple(_parse_polygon(line, number) for number, line in _lines(text))


def parse_zones(text: str) -> tuple[Zone, ...]:
    """Zones from text: ``name: x,y x,y x,y`` per line, names unique (see ``zone_key``)."""
    zones: list[Zone] = []
    seen: set[str] = set()
    for number, line in _lines(text):
        name, sep, points = line.partition(":")
        name = name.strip()
        if not sep or not name:
            raise PolygonError(number, PolygonProblem.MISSING_NAME, line)
        if not ZONE_NAME_RE.match(name):
            raise PolygonError(number, PolygonProblem.BAD_NAME, name)
        key = zone_key(name)
        if key in seen:
            raise PolygonError(number, PolygonProblem.DUPLICATE_NAME, name)
        seen.add(key)
        zones.append(Zone(name, _parse_polygon(points, number)))
    return tuple(zones)


def zone_key(name: str) -> str:
    """What makes a zone name unique: lower case, runs of non-word characters as one ``_``.

    Entity ids are made the same way, so two zones never compete for one.
    """
    return re.sub(r"[\W_]+", "_", name.casefold()).strip("_")


def format_masks(masks: Iterable[Polygon]) -> str:
    """Masks back to the text the form shows."""
    return "\n".join(_format_polygon(polygon) for polygon in masks)


def format_zones(zones: Iterable[Zone]) -> str:
    """Zones back to the text the form shows."""
    return "\n".join(f"{zone.name}: {_format_polygon(zone.polygon)}" for zone in zones)


def polygon_mask(polygon: Polygon, width: int, height: int) -> BoolMask:
    """The pixels of a ``width`` x ``height`` picture inside the polygon (edges included)."""
    image = Image.new("1", (width, height), 0)
    ImageDraw.Draw(image).polygon(
        [(x * (width - 1), y * (height - 1)) for x, y in polygon], fill=1, outline=1
    )
    return np.asarray(image, dtype=np.bool_)


def union_mask(polygons: Iterable[Polygon], width: int, height: int) -> BoolMask:
    """The pixels inside any of the polygons."""
    mask = np.zeros((height, width), dtype=np.bool_)
    for polygon in polygons:
        mask |= polygon_mask(polygon, width, height)
    return mask


def polygon_area(polygon: Polygon) -> float:
    """Area of a simple polygon (shoelace formula), as a fraction of the picture."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def _lines(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def _parse_polygon(text: str, line: int) -> Polygon:
    points: list[Point] = []
    for token in text.split():
        parts = token.split(",")
        try:
            x, y = (float(part) for part in parts)
        except ValueError:
            raise PolygonError(line, PolygonProblem.BAD_POINT, token) from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise PolygonError(line, PolygonProblem.OUT_OF_RANGE, token)
        points.append((x, y))
    if len(points) < MIN_POINTS:
        raise PolygonError(line, PolygonProblem.TOO_FEW_POINTS, text.strip())
    polygon = tuple(points)
    if polygon_area(polygon) < MIN_AREA:
        raise PolygonError(line, PolygonProblem.NO_AREA, text.strip())
    return polygon


def _format_polygon(polygon: Polygon) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in polygon)
