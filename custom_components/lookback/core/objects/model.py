"""The bundled model and labels, checksums, and labels files in their common formats."""

from __future__ import annotations

import hashlib
from pathlib import Path
import re
from typing import Final

from .errors import DetectorError, DetectorErrorKind

MODELS_DIR: Final = Path(__file__).resolve().parents[2] / "models"
BUNDLED_MODEL: Final = MODELS_DIR / "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
BUNDLED_LABELS: Final = MODELS_DIR / "coco_labels.txt"
BUNDLED_SHA256: Final = "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd"

_CHUNK = 1 << 20
# "0  person", "0 person", "0:person": an id, then a colon and/or blanks, then the label.
_ID_LINE = re.compile(r"(\d+)\s*[:\s]\s*(\S.*)")
# TensorFlow's label maps mark ids the model never reports (COCO's gaps, the background) so.
_PLACEHOLDER = "???"


def verify_checksum(path: Path, sha256: str) -> None:
    """Raise DetectorError unless the file's SHA-256 is ``sha256`` (a damaged or swapped model).

    Read in chunks: a model can be tens of megabytes and this runs in the event loop's executor.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError as err:
        raise DetectorError(DetectorErrorKind.MODEL_MISSING, f"cannot read {path}: {err}") from err
    if digest.hexdigest() != sha256.lower():
        raise DetectorError(
            DetectorErrorKind.MODEL_CHECKSUM,
            f"{path.name}: SHA-256 {digest.hexdigest()}, expected {sha256.lower()}",
        )


def load_labels(path: Path) -> dict[int, str]:
    """Class id -> label from a labels file.

    Lines are "id  label", "id label" or "id:label", or a bare label whose id is its line number
    (counting every line, as pycoral and Frigate read them). Blank lines and "???" placeholders
    name nothing. Raises DetectorError(LABELS_INVALID) for a missing, unreadable or empty file.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DetectorError(
            DetectorErrorKind.LABELS_INVALID, f"cannot read labels {path}: {err}"
        ) from err
    labels: dict[int, str] = {}
    for number, raw in enumerate(text.splitlines()):
        line = raw.strip()
        match = _ID_LINE.fullmatch(line)
        class_id, label = (int(match[1]), match[2].strip()) if match else (number, line)
        if label and label != _PLACEHOLDER:
            labels[class_id] = label
    if not labels:
        raise DetectorError(DetectorErrorKind.LABELS_INVALID, f"no labels in {path}")
    return labels


def labels_beside(model_path: Path | str) -> Path | None:
    """The labels file of a user's model: same name with .txt, labels.txt, or a *labels*.txt."""
    model_path = Path(model_path)
    folder = model_path.parent
    for candidate in (model_path.with_suffix(".txt"), folder / "labels.txt"):
        if candidate.is_file():
            return candidate
    return next((p for p in sorted(folder.glob("*labels*.txt")) if p.is_file()), None)
