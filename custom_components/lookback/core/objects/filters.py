"""Which detections count: a camera's labels, score, box size and masks.

Masks are tested with the point where an object stands, the bottom centre of its box, not with
the box: a person walking in front of a masked hedge stands on the path and counts, a person on
the neighbour's lawn behind the mask does not, however tall their box. The test is exact
geometry on the polygon, with its edges inside (like the motion masks' pixels), so an object
cut off by the picture's bottom edge is still in a mask drawn along that edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..models import Point
from .types import Detection, ObjectConfig

_EDGE_TOLERANCE = 1e-9  # how far from an edge a point still lies on it (float rounding)


def filter_detections(detections: Iterable[Detection], config: ObjectConfig) -> list[Detection]:
    """The detections a camera's settings keep, in their order.

    Kept: a label in ``config.labels``, a score of at least ``config.min_score``, a box
    covering between ``config.min_area`` and ``config.max_area`` percent of the picture, and a
    bottom centre outside every mask.
    """
    labels = set(config.labels)
    return [
        detection
        for detection in detections
        if detection.label in labels
        and detection.score >= config.min_score
        and config.min_area <= detection.box.area * 100 <= config.max_area
        and not in_any_polygon(detection.box.bottom_centre, config.masks)
    ]


def best_by_label(detections: Iterable[Detection]) -> dict[str, Detection]:
    """Each label's detection with the highest score (the first one on a tie)."""
    best: dict[str, Detection] = {}
    for detection in detections:
        current = best.get(detection.label)
        if current is None or detection.score > current.score:
            best[detection.label] = detection
    return best


def in_any_polygon(point: Point, polygons: Iterable[Sequence[Point]]) -> bool:
    """Whether ``point`` lies in (or on the edge of) any of the polygons."""
    return any(point_in_polygon(point, polygon) for polygon in polygons)


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Whether ``point`` lies inside the simple polygon or on its edge.

    Even-odd ray casting to the right; points on an edge are tested first because the ray test
    alone gives either answer there.
    """
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, [*polygon[1:], *polygon[:1]], strict=True):
        if _on_segment(x, y, x0, y0, x1, y1):
            return True
        if (y0 > y) != (y1 > y):
            crossing = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            if x < crossing:
                inside = not inside
    return inside


def _on_segment(x: float, y: float, x0: float, y0: float, x1: float, y1: float) -> bool:
    cross = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)
    if abs(cross) > _EDGE_TOLERANCE:
        return False
    return (
        min(x0, x1) - _EDGE_TOLERANCE <= x <= max(x0, x1) + _EDGE_TOLERANCE
        and min(y0, y1) - _EDGE_TOLERANCE <= y <= max(y0, y1) + _EDGE_TOLERANCE
    )
