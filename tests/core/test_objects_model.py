"""The bundled model's files, checksums, labels files and finding a user model's labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from custom_components.lookback.core.objects.errors import DetectorError, DetectorErrorKind
from custom_components.lookback.core.objects.model import (
    BUNDLED_LABELS,
    BUNDLED_MODEL,
    BUNDLED_SHA256,
    MODELS_DIR,
    labels_beside,
    load_labels,
    verify_checksum,
)


def test_bundled_files_ship_next_to_core() -> None:
    """The model and labels sit in custom_components/lookback/models/ with their NOTICE."""
    repo = Path(__file__).resolve().parents[2]
    assert repo / "custom_components/lookback/models" == MODELS_DIR
    assert BUNDLED_MODEL.stat().st_size == 6_175_408
    assert (MODELS_DIR / "NOTICE").is_file()
    verify_checksum(BUNDLED_MODEL, BUNDLED_SHA256)
    verify_checksum(BUNDLED_MODEL, BUNDLED_SHA256.upper())


def test_bundled_labels_are_coco() -> None:
    """80 COCO labels with their model ids, sparse up to 89."""
    labels = load_labels(BUNDLED_LABELS)
    assert len(labels) == 80
    assert labels[0] == "person"
    assert labels[2] == "car"
    assert labels[16] == "cat"
    assert labels[89] == "toothbrush"
    assert 11 not in labels  # COCO's gaps stay gaps


def test_checksum_mismatch(tmp_path: Path) -> None:
    """One byte changed is a MODEL_CHECKSUM error naming both digests."""
    damaged = tmp_path / "model.tflite"
    data = bytearray(BUNDLED_MODEL.read_bytes())
    data[1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(DetectorError) as caught:
        verify_checksum(damaged, BUNDLED_SHA256)
    assert caught.value.kind is DetectorErrorKind.MODEL_CHECKSUM
    assert BUNDLED_SHA256 in caught.value.message
    assert hashlib.sha256(bytes(data)).hexdigest() in caught.value.message


def test_checksum_of_a_missing_file(tmp_path: Path) -> None:
    """No file: MODEL_MISSING, not a checksum mismatch."""
    with pytest.raises(DetectorError) as caught:
        verify_checksum(tmp_path / "gone.tflite", BUNDLED_SHA256)
    assert caught.value.kind is DetectorErrorKind.MODEL_MISSING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0  person\n1  bicycle\n3  motorcycle\n", {0: "person", 1: "bicycle", 3: "motorcycle"}),
        ("0 person\n2 car\n", {0: "person", 2: "car"}),
        ("0:person\n5: bus\n7 :truck\n", {0: "person", 5: "bus", 7: "truck"}),
        ("1  traffic light\n10 fire hydrant", {1: "traffic light", 10: "fire hydrant"}),
        # Plain labels: the line number is the id, blank lines included (pycoral's reading).
        ("person\nbicycle\n\ncar\n", {0: "person", 1: "bicycle", 3: "car"}),
        # TensorFlow's label maps: "???" marks ids the model never reports.
        ("???\nperson\n???\ncar\n", {1: "person", 3: "car"}),
        ("\ufeffperson\r\ncat\r\n", {0: "person", 1: "cat"}),  # BOM and CRLF (Windows editors)
        ("  person  \n\n\n", {0: "person"}),
    ],
)
def test_labels_formats(tmp_path: Path, text: str, expected: dict[int, str]) -> None:
    """Every common labels format reads to the same id -> label map."""
    path = tmp_path / "labels.txt"
    path.write_bytes(text.encode())
    assert load_labels(path) == expected


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"???\n???\n", b"\xff\xfe\x00garbage\xc3"])
def test_labels_empty_or_unreadable(tmp_path: Path, content: bytes) -> None:
    """Nothing to name (or not text) is LABELS_INVALID."""
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    with pytest.raises(DetectorError) as caught:
        load_labels(path)
    assert caught.value.kind is DetectorErrorKind.LABELS_INVALID


def test_labels_missing(tmp_path: Path) -> None:
    """A missing file (or a folder) is LABELS_INVALID."""
    for path in (tmp_path / "none.txt", tmp_path):
        with pytest.raises(DetectorError) as caught:
            load_labels(path)
        assert caught.value.kind is DetectorErrorKind.LABELS_INVALID


def test_labels_beside(tmp_path: Path) -> None:
    """Same stem .txt first, then labels.txt, then the first *labels*.txt; else None."""
    model = tmp_path / "yard.tflite"
    model.write_bytes(b"model")
    assert labels_beside(model) is None
    (tmp_path / "notes.txt").write_text("not labels")
    (tmp_path / "labels.d").mkdir()
    assert labels_beside(model) is None
    (tmp_path / "z_labels.txt").write_text("person")
    (tmp_path / "coco_labels.txt").write_text("person")
    assert labels_beside(model) == tmp_path / "coco_labels.txt"
    (tmp_path / "labels.txt").write_text("person")
    assert labels_beside(model) == tmp_path / "labels.txt"
    (tmp_path / "yard.txt").write_text("person")
    assert labels_beside(model) == tmp_path / "yard.txt"
    assert labels_beside(str(model)) == tmp_path / "yard.txt"  # the config holds a string


def test_labels_beside_skips_folders(tmp_path: Path) -> None:
    """A folder named like a labels file is not one."""
    (tmp_path / "my_labels.txt").mkdir()
    (tmp_path / "labels.txt").mkdir()
    assert labels_beside(tmp_path / "m.tflite") is None
