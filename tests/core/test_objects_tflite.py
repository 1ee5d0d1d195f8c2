"""TFLiteDetector: real inference of the bundled model on real photographs, and model layouts.

The photographs are scikit-image's, read from the installed wheel's data folder. Other model
layouts (EfficientDet-Lite's output order and names, float and int8 inputs, quantised outputs,
a raw SSD head, an unknown custom op, two inputs) are real .tflite files too: twins of the
bundled model rewritten with the TFLite flatbuffer schema that ai-edge-litert ships, so they
load and run in the same runtime without TensorFlow. Only the cases a real model cannot be made
to show (a count below the rows, boxes off the picture) use a stand-in interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
import sys
from typing import Any

from ai_edge_litert import schema_py_generated as schema  # type: ignore[import-untyped]
import av
import flatbuffers  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from PIL import Image
import pytest

from custom_components.lookback.core.objects.errors import DetectorError, DetectorErrorKind
from custom_components.lookback.core.objects.model import (
    BUNDLED_LABELS,
    BUNDLED_MODEL,
    BUNDLED_SHA256,
)
from custom_components.lookback.core.objects.picture import (
    FramePicture,
    ImagePicture,
    square_region,
)
from custom_components.lookback.core.objects.tflite import (
    TensorInfo,
    TFLiteDetector,
    classes_first,
    dequantize,
    input_converter,
    output_layout,
)
from custom_components.lookback.core.objects.types import FULL_FRAME, RGB, Box, Detection
from tests.sim.media import OBJECT_CROP, _photo

F32 = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def detector() -> Iterator[TFLiteDetector]:
    """The bundled model, checksum verified, as the NVR loads it."""
    loaded = TFLiteDetector(BUNDLED_MODEL, BUNDLED_LABELS, expected_sha256=BUNDLED_SHA256)
    yield loaded
    loaded.close()


def best(detections: list[Detection], label: str) -> Detection | None:
    """The highest-scoring detection of ``label``."""
    return max((d for d in detections if d.label == label), key=lambda d: d.score, default=None)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    h = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    inter = max(0.0, w) * max(0.0, h)
    return inter / (a.area + b.area - inter)


def yuv_picture(image: Image.Image) -> FramePicture:
    """A picture as the NVR gets it from a decoder: a yuv420p av.VideoFrame."""
    rgb = av.VideoFrame.from_ndarray(np.asarray(image, dtype=np.uint8), format="rgb24")
    return FramePicture(rgb.reformat(format="yuv420p"))


def pasted(image: Image.Image, size: tuple[int, int], at: tuple[int, int]) -> Image.Image:
    """``image`` on a plain grey canvas of ``size`` with its top-left corner ``at``."""
    canvas = Image.new("RGB", size, (128, 128, 128))
    canvas.paste(image, at)
    return canvas


def relative(left: int, top: int, width: int, height: int, size: tuple[int, int]) -> Box:
    """A pixel rectangle as a Box of a ``size`` picture."""
    return Box(left / size[0], top / size[1], width / size[0], height / size[1])


# --- the bundled model on photographs ------------------------------------------------------------


def test_bundled_detector_describes_itself(detector: TFLiteDetector) -> None:
    """Name, input size and labels, for diagnostics and the config flow."""
    assert detector.name == "tflite mobilenet_ssd_v2_coco_quant_postprocess"
    assert detector.input_size == (300, 300)
    assert len(detector.labels) == 80
    assert detector.labels[:3] == ("person", "bicycle", "car")
    assert {"cat", "dog", "truck", "motorcycle"} <= set(detector.labels)


@pytest.mark.parametrize(
    ("photo", "label", "floor", "where"),
    [
        # Measured with this model: person 0.73, cat 0.88, motorcycle 0.97, horse 0.93, cup
        # 0.93. ``where``: the object as drawn by hand on the photograph.
        ("astronaut.png", "person", 0.6, Box(0.0, 0.0, 0.72, 1.0)),
        ("chelsea.png", "cat", 0.8, Box(0.0, 0.0, 0.9, 1.0)),
        ("motorcycle_left.png", "motorcycle", 0.9, Box(0.15, 0.13, 0.77, 0.78)),
        ("horse.png", "horse", 0.85, Box(0.03, 0.0, 0.94, 0.97)),
        ("coffee.png", "cup", 0.85, Box(0.28, 0.03, 0.41, 0.72)),
    ],
)
def test_photographs(
    detector: TFLiteDetector, photo: str, label: str, floor: float, where: Box
) -> None:
    """The main object of each photograph is found, with a sound score, where it is."""
    found = detector.detect(ImagePicture(_photo(photo)), FULL_FRAME)
    hit = best(found, label)
    assert hit is not None, found
    assert hit.score >= floor
    assert iou(hit.box, where) >= 0.75, hit.box
    assert detector.last_inference_ms is not None
    assert detector.last_inference_ms > 0.0
    for detection in found:
        box = detection.box
        assert 0.0 <= box.x < box.x + box.width <= 1.0
        assert 0.0 <= box.y < box.y + box.height <= 1.0
        assert 0.0 <= detection.score <= 1.0


def test_noise_finds_nothing_sure(detector: TFLiteDetector) -> None:
    """Random pixels give nothing at the default minimum score (0.6)."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        found = detector.detect(ImagePicture(Image.fromarray(noise)), FULL_FRAME)
        assert all(d.score < 0.6 for d in found), found


def test_crop_finds_a_small_person_the_full_frame_misses(detector: TFLiteDetector) -> None:
    """A small person far away is found in the crop around their motion, not in the frame.

    160 px tall in a 1080p frame: squeezed whole into 300x300 they are 44 px tall and not sure
    (0.5 measured); the square around their motion box shows them at 160 px.
    """
    person = _photo("astronaut.png").crop(OBJECT_CROP).resize((106, 160), Image.Resampling.LANCZOS)
    size = (1920, 1080)
    picture = yuv_picture(pasted(person, size, (1400, 700)))
    placed = relative(1400, 700, 106, 160, size)
    full = best(detector.detect(picture, FULL_FRAME), "person")
    assert full is None or full.score < 0.6
    region = square_region([placed], *size)
    assert region.width * size[0] == pytest.approx(300)
    cropped = best(detector.detect(picture, region), "person")
    assert cropped is not None
    assert cropped.score >= 0.8
    assert full is None or cropped.score > full.score + 0.2
    # The box is on the whole picture, on the person: inside the pasted photo, most of it.
    box = cropped.box
    assert placed.x - 0.005 <= box.x
    assert box.x + box.width <= placed.x + placed.width + 0.005
    assert placed.y - 0.005 <= box.y
    assert box.y + box.height <= placed.y + placed.height + 0.005
    assert box.area >= 0.5 * placed.area


def test_region_boxes_map_back_to_the_picture(detector: TFLiteDetector) -> None:
    """The cat found in a crop lands where the cat is in the whole picture."""
    cat = _photo("chelsea.png")  # 451 x 300
    alone = best(detector.detect(ImagePicture(cat), FULL_FRAME), "cat")
    assert alone is not None
    size = (1920, 1080)
    placed = relative(900, 350, cat.width, cat.height, size)
    picture = ImagePicture(pasted(cat, size, (900, 350)))
    region = square_region([placed], *size, padding=0.1)
    found = best(detector.detect(picture, region), "cat")
    assert found is not None
    expected = Box(
        placed.x + alone.box.x * placed.width,
        placed.y + alone.box.y * placed.height,
        alone.box.width * placed.width,
        alone.box.height * placed.height,
    )
    assert iou(found.box, expected) >= 0.85


def test_frame_and_still_agree(detector: TFLiteDetector) -> None:
    """A decoded video frame and the still it was made of give the same detection."""
    image = _photo("motorcycle_left.png").resize((1280, 720), Image.Resampling.LANCZOS)
    for region in (FULL_FRAME, Box(0.1, 0.05, 0.7, 0.9)):
        still = best(detector.detect(ImagePicture(image), region), "motorcycle")
        frame = best(detector.detect(yuv_picture(image), region), "motorcycle")
        assert still is not None
        assert frame is not None
        assert frame.score == pytest.approx(still.score, abs=0.1)
        assert iou(frame.box, still.box) >= 0.9


def test_labels_file_limits_what_is_reported(tmp_path: Path) -> None:
    """Class ids the labels file does not name are dropped."""
    labels = tmp_path / "person.txt"
    labels.write_text("0  person\n")
    only_people = TFLiteDetector(BUNDLED_MODEL, labels)
    assert only_people.labels == ("person",)
    assert all(
        d.label == "person"
        for photo in ("chelsea.png", "astronaut.png", "coffee.png")
        for d in only_people.detect(ImagePicture(_photo(photo)), FULL_FRAME)
    )
    astronaut = only_people.detect(ImagePicture(_photo("astronaut.png")), FULL_FRAME)
    assert best(astronaut, "person") is not None
    only_people.close()


# --- other layouts: twins of the bundled model -------------------------------------------------


def twin(path: Path, edit: Callable[[Any], None]) -> Path:
    """The bundled model with ``edit`` applied to its object tree (schema.ModelT), saved."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(BUNDLED_MODEL.read_bytes(), 0))
    edit(model)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def _new_tensor(
    model: Any, name: bytes, shape: list[int], kind: int, quantization: tuple[float, int] | None
) -> int:
    """Add a tensor (with an empty buffer) to the graph; its index."""
    graph = model.subgraphs[0]
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.type = name, shape, kind
    model.buffers.append(schema.BufferT())
    tensor.buffer = len(model.buffers) - 1
    if quantization is not None:
        params = schema.QuantizationParametersT()
        params.scale, params.zeroPoint = [quantization[0]], [quantization[1]]
        tensor.quantization = params
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _quantize_op(model: Any, source: int, target: int) -> Any:
    """A QUANTIZE operator (float -> int, or int8 <-> uint8) from one tensor to another."""
    code = schema.BuiltinOperator.QUANTIZE
    model.operatorCodes.append(
        schema.OperatorCodeT(deprecatedBuiltinCode=min(code, 127), builtinCode=code, version=2)
    )
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = len(model.operatorCodes) - 1, [source], [target]
    return op


def efficientdet_order(model: Any) -> None:
    """The outputs in EfficientDet-Lite's order and names (Model Maker, TF Hub).

    Scores, boxes, count, classes, named StatefulPartitionedCall:1, :3, :0 and :2, as
    tensorflow/tensorflow#44481 shows them.
    """
    graph = model.subgraphs[0]
    boxes, classes, scores, count = graph.outputs
    graph.outputs = [scores, boxes, count, classes]
    for index, suffix in ((scores, 1), (boxes, 3), (count, 0), (classes, 2)):
        graph.tensors[index].name = f"StatefulPartitionedCall:{suffix}".encode()


def input_of(kind: int, quantization: tuple[float, int] | None) -> Callable[[Any], None]:
    """The picture taken as ``kind`` and quantised to the model's uint8 input by a QUANTIZE op."""

    def edit(model: Any) -> None:
        graph = model.subgraphs[0]
        picture = _new_tensor(model, b"picture", [1, 300, 300, 3], kind, quantization)
        graph.operators.insert(0, _quantize_op(model, picture, graph.inputs[0]))
        graph.inputs = [picture]

    return edit


def quantised_scores(model: Any) -> None:
    """The scores output as uint8 (scale 1/256), as fully quantised exports give it."""
    graph = model.subgraphs[0]
    scores = graph.outputs[2]
    graph.tensors[scores].name = b"scores_float"
    out = _new_tensor(
        model, b"TFLite_Detection_PostProcess:2", [1, 20], schema.TensorType.UINT8, (1 / 256, 0)
    )
    graph.operators.append(_quantize_op(model, scores, out))
    graph.outputs = [graph.outputs[0], graph.outputs[1], out, graph.outputs[3]]


def raw_head(model: Any) -> None:
    """SSD without post-processing: box encodings [1, 1917, 4] and class scores [1, 1917, 91]."""
    graph = model.subgraphs[0]
    names = {bytes(t.name): i for i, t in enumerate(graph.tensors)}
    graph.outputs = [names[b"Squeeze"], names[b"convert_scores"]]


def custom_op(model: Any) -> None:
    """The post-processing op renamed to one this runtime lacks (as Edge TPU models have)."""
    for code in model.operatorCodes:
        if code.customCode is not None:
            code.customCode = b"edgetpu-custom-op"


def two_inputs(model: Any) -> None:
    """A second input (unused) beside the picture."""
    graph = model.subgraphs[0]
    extra = _new_tensor(model, b"threshold", [1], schema.TensorType.FLOAT32, None)
    graph.inputs = [graph.inputs[0], extra]


@pytest.fixture(scope="module")
def chelsea_by_bundled(detector: TFLiteDetector) -> list[Detection]:
    """What the bundled model finds on the cat photograph: what every twin must find."""
    return detector.detect(ImagePicture(_photo("chelsea.png")), FULL_FRAME)


@pytest.mark.parametrize(
    ("name", "edit", "tolerance"),
    [
        ("efficientdet_order", efficientdet_order, 1e-6),
        # (p - 127.5) / 127.5 requantised by 128 is p give or take one level: scores move a bit.
        ("float_input", input_of(schema.TensorType.FLOAT32, None), 0.05),
        ("int8_input", input_of(schema.TensorType.INT8, (1 / 128, 0)), 1e-6),
        ("quantised_scores", quantised_scores, 1 / 256),
    ],
)
def test_other_layouts_find_the_same(
    tmp_path: Path,
    chelsea_by_bundled: list[Detection],
    name: str,
    edit: Callable[[Any], None],
    tolerance: float,
) -> None:
    """Output order, names, input type and output quantisation do not change the answer.

    The float twin takes -1..1 and the int8 twin p - 128: if the detector fed them otherwise,
    the QUANTIZE op in front would hand the network another picture and the cat would change.
    """
    model = TFLiteDetector(twin(tmp_path / f"{name}.tflite", edit), BUNDLED_LABELS)
    assert model.name == f"tflite {name}"
    found = model.detect(ImagePicture(_photo("chelsea.png")), FULL_FRAME)
    model.close()
    sure = [d for d in found if d.score >= 0.3]
    expected = [d for d in chelsea_by_bundled if d.score >= 0.3]
    assert [d.label for d in sure] == [d.label for d in expected] == ["cat"]
    for got, want in zip(sure, expected, strict=True):
        assert got.score == pytest.approx(want.score, abs=tolerance)
        assert iou(got.box, want.box) >= 0.95


def test_raw_ssd_head_is_unsupported(tmp_path: Path) -> None:
    """A model without post-processing loads but is refused, naming what it has."""
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(twin(tmp_path / "raw.tflite", raw_head), BUNDLED_LABELS)
    assert caught.value.kind is DetectorErrorKind.MODEL_UNSUPPORTED
    assert "[1, 1917, 4], [1, 1917, 91]" in caught.value.message


def test_two_inputs_are_unsupported(tmp_path: Path) -> None:
    """One picture in, nothing else."""
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(twin(tmp_path / "two.tflite", two_inputs), BUNDLED_LABELS)
    assert caught.value.kind is DetectorErrorKind.MODEL_UNSUPPORTED
    assert "2 inputs" in caught.value.message


def test_unknown_custom_op_is_invalid(tmp_path: Path) -> None:
    """An Edge TPU build (a custom op this runtime does not have) does not load."""
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(twin(tmp_path / "tpu.tflite", custom_op), BUNDLED_LABELS)
    assert caught.value.kind is DetectorErrorKind.MODEL_INVALID
    assert "edgetpu-custom-op" in caught.value.message


# --- errors ---------------------------------------------------------------------------------------


def test_missing_model(tmp_path: Path) -> None:
    """No file: MODEL_MISSING."""
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(tmp_path / "none.tflite", BUNDLED_LABELS)
    assert caught.value.kind is DetectorErrorKind.MODEL_MISSING


def test_garbage_model(tmp_path: Path) -> None:
    """A file that is not a TFLite flatbuffer: MODEL_INVALID."""
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(garbage, BUNDLED_LABELS)
    assert caught.value.kind is DetectorErrorKind.MODEL_INVALID


def test_checksum_mismatch_refuses_before_loading(tmp_path: Path) -> None:
    """The bundled model with another expected digest: MODEL_CHECKSUM."""
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(BUNDLED_MODEL, BUNDLED_LABELS, expected_sha256="0" * 64)
    assert caught.value.kind is DetectorErrorKind.MODEL_CHECKSUM


def test_labels_missing_or_empty(tmp_path: Path) -> None:
    """No labels file beside a user's model, or an empty one: LABELS_INVALID."""
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(BUNDLED_MODEL, None)
    assert caught.value.kind is DetectorErrorKind.LABELS_INVALID
    empty = tmp_path / "labels.txt"
    empty.write_text("\n")
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(BUNDLED_MODEL, str(empty))
    assert caught.value.kind is DetectorErrorKind.LABELS_INVALID


def test_runtime_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """ai-edge-litert not installed (yet): RUNTIME_MISSING, for the HA layer to install it."""
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(DetectorError) as caught:
        TFLiteDetector(BUNDLED_MODEL, BUNDLED_LABELS)
    assert caught.value.kind is DetectorErrorKind.RUNTIME_MISSING


class WrongSize:
    """A Picture that ignores the size asked for."""

    width = 640
    height = 480

    def rgb(self, region: Box, size: tuple[int, int]) -> RGB:
        """Always 10 x 10."""
        return np.zeros((10, 10, 3), np.uint8)


def test_runtime_failure_and_closed() -> None:
    """What the runtime refuses at a run is a DetectorError; so is a closed detector."""
    model = TFLiteDetector(BUNDLED_MODEL, BUNDLED_LABELS)
    with pytest.raises(DetectorError) as caught:
        model.detect(WrongSize(), FULL_FRAME)
    assert caught.value.kind is DetectorErrorKind.MODEL_INVALID
    model.close()
    with pytest.raises(DetectorError, match="closed"):
        model.detect(ImagePicture(_photo("chelsea.png")), FULL_FRAME)


# --- layout rules -----------------------------------------------------------------------------


def info(
    index: int, name: str, shape: tuple[int, ...], dtype: type[np.generic] = np.float32
) -> TensorInfo:
    """A tensor as the layout detection sees it."""
    return TensorInfo(index, name, shape, dtype)


def test_layout_of_the_tf1_export() -> None:
    """Boxes, classes, scores, count by the post-processing op's names, in any order."""
    outputs = [
        info(3, "TFLite_Detection_PostProcess:3", (1,)),
        info(2, "TFLite_Detection_PostProcess:2", (1, 10)),
        info(0, "TFLite_Detection_PostProcess", (1, 10, 4)),
        info(1, "TFLite_Detection_PostProcess:1", (1, 10)),
    ]
    layout = output_layout(outputs)
    assert (layout.boxes.index, layout.classes.index, layout.scores.index) == (0, 1, 2)
    assert layout.count.index == 3
    assert layout.named


def test_layout_of_tf2_exports_is_left_to_the_values() -> None:
    """StatefulPartitionedCall:1 is the scores there, not the classes: the names are not used."""
    outputs = [
        info(10, "StatefulPartitionedCall:1", (1, 25)),
        info(11, "StatefulPartitionedCall:3", (1, 25, 4)),
        info(12, "StatefulPartitionedCall:0", (1, 1)),
        info(13, "StatefulPartitionedCall:2", (1, 25)),
    ]
    layout = output_layout(outputs)
    assert layout.boxes.index == 11
    assert layout.count.index == 12
    assert {layout.classes.index, layout.scores.index} == {10, 13}
    assert not layout.named


@pytest.mark.parametrize(
    "shapes",
    [
        [(1, 84, 8400)],  # YOLOv8
        [(1, 25200, 85)],  # YOLOv5
        [(1, 1917, 4), (1, 1917, 91)],  # SSD without post-processing
        [(1, 10, 4), (1, 10), (1, 10), (1, 10)],  # no count
        [(1, 10, 4), (1, 10), (1, 20), (1,)],  # rows disagree
        [(1, 10, 4), (1, 10, 4), (1, 10), (1,)],
        [(1, 10, 4), (1, 10), (1, 10), (1,), (1,)],
    ],
)
def test_layouts_refused(shapes: list[tuple[int, ...]]) -> None:
    """Anything but the post-processed four is MODEL_UNSUPPORTED, naming the shapes."""
    outputs = [info(i, f"out{i}", shape) for i, shape in enumerate(shapes)]
    with pytest.raises(DetectorError) as caught:
        output_layout(outputs)
    assert caught.value.kind is DetectorErrorKind.MODEL_UNSUPPORTED
    assert str(list(shapes[0])) in caught.value.message


def f32(*values: float) -> F32:
    """A float32 array."""
    return np.array(values, dtype=np.float32)


def test_classes_told_from_scores_by_values() -> None:
    """Whole numbers are class ids; a sorted 0-1 series is scores."""
    assert classes_first(f32(16, 0, 62), f32(0.9, 0.4, 0.1))
    assert not classes_first(f32(0.9, 0.4, 0.1), f32(16, 0, 62))
    # Nothing found: scores all 0, classes whole too. The sorted 0-1 series is still the scores.
    assert classes_first(f32(3, 7), f32(0, 0))
    assert not classes_first(f32(0, 0), f32(3, 7))
    # Both within 0-1 and whole (a one-class model that found nothing): the order is kept.
    assert classes_first(f32(0, 0), f32(0, 0))
    assert classes_first(f32(), f32())


def test_dequantize() -> None:
    """Quantised outputs are scaled back; float ones pass through."""
    scores = TensorInfo(0, "scores", (1, 3), np.uint8, 1 / 256, 0)
    assert dequantize(np.array([0, 128, 255], np.uint8), scores).tolist() == [0.0, 0.5, 255 / 256]
    signed = TensorInfo(0, "boxes", (1, 2), np.int8, 0.5, -128)
    assert dequantize(np.array([-128, 127], np.int8), signed).tolist() == [0.0, 127.5]
    plain = TensorInfo(0, "count", (1,), np.float32)
    assert dequantize(np.array([3.0], np.float32), plain).dtype == np.float32


def test_input_conversion() -> None:
    """uint8 as is, int8 shifted by 128, float32 to -1..1; other inputs refused."""
    pixels = np.array([[[0, 128, 255]]], np.uint8)
    height, width, convert = input_converter(TensorInfo(0, "in", (1, 320, 256, 3), np.uint8))
    assert (height, width, convert) == (320, 256, None)
    _, _, to_int8 = input_converter(TensorInfo(0, "in", (1, 8, 8, 3), np.int8, 1 / 128, 0))
    assert to_int8 is not None
    assert to_int8(pixels).tolist() == [[[-128, 0, 127]]]
    _, _, to_float = input_converter(TensorInfo(0, "in", (1, 8, 8, 3), np.float32))
    assert to_float is not None
    assert to_float(pixels).tolist() == [[[-1.0, pytest.approx(0.0039, abs=1e-3), 1.0]]]
    for bad in [
        TensorInfo(0, "in", (1, 8, 8, 3), np.int16),
        TensorInfo(0, "in", (1, 8, 8, 1), np.uint8),
        TensorInfo(0, "in", (8, 8, 3), np.uint8),
        TensorInfo(0, "in", (2, 8, 8, 3), np.uint8),
        TensorInfo(0, "in", (1, 0, 8, 3), np.uint8),
    ]:
        with pytest.raises(DetectorError) as caught:
            input_converter(bad)
        assert caught.value.kind is DetectorErrorKind.MODEL_UNSUPPORTED


# --- what a real model cannot be made to show: a stand-in interpreter -----------------------------


class FakeInterpreter:
    """An EfficientDet-Lite-like interpreter whose outputs the test sets."""

    outputs: Mapping[int, npt.NDArray[Any]] = {}

    def __init__(self, model_path: str, num_threads: int) -> None:
        """Nothing to load."""
        self.fed: npt.NDArray[Any] | None = None

    def allocate_tensors(self) -> None:
        """Nothing to allocate."""

    def get_input_details(self) -> list[dict[str, Any]]:
        """One 1 x 320 x 320 x 3 uint8 picture."""
        shape = np.array([1, 320, 320, 3])
        return [{"index": 0, "name": "images", "shape": shape, "dtype": np.uint8}]

    def get_output_details(self) -> list[dict[str, Any]]:
        """EfficientDet-Lite's order: scores, boxes, count [1, 1], classes; quantised scores."""

        def out(
            index: int, shape: list[int], dtype: type[np.generic] = np.float32
        ) -> dict[str, Any]:
            quantization = (1 / 256, 0) if dtype is np.uint8 else (0.0, 0)
            name = f"StatefulPartitionedCall:{index}"
            return {
                "index": index,
                "name": name,
                "shape": np.array(shape),
                "dtype": dtype,
                "quantization": quantization,
            }

        return [out(1, [1, 4], np.uint8), out(3, [1, 4, 4]), out(0, [1, 1]), out(2, [1, 4])]

    def set_tensor(self, index: int, value: npt.NDArray[Any]) -> None:
        """Keep what the detector fed."""
        self.fed = value

    def invoke(self) -> None:
        """Nothing to run."""

    def get_tensor(self, index: int) -> npt.NDArray[Any]:
        """The output the test set."""
        return self.outputs[index]


def test_rows_beyond_the_count_off_picture_and_unknown_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only rows under the count, with a label and a box left on the picture, come out.

    Their boxes are mapped from the region to the whole picture and clamped to it.
    """
    import ai_edge_litert.interpreter  # type: ignore[import-untyped]

    monkeypatch.setattr(ai_edge_litert.interpreter, "Interpreter", FakeInterpreter)
    model_file = tmp_path / "effdet.tflite"
    model_file.write_bytes(b"stand-in")
    labels = tmp_path / "effdet.txt"
    labels.write_text("person\nbicycle\ncar\n")
    FakeInterpreter.outputs = {
        1: np.array([[230, 200, 180, 170]], np.uint8),  # scores 0.9, 0.78, 0.7, 0.66
        3: np.array(
            [
                [
                    [0.5, 0.5, 1.2, 1.1],  # reaches past the region's corner: clamped
                    [0.1, 0.1, 0.2, 0.2],  # class 7: no label
                    [-0.5, -0.5, -0.1, -0.1],  # wholly off the picture: dropped
                    [0.0, 0.0, 1.0, 1.0],  # beyond the count
                ]
            ],
            np.float32,
        ),
        0: np.array([[3.0]], np.float32),
        2: np.array([[0, 7, 2, 1]], np.float32),
    }
    model = TFLiteDetector(model_file, labels)
    assert model.input_size == (320, 320)
    region = Box(0.5, 0.0, 0.5, 1.0)  # the right half
    found = model.detect(ImagePicture(Image.new("RGB", (200, 100))), region)
    assert [(d.label, round(d.score, 3)) for d in found] == [("person", 0.898)]
    assert found[0].box == Box(0.75, 0.5, 0.25, 0.5)
    region = Box(0.0, 0.0, 1.0, 1.0)
    FakeInterpreter.outputs = {**FakeInterpreter.outputs, 0: np.array([[9.0]], np.float32)}
    found = model.detect(ImagePicture(Image.new("RGB", (200, 100))), region)
    assert [d.label for d in found] == ["person", "bicycle"]  # a count over the rows is capped
