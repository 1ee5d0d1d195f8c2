"""filter_detections, best_by_label and the point-in-polygon test behind masks."""

from __future__ import annotations

import pytest

from custom_components.lookback.core.models import Point
from custom_components.lookback.core.objects.filters import (
    best_by_label,
    filter_detections,
    in_any_polygon,
    point_in_polygon,
)
from custom_components.lookback.core.objects.types import Box, Detection, ObjectConfig
from custom_components.lookback.core.polygons import parse_masks, polygon_mask

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
# A concave "U": the notch between the arms (x 0.4-0.6, y 0-0.6) is outside.
U_SHAPE = (
    (0.2, 0.0),
    (0.4, 0.0),
    (0.4, 0.6),
    (0.6, 0.6),
    (0.6, 0.0),
    (0.8, 0.0),
    (0.8, 0.8),
    (0.2, 0.8),
)
BOTTOM_STRIP = parse_masks("0,0.8 1,0.8 1,1 0,1")[0]


def det(label: str = "person", score: float = 0.8, box: Box | None = None) -> Detection:
    return Detection(label, score, box or Box(0.4, 0.3, 0.2, 0.4))


def test_keeps_only_configured_labels_and_scores() -> None:
    config = ObjectConfig(labels=("person", "car"), min_score=0.6)
    kept = filter_detections(
        [det("person", 0.6), det("person", 0.59), det("car", 0.9), det("dog", 0.99)], config
    )
    assert kept == [det("person", 0.6), det("car", 0.9)]


def test_box_area_bounds_are_percent_of_the_picture() -> None:
    config = ObjectConfig(min_area=1.0, max_area=50.0, min_score=0.0)
    tiny = det(box=Box(0.5, 0.5, 0.05, 0.1))  # 0.5 %
    small = det(box=Box(0.5, 0.5, 0.1, 0.1))  # 1 %
    half = det(box=Box(0.0, 0.0, 0.5, 1.0))  # 50 %
    huge = det(box=Box(0.0, 0.0, 0.8, 1.0))  # 80 %: a whole-picture false positive
    assert filter_detections([tiny, small, half, huge], config) == [small, half]


def test_masks_use_the_bottom_centre_of_the_box() -> None:
    config = ObjectConfig(masks=(SQUARE,), min_score=0.0)
    standing_in_mask = det(box=Box(0.3, 0.0, 0.2, 0.5))  # feet at (0.4, 0.5)
    head_in_mask = det(box=Box(0.3, 0.3, 0.2, 0.5))  # box overlaps, feet at (0.4, 0.8)
    assert filter_detections([standing_in_mask, head_in_mask], config) == [head_in_mask]


def test_an_object_cut_off_by_the_bottom_edge_is_in_a_bottom_mask() -> None:
    config = ObjectConfig(masks=(SQUARE, BOTTOM_STRIP), min_score=0.0)
    close_to_camera = det(box=Box(0.3, 0.5, 0.4, 0.5))  # feet at (0.5, 1.0), on the edge
    assert filter_detections([close_to_camera], config) == []


def test_no_masks_and_nothing_given() -> None:
    assert filter_detections([], ObjectConfig()) == []
    assert filter_detections([det()], ObjectConfig(masks=())) == [det()]


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((0.3, 0.4), True),  # left arm
        ((0.7, 0.4), True),  # right arm
        ((0.5, 0.3), False),  # in the notch
        ((0.5, 0.7), True),  # the base
        ((0.5, 0.6), True),  # on the notch's bottom edge
        ((0.2, 0.5), True),  # on the left edge
        ((0.8, 0.0), True),  # a vertex
        ((0.9, 0.4), False),
        ((0.1, 0.4), False),
        ((0.5, 0.9), False),
        ((0.5, 0.0), False),  # on the line of the top edges, in the notch
        ((1.0, 0.0), False),  # further along that line
    ],
)
def test_point_in_a_concave_polygon(point: Point, inside: bool) -> None:
    assert point_in_polygon(point, U_SHAPE) is inside


def test_agrees_with_the_rasterised_mask() -> None:
    """Away from the edges, the exact test and the motion masks' pixels agree."""
    size = 101
    mask = polygon_mask(U_SHAPE, size, size)
    for row in range(2, size - 2, 3):
        for col in range(2, size - 2, 3):
            x, y = col / (size - 1), row / (size - 1)
            near_edge = any(
                point_in_polygon((x + dx, y + dy), U_SHAPE) != point_in_polygon((x, y), U_SHAPE)
                for dx in (-0.011, 0.011)
                for dy in (-0.011, 0.011)
            )
            if not near_edge:
                assert bool(mask[row, col]) is point_in_polygon((x, y), U_SHAPE), (x, y)


def test_in_any_polygon() -> None:
    assert in_any_polygon((0.5, 0.9), (SQUARE, BOTTOM_STRIP))
    assert not in_any_polygon((0.9, 0.1), (SQUARE, BOTTOM_STRIP))
    assert not in_any_polygon((0.5, 0.5), ())


def test_best_by_label_keeps_the_highest_score_and_the_first_on_a_tie() -> None:
    first = det("person", 0.7, Box(0, 0, 0.1, 0.1))
    tie = det("person", 0.7, Box(0.5, 0.5, 0.1, 0.1))
    car = det("car", 0.5)
    best_car = det("car", 0.9)
    assert best_by_label([first, car, tie, best_car]) == {"person": first, "car": best_car}
    assert best_by_label([]) == {}
