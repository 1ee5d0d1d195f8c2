"""TFLiteDetector: a post-processed SSD-style .tflite model run by ai-edge-litert on the CPU.

Supported models take one 1 x H x W x 3 picture (uint8, int8 or float32) and end in TFLite's
detection post-processing: four outputs, boxes [1, N, 4] (ymin, xmin, ymax, xmax, 0-1 of the
input), classes [1, N], scores [1, N] and count [1]. That is the bundled MobileNet SSD v2, the
SSD and SSDLite models of TensorFlow's detection zoo exported for TFLite, and EfficientDet-Lite
as Model Maker and TF Hub publish it, whose outputs come in another order (scores, boxes, count,
classes) under other names. Raw heads (YOLO's [1, 84, 8400], SSD without post-processing) would
need their own decoding and non-maximum suppression: they are refused as MODEL_UNSUPPORTED.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import DetectorError, DetectorErrorKind
from .model import load_labels, verify_checksum
from .types import RGB, Box, Detection, Picture

F32 = npt.NDArray[np.float32]

# TFLite's detection post-processing op names its outputs "<op>", "<op>:1", "<op>:2", "<op>:3"
# for boxes, classes, scores and count (the TF1 export). TF2 exports (EfficientDet-Lite) name
# them "StatefulPartitionedCall:<n>" with ":1" the scores and ":2" the classes, the other way
# round, so the suffix is only trusted under the op's own name.
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
# Float inputs get the picture as -1..1 ((p - 127.5) / 127.5): the convention of TensorFlow's
# object detection API, which made the SSD family. Quantised inputs need no convention: their
# integer range is the calibrated input range, so pixels map onto it as they are (uint8) or
# shifted by 128 (int8).
FLOAT_MEAN = 127.5
FLOAT_STD = 127.5


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """What the layout detection needs of one input or output tensor."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type[np.generic]
    scale: float = 0.0
    zero_point: int = 0

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> TensorInfo:
        """From one entry of the interpreter's get_input_details / get_output_details."""
        scale, zero_point = details.get("quantization", (0.0, 0))
        return cls(
            index=int(details["index"]),
            name=str(details["name"]),
            shape=tuple(int(n) for n in details["shape"]),
            dtype=details["dtype"],
            scale=float(scale),
            zero_point=int(zero_point),
        )


@dataclass(frozen=True, slots=True)
class OutputLayout:
    """Which output is which."""

    boxes: TensorInfo
    classes: TensorInfo
    scores: TensorInfo
    count: TensorInfo
    named: bool
    """Classes and scores were told apart by their names; else by their values at each run."""


def output_layout(outputs: Sequence[TensorInfo]) -> OutputLayout:
    """Identify a post-processed detector's outputs by shape (and name), whatever their order.

    Raises DetectorError(MODEL_UNSUPPORTED) naming the shapes found for anything else.
    """
    boxes = [t for t in outputs if len(t.shape) == 3 and t.shape[0] == 1 and t.shape[2] == 4]
    counts = [t for t in outputs if t.shape in {(1,), (1, 1)}]
    rows = boxes[0].shape[1] if len(boxes) == 1 else -1
    pair = [t for t in outputs if t.shape == (1, rows)]
    if len(outputs) != 4 or len(boxes) != 1 or len(counts) != 1 or len(pair) != 2:
        shapes = ", ".join(str(list(t.shape)) for t in outputs)
        raise DetectorError(
            DetectorErrorKind.MODEL_UNSUPPORTED,
            f"outputs {shapes} are not a post-processed detector's "
            "(boxes [1, N, 4], classes [1, N], scores [1, N], count [1])",
        )
    first, second = sorted(pair, key=lambda t: t.name)
    named = first.name == f"{POSTPROCESS_OP}:1" and second.name == f"{POSTPROCESS_OP}:2"
    return OutputLayout(boxes[0], first, second, counts[0], named)


def classes_first(first: F32, second: F32) -> bool:
    """Whether ``first`` holds the class ids and ``second`` the scores, judged by their values.

    Class ids are whole numbers; scores lie within 0-1 and come sorted, highest first. Used
    when the names do not tell (TF2 exports), on the entries below the count.
    """

    def whole(values: F32) -> bool:
        return bool(np.all(values == np.round(values)))

    def score_like(values: F32) -> bool:
        inside = bool(np.all((values >= 0.0) & (values <= 1.0)))
        return inside and bool(np.all(np.diff(values) <= 0.0))

    if whole(first) != whole(second):
        return whole(first)
    # Both whole (nothing found: scores all 0) or neither: the sorted 0-1 series is the scores.
    return not score_like(first) or score_like(second)


def dequantize(values: npt.NDArray[Any], info: TensorInfo) -> F32:
    """An output's real values: quantised outputs scaled back, float ones as they are."""
    if info.scale > 0.0 and np.issubdtype(info.dtype, np.integer):
        return ((values.astype(np.float32) - info.zero_point) * info.scale).astype(np.float32)
    return values.astype(np.float32)


def _to_int8(rgb: RGB) -> npt.NDArray[np.int8]:
    return (rgb.astype(np.int16) - 128).astype(np.int8)


def _to_float(rgb: RGB) -> F32:
    return ((rgb.astype(np.float32) - FLOAT_MEAN) / FLOAT_STD).astype(np.float32)


Converter = Callable[[RGB], npt.NDArray[Any]]


def input_converter(info: TensorInfo) -> tuple[int, int, Converter | None]:
    """Check the input is one RGB picture; its height, width and the pixel conversion."""
    shape, dtype = info.shape, info.dtype
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or min(shape) < 1:
        raise DetectorError(
            DetectorErrorKind.MODEL_UNSUPPORTED,
            f"input {list(shape)} is not one RGB picture (1 x H x W x 3)",
        )
    converters: dict[type[np.generic], Converter | None] = {
        np.uint8: None,
        np.int8: _to_int8,
        np.float32: _to_float,
    }
    if dtype not in converters:
        raise DetectorError(
            DetectorErrorKind.MODEL_UNSUPPORTED,
            f"input type {np.dtype(dtype).name} (uint8, int8 or float32 expected)",
        )
    return shape[1], shape[2], converters[dtype]


class TFLiteDetector:
    """A .tflite detector on the CPU; the Detector protocol of ``types``. Not thread-safe."""

    def __init__(
        self,
        model_path: Path | str,
        labels_path: Path | str | None,
        *,
        num_threads: int = 2,
        expected_sha256: str | None = None,
    ) -> None:
        """Load and check the model, its labels and its layout; run it once.

        Raises DetectorError: MODEL_MISSING, MODEL_CHECKSUM (``expected_sha256`` given and not
        matched), LABELS_INVALID (``labels_path`` None or a bad file), RUNTIME_MISSING
        (ai-edge-litert, installed on demand, is not there), MODEL_INVALID (the runtime cannot
        load or run it) or MODEL_UNSUPPORTED (not a post-processed detector).
        """
        path = Path(model_path)
        if not path.is_file():
            raise DetectorError(DetectorErrorKind.MODEL_MISSING, f"no model file at {path}")
        if expected_sha256 is not None:
            verify_checksum(path, expected_sha256)
        if labels_path is None:  # labels_beside found none for a user's model
            raise DetectorError(
                DetectorErrorKind.LABELS_INVALID, f"no labels file beside {path.name}"
            )
        self._labels = load_labels(Path(labels_path))
        self._name = f"tflite {path.stem}"
        try:
            # Imported here: the runtime is optional, installed when detection is enabled.
            from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]
        except ImportError as err:
            raise DetectorError(
                DetectorErrorKind.RUNTIME_MISSING, f"ai-edge-litert is not installed: {err}"
            ) from err
        try:
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:  # not a flatbuffer, unknown custom op, ...
            raise DetectorError(
                DetectorErrorKind.MODEL_INVALID, f"{path.name} does not load: {err}"
            ) from err
        inputs = [TensorInfo.from_details(d) for d in interpreter.get_input_details()]
        if len(inputs) != 1:
            raise DetectorError(
                DetectorErrorKind.MODEL_UNSUPPORTED, f"{len(inputs)} inputs (one picture expected)"
            )
        self._input = inputs[0]
        height, width, self._convert = input_converter(self._input)
        self._size = (width, height)
        outputs = [TensorInfo.from_details(d) for d in interpreter.get_output_details()]
        self._layout = output_layout(outputs)
        self._interpreter: Any = interpreter
        self.last_inference_ms: float | None = None
        """The last run of the model itself (not the picture's scaling), in milliseconds."""
        # A first run: a model that loads but cannot run is refused now, not at the first
        # motion, and the runtime's one-off preparation is not counted as an inference.
        self._invoke(np.zeros((height, width, 3), np.uint8))
        self.last_inference_ms = None

    @property
    def name(self) -> str:
        """What it is, for diagnostics."""
        return self._name

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label it can report, in class id order."""
        return tuple(dict.fromkeys(self._labels[i] for i in sorted(self._labels)))

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input picture: width, height."""
        return self._size

    def detect(self, picture: Picture, region: Box) -> list[Detection]:
        """Objects in ``region`` of ``picture``, boxes relative to the whole picture.

        Every detection under the model's count with a known label, whatever its score (the
        camera's minimum score is the filters' business).
        """
        self._invoke(picture.rgb(region, self._size))
        layout = self._layout
        boxes = self._output(layout.boxes)[0]
        classes = self._output(layout.classes).reshape(-1)
        scores = self._output(layout.scores).reshape(-1)
        count = min(len(scores), max(0, round(float(self._output(layout.count).reshape(-1)[0]))))
        if not layout.named and not classes_first(classes[:count], scores[:count]):
            classes, scores = scores, classes
        found: list[Detection] = []
        for row in range(count):
            label = self._labels.get(round(float(classes[row])))
            box = _on_picture(region, boxes[row])
            if label is not None and box is not None:
                found.append(Detection(label, float(scores[row]), box))
        return found

    def close(self) -> None:
        """Free the interpreter (its tensors and threads)."""
        self._interpreter = None

    def _invoke(self, rgb: RGB) -> None:
        """Feed one picture and run the model; a runtime failure is a DetectorError."""
        if self._interpreter is None:
            raise DetectorError(DetectorErrorKind.MODEL_INVALID, f"{self._name} is closed")
        pixels = rgb if self._convert is None else self._convert(rgb)
        try:
            self._interpreter.set_tensor(self._input.index, pixels[np.newaxis])
            started = time.perf_counter()
            self._interpreter.invoke()
            self.last_inference_ms = (time.perf_counter() - started) * 1000.0
        except (ValueError, RuntimeError) as err:
            raise DetectorError(
                DetectorErrorKind.MODEL_INVALID, f"{self._name} failed to run: {err}"
            ) from err

    def _output(self, info: TensorInfo) -> F32:
        return dequantize(np.asarray(self._interpreter.get_tensor(info.index)), info)


def _on_picture(region: Box, row: F32) -> Box | None:
    """A model box (ymin, xmin, ymax, xmax of the region) on the whole picture, clamped to it.

    None when nothing of it is left inside.
    """
    ymin, xmin, ymax, xmax = (float(v) for v in row)
    x0 = min(1.0, max(0.0, region.x + xmin * region.width))
    x1 = min(1.0, max(0.0, region.x + xmax * region.width))
    y0 = min(1.0, max(0.0, region.y + ymin * region.height))
    y1 = min(1.0, max(0.0, region.y + ymax * region.height))
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(x0, y0, x1 - x0, y1 - y0)
