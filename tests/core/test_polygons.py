"""Masks and zones as text: parsing, every refusal with its line, formatting, pixel masks."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.lookback.core.models import Zone
from custom_components.lookback.core.polygons import (
    PolygonError,
    PolygonProblem,
    format_masks,
    format_zones,
    parse_masks,
    parse_zones,
    polygon_area,
    polygon_mask,
    union_mask,
    zone_key,
)

TOP_LEFT = ((0.0, 0.0), (0.4, 0.0), (0.4, 0.2), (0.0, 0.2))
BOTTOM = ((0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0))
LEFT_HALF = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
WHOLE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def test_parse_masks_skips_blank_lines_and_extra_spaces() -> None:
    text = "\n  0,0   0.4,0 0.4,0.2 0,0.2  \n\n   \n0,0.6 1,0.6 1,1 0,1\n"
    assert parse_masks(text) == (TOP_LEFT, BOTTOM)
    assert parse_masks("") == ()
    assert parse_masks(" \n\n ") == ()


def test_masks_round_trip_through_text() -> None:
    text = format_masks((TOP_LEFT, BOTTOM))
    assert text == "0,0 0.4,0 0.4,0.2 0,0.2\n0,0.6 1,0.6 1,1 0,1"
    assert parse_masks(text) == (TOP_LEFT, BOTTOM)
    # text as typed comes back normalised: 1.0 -> 1, 0.50 -> 0.5, one space between points
    assert format_masks(parse_masks("0.0,0.0  1.0,0   0.50,1.0")) == "0,0 1,0 0.5,1"
    assert format_masks(()) == ""


def test_parse_zones_and_round_trip() -> None:
    text = "driveway: 0,0.6 1,0.6 1,1 0,1\n\n  Front door_2 : 0,0 0.4,0 0.4,0.2 0,0.2"
    zones = parse_zones(text)
    assert zones == (Zone("driveway", BOTTOM), Zone("Front door_2", TOP_LEFT))
    formatted = format_zones(zones)
    assert formatted == "driveway: 0,0.6 1,0.6 1,1 0,1\nFront door_2: 0,0 0.4,0 0.4,0.2 0,0.2"
    assert parse_zones(formatted) == zones
    assert parse_zones("\n") == ()
    assert format_zones(()) == ""


def test_zone_names_may_use_letters_of_any_language_dots_and_dashes() -> None:
    zones = parse_zones("Einfahrt-Süd 2.0: 0,0 1,0 1,1\n車庫: 0,0 1,0 0,1")
    assert [zone.name for zone in zones] == ["Einfahrt-Süd 2.0", "車庫"]
    longest = "z" * 40
    assert parse_zones(f"{longest}: 0,0 1,0 1,1")[0].name == longest


@pytest.mark.parametrize(
    ("text", "line", "problem", "offending"),
    [
        ("0,0 1,x 1,1", 1, PolygonProblem.BAD_POINT, "1,x"),
        ("0,0 0.5 1,1", 1, PolygonProblem.BAD_POINT, "0.5"),
        ("0,0 1,0,0 1,1", 1, PolygonProblem.BAD_POINT, "1,0,0"),
        ("0,0 1,0 1,1,", 1, PolygonProblem.BAD_POINT, "1,1,"),
        ("0,0 1;0 1,1", 1, PolygonProblem.BAD_POINT, "1;0"),
        ("0,0 1.5,0 1,1", 1, PolygonProblem.OUT_OF_RANGE, "1.5,0"),
        ("0,0 1,0 1,-0.1", 1, PolygonProblem.OUT_OF_RANGE, "1,-0.1"),
        ("0,0 nan,0 1,1", 1, PolygonProblem.OUT_OF_RANGE, "nan,0"),
        ("0,0 1,inf 1,1", 1, PolygonProblem.OUT_OF_RANGE, "1,inf"),
        ("0,0   1,1 ", 1, PolygonProblem.TOO_FEW_POINTS, "0,0   1,1"),
        ("0,0 0.5,0.5 1,1", 1, PolygonProblem.NO_AREA, "0,0 0.5,0.5 1,1"),
        (
            "0,0 0.005,0 0.005,0.005 0,0.005",
            1,
            PolygonProblem.NO_AREA,
            "0,0 0.005,0 0.005,0.005 0,0.005",
        ),
        # blank lines count: the number is the line the user sees
        ("0,0 1,0 1,1\n\n   \n0,0 2,0 1,1", 4, PolygonProblem.OUT_OF_RANGE, "2,0"),
    ],
)
def test_mask_problems_name_line_and_text(
    text: str, line: int, problem: PolygonProblem, offending: str
) -> None:
    with pytest.raises(PolygonError) as caught:
        parse_masks(text)
    error = caught.value
    assert (error.line, error.problem, error.text) == (line, problem, offending)
    assert str(error) == f"line {line}: {problem.value}: {offending}"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "line", "problem", "offending"),
    [
        ("0,0 1,0 1,1", 1, PolygonProblem.MISSING_NAME, "0,0 1,0 1,1"),
        ("   : 0,0 1,0 1,1", 1, PolygonProblem.MISSING_NAME, ": 0,0 1,0 1,1"),
        ("a/b: 0,0 1,0 1,1", 1, PolygonProblem.BAD_NAME, "a/b"),
        ("-door: 0,0 1,0 1,1", 1, PolygonProblem.BAD_NAME, "-door"),
        ("z" * 41 + ": 0,0 1,0 1,1", 1, PolygonProblem.BAD_NAME, "z" * 41),
        ("Door: 0,0 1,0 1,1\n\ndoor: 0,0 1,0 0,1", 3, PolygonProblem.DUPLICATE_NAME, "door"),
        ("yard: 0,0 1,0 x,1", 1, PolygonProblem.BAD_POINT, "x,1"),
        ("a: 0,0 1,0 1,1\nyard:", 2, PolygonProblem.TOO_FEW_POINTS, ""),
        (
            "a: 0,0 1,0 1,1\nb: 0,0 1,0 1,1\nc: 0,0 1,1 0.5,0.5",
            3,
            PolygonProblem.NO_AREA,
            "0,0 1,1 0.5,0.5",
        ),
    ],
)
def test_zone_problems_name_line_and_text(
    text: str, line: int, problem: PolygonProblem, offending: str
) -> None:
    with pytest.raises(PolygonError) as caught:
        parse_zones(text)
    assert (caught.value.line, caught.value.problem, caught.value.text) == (
        line,
        problem,
        offending,
    )


def test_zone_key_is_lower_case_with_single_underscores() -> None:
    assert zone_key("Front Door 2") == "front_door_2"
    assert zone_key("  --Yard.. ") == "yard"
    assert zone_key("a_b") == "a_b"
    assert zone_key("Straße") == "strasse"  # casefold


def test_zone_names_that_give_one_key_are_duplicates() -> None:
    for other in ("front door", "FRONT_DOOR", "Front-Door", "front  door."):
        with pytest.raises(PolygonError) as caught:
            parse_zones(f"Front door: 0,0 1,0 1,1\n{other}: 0,0 1,0 0,1")
        assert caught.value.problem is PolygonProblem.DUPLICATE_NAME
        assert caught.value.text == other.strip()
        assert caught.value.line == 2


def test_zone_names_in_other_scripts_do_not_collide() -> None:
    text = "車庫: 0,0 1,0 1,1\n庭: 0,0 1,0 0,1"
    try:
        zones = parse_zones(text)
    except PolygonError as error:
        refused: PolygonProblem | None = error.problem
    else:
        refused = None
    if refused is not None:  # refusing such names would be fine too
        assert refused is PolygonProblem.BAD_NAME
        return
    keys = [zone_key(zone.name) for zone in zones]
    assert all(keys)
    assert len(set(keys)) == 2


def test_problem_values_are_translation_key_suffixes() -> None:
    assert {problem.value for problem in PolygonProblem} == {
        "bad_point",
        "out_of_range",
        "too_few_points",
        "no_area",
        "missing_name",
        "bad_name",
        "duplicate_name",
    }


def test_polygon_area() -> None:
    assert polygon_area(WHOLE) == pytest.approx(1.0)
    assert polygon_area(LEFT_HALF) == pytest.approx(0.5)
    assert polygon_area(((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))) == pytest.approx(0.5)
    # the winding does not matter
    assert polygon_area(tuple(reversed(TOP_LEFT))) == pytest.approx(0.08)
    assert polygon_area(((0.0, 0.0), (0.5, 0.5), (1.0, 1.0))) == 0.0


def test_polygon_mask_shape_and_coverage() -> None:
    mask = polygon_mask(LEFT_HALF, 100, 60)
    assert mask.shape == (60, 100)
    assert mask.dtype == np.bool_
    assert mask.mean() == pytest.approx(0.5, abs=0.02)
    assert mask[:, :49].all()
    assert not mask[:, 51:].any()
    # edges included: the whole picture is every pixel, a corner point is its pixel
    assert polygon_mask(WHOLE, 100, 60).all()
    # x = 0 is the first column and x = 1 the last: 0.7 of 11 columns is column 7, included
    right = polygon_mask(((0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.7, 1.0)), 11, 5)
    assert np.nonzero(right.any(axis=0))[0].tolist() == [7, 8, 9, 10]
    lower = polygon_mask(((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)), 11, 5)
    assert np.nonzero(lower.any(axis=1))[0].tolist() == [2, 3, 4]
    bottom = polygon_mask(BOTTOM, 100, 60)
    assert bottom[-1, -1]
    assert not bottom[:35].any()
    assert bottom.mean() == pytest.approx(0.4, abs=0.03)


def test_union_mask() -> None:
    assert not union_mask((), 40, 30).any()
    assert union_mask((), 40, 30).shape == (30, 40)
    top_left = polygon_mask(TOP_LEFT, 200, 100)
    bottom = polygon_mask(BOTTOM, 200, 100)
    both = union_mask((TOP_LEFT, BOTTOM), 200, 100)
    assert np.array_equal(both, top_left | bottom)
    assert both.sum() == top_left.sum() + bottom.sum()  # disjoint
    overlapping = union_mask((LEFT_HALF, BOTTOM), 200, 100)
    assert overlapping.sum() < polygon_mask(LEFT_HALF, 200, 100).sum() + bottom.sum()
    assert overlapping.mean() == pytest.approx(0.5 + 0.4 - 0.2, abs=0.03)
