"""Bundles at the boundary: every malformed manifest value, file or graph is refused with one BundleError
that names the key, file or tensor; the bytes hashed are the bytes loaded; swapped graphs are caught."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from rtloop.bundle import MAX_MANIFEST_BYTES, load_bundle, parse_manifest
from rtloop.calibration import Calibration
from rtloop.cli import main
from rtloop.errors import BundleError
from rtloop.frontend import FrontEndConfig
from rtloop.manifest_schema import CALIBRATION_KEYS, FORMAT_VERSION, FRONTEND_KEYS
from rtloop.onnx_wire import external_tensors
from rtloop.scorer import Scorer

HEX = "ab" * 32
LATENT_WIDTH = 768  # HTSAT-tiny, the trained_bundle fixture's encoder


def valid_manifest() -> dict[str, Any]:
    """The keys the schema checks, as `rtloop train` writes them (format 1); other keys are free."""
    return {
        "format": "rtloop-bundle",
        "format_version": 1,
        "rtloop_version": "0.1.0",
        "frontend": {
            "sample_rate": 48000,
            "clip_samples": 480000,
            "n_fft": 1024,
            "hop": 480,
            "n_mels": 64,
            "fmin": 50.0,
            "fmax": 14000.0,
            "mel_scale": "htk",
            "amin": 1e-10,
            "fusion": True,
            "pad": "loop",
        },
        "encoder": {"config": {"name": "HTSAT-tiny", "fusion": True}, "pretrained": False, "checkpoint": None},
        "features": "latent",
        "detector": {"name": "svdd-residual"},
        "calibration": {
            "median": 1.8,
            "threshold": 2.3,
            "width": 0.17,
            "quantile": 0.95,
            "method": "logistic-quantile",
        },
        "bars_hint": 1,
        "training": {"skipped": []},
        "selftest": {"scores": [10262.7, 8091.7]},
        "files": {"detector.onnx": HEX, "encoder.onnx": HEX},
    }


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = manifest
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = manifest
        for part in parents:
            node = node[part]
        del node[last]

    return edit


# (what to change, the message it must give)
MALFORMED = [
    (_set("calibration", None), "calibration is None, not an object"),
    (_set("calibration", "steep"), "calibration is 'steep', not an object"),
    (_set("calibration.threshold", float("nan")), "calibration.threshold is nan, not a finite number"),
    (_set("calibration.threshold", float("inf")), "calibration.threshold is inf, not a finite number"),
    (_set("calibration.threshold", "2.3"), "calibration.threshold is '2.3', not a number"),
    (_set("calibration.threshold", None), "calibration.threshold is None, not a number"),
    (_set("calibration.width", -0.17), "calibration.width is -0.17, must be greater than 0"),
    (_set("calibration.width", 0), "calibration.width is 0, must be greater than 0"),
    (_set("calibration.median", True), "calibration.median is True, not a number"),
    (_set("calibration.quantile", 1.5), "calibration.quantile is 1.5, outside"),
    (_set("calibration.method", "linear"), "calibration.method is 'linear', not one of 'logistic-quantile'"),
    (_set("calibration.gain", 2.0), "calibration has 'gain', which this rtloop does not know"),
    (_drop("calibration.width"), "manifest lacks calibration.width"),
    (_set("files", ["encoder.onnx", "detector.onnx"]), "files is ['encoder.onnx', 'detector.onnx'], not an object"),
    (_set("files", {}), "files is {}, not an object of file name -> sha256"),
    (_set("encoder", None), "encoder is None, not an object"),
    (_drop("encoder.pretrained"), "manifest lacks encoder.pretrained"),
    (_set("encoder.pretrained", "yes"), "encoder.pretrained is 'yes', not true or false"),
    (_drop("encoder.config"), "manifest lacks encoder.config"),
    (_set("encoder.config.fusion", False), "encoder.config.fusion is False but frontend.fusion is True"),
    (_set("encoder.precision", "int4"), "encoder.precision is 'int4', not one of 'fp32', 'int8'"),
    (_set("encoder.precision", None), "encoder.precision is None, not one of 'fp32', 'int8'"),
    (_set("features", "mfcc"), "features is 'mfcc', not one of 'latent', 'embedding'"),
    (_drop("features"), "manifest lacks features"),
    (_set("detector", []), "detector is [], not an object"),
    (_set("bars_hint", "2"), "bars_hint is '2', not a whole number"),
    (_set("bars_hint", 2.5), "bars_hint is 2.5, not a whole number"),
    (_set("bars_hint", 0), "bars_hint is 0, outside 1..64"),
    (_set("bars_hint", 2**32 - 1), "bars_hint is 4294967295, outside 1..64"),
    (_set("frontend.sample_rate", "48000"), "frontend.sample_rate is '48000', not a whole number"),
    (_set("frontend.sample_rate", 1), "frontend.sample_rate is 1, outside 8000..384000"),
    (_set("frontend.sample_rate", True), "frontend.sample_rate is True, not a whole number"),
    (_set("frontend.sample_rate", 48000.0), "frontend.sample_rate is 48000.0, not a whole number"),
    (_set("frontend.n_mels", 0), "frontend.n_mels is 0, outside 1..1024"),
    (_set("frontend.fmax", 30000.0), "fmax 30000.0 must satisfy fmin < fmax <= sample_rate / 2"),
    (_set("frontend.mel_scale", "bark"), "frontend.mel_scale is 'bark', not one of 'htk', 'slaney'"),
    (_set("frontend.window", "hann"), "frontend has 'window', which this rtloop does not know"),
    (_set("frontend", None), "frontend is None, not an object"),
    (_set("format_version", True), "format_version is True, not a whole number"),
    (_set("format_version", 1.0), "format_version is 1.0, not a whole number"),
    (_set("format_version", 0), "format_version is 0, not a whole number from 1"),
    (_set("format", "other"), "not an rtloop manifest"),
    (_drop("selftest"), "manifest lacks selftest"),
    (_set("selftest.scores", [1.0]), "selftest.scores is [1.0], not a list of 2 numbers"),
    (_set("selftest.scores", [1.0, float("nan")]), "selftest.scores is nan, not a finite number"),
]


@pytest.mark.parametrize("edit, message", MALFORMED, ids=[m[1][:50] for m in MALFORMED])
def test_each_malformed_value_is_one_bundle_error_naming_the_key(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    manifest = valid_manifest()
    edit(manifest)
    with pytest.raises(BundleError) as refused:
        parse_manifest(json.dumps(manifest).encode())
    assert message in str(refused.value)


def test_the_manifest_train_writes_is_accepted() -> None:
    assert parse_manifest(json.dumps(valid_manifest()).encode())["features"] == "latent"
    no_hint = valid_manifest()
    no_hint["bars_hint"] = None
    assert parse_manifest(json.dumps(no_hint).encode())["bars_hint"] is None
    int8 = valid_manifest()
    int8["encoder"]["precision"] = "int8"
    assert parse_manifest(json.dumps(int8).encode())["encoder"]["precision"] == "int8"


@pytest.mark.parametrize(
    "files, message",
    [
        ({"encoder.onnx": HEX, "detector.onnx": 12}, "gives detector.onnx the hash 12, not 64 lower-case hex"),
        ({"encoder.onnx": HEX, "detector.onnx": HEX.upper()}, "not 64 lower-case hex digits"),
        ({"encoder.onnx": HEX, "detector.onnx": HEX[:-1]}, "not 64 lower-case hex digits"),
        ({"encoder.onnx": HEX}, "files lists no detector.onnx"),
        ({"encoder.onnx": HEX, "detector.onnx": HEX, "../escape.onnx": HEX}, "names '../escape.onnx', not a plain"),
        ({"encoder.onnx": HEX, "detector.onnx": HEX, "/etc/passwd": HEX}, "names '/etc/passwd', not a plain"),
        ({"encoder.onnx": HEX, "detector.onnx": HEX, ".hidden": HEX}, "names '.hidden', not a plain"),
    ],
)
def test_files_must_map_plain_names_to_sha256(files: dict[str, Any], message: str) -> None:
    manifest = valid_manifest()
    manifest["files"] = files
    with pytest.raises(BundleError, match="files ") as refused:
        parse_manifest(json.dumps(manifest).encode())
    assert message in str(refused.value)


def test_deep_repeated_or_huge_manifests_are_refused_without_recursion_error() -> None:
    deep = b'{"format": "rtloop-bundle", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(BundleError, match="nests deeper than 32 levels"):
        parse_manifest(deep)
    shallow_but_deep = valid_manifest()
    node: list[Any] = []
    shallow_but_deep["training"]["skipped"] = node
    for _ in range(40):
        node.append([])
        node = node[0]
    with pytest.raises(BundleError, match="nests deeper than 32 levels"):
        parse_manifest(json.dumps(shallow_but_deep).encode())
    with pytest.raises(BundleError, match="repeats the key 'features'"):
        parse_manifest(b'{"features": "latent", "features": "embedding"}')
    with pytest.raises(BundleError, match="not valid JSON"):
        parse_manifest(b"\xff\xfe{}")


def test_a_newer_format_asks_for_an_upgrade() -> None:
    manifest = valid_manifest() | {"format_version": FORMAT_VERSION + 1, "rtloop_version": "9.0"}
    newer = (
        f"bundle format {FORMAT_VERSION + 1} \\(made by rtloop 9.0\\).*reads format {FORMAT_VERSION}: upgrade rtloop"
    )
    with pytest.raises(BundleError, match=newer):
        parse_manifest(json.dumps(manifest).encode())


# --- ONNX wire format: external data is found without the onnx package ------------------------------


def _detector_graph(
    width: int, input_name: str = "features", weight: float = 1.0, external: Path | None = None
) -> bytes:
    """A small valid detector: score = weight * sum(features ** 2), optionally with external weights."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((width, 1), weight, dtype=np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Mul", [input_name, input_name], ["squared"]),
            helper.make_node("MatMul", ["squared", "w"], ["column"]),
            helper.make_node("Flatten", ["column"], ["flat"], axis=0),
            helper.make_node("Squeeze", ["flat", "axes"], ["score"]),
        ],
        "detector",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"])],
        initializer=[w, numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if external is None:
        return bytes(model.SerializeToString())
    # size_threshold compares sys.getsizeof(raw_data): "w" (>= 65) goes out, "axes" (41) stays inside
    onnx.save_model(model, str(external), save_as_external_data=True, location="weights.bin", size_threshold=50)
    return external.read_bytes()


def test_external_data_is_found_in_initializers_and_subgraphs(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    assert external_tensors(_detector_graph(8)) == []
    assert external_tensors(_detector_graph(8, external=tmp_path / "d.onnx")) == [
        "tensor 'w' keeps its data in an external file"
    ]
    # a tensor inside an If node's branch, two levels down
    inner = numpy_helper.from_array(np.ones(4, dtype=np.float32), "inner")
    inner.data_location = TensorProto.EXTERNAL
    entry = inner.external_data.add()
    entry.key, entry.value = "location", "/etc/hostname"
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value=inner)],
        "branch",
        [],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [4])],
    )
    node = helper.make_node("If", ["cond"], ["out"], then_branch=branch, else_branch=branch)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert len(external_tensors(model.SerializeToString())) == 2  # one per branch


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "has no graph"),
        (b"\x08\x08\x12\x03abc", "has no graph"),
        (b"\x3a\xff\xff\xff\xff\x0f", "runs past its message"),
        (b"\x0b\x00", "wire type 3"),
        (b"\x00\x00\x00\x00ORTM" + bytes(32), ".ort format"),
    ],
)
def test_bytes_that_are_not_an_onnx_model_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message.replace("(", "\\(").replace(".", "\\.")):
        external_tensors(data)


# --- real bundles: files, graphs and their contract (the trained bundle, copied) -----------------------


@pytest.fixture
def bundle_copy(trained_bundle: Path, tmp_path: Path) -> Path:
    """The trained bundle as hard links where possible (fast; replace a file, never write into it)."""
    target = tmp_path / "copy.rtloop"
    shutil.copytree(trained_bundle, target, copy_function=_link_or_copy)
    return target


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _replace(path: Path, data: bytes) -> None:
    """Put new bytes at ``path`` without writing through a hard link into the session's bundle."""
    path.unlink()
    path.write_bytes(data)


def _edit_manifest(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    edit(manifest)
    _replace(bundle / "manifest.json", json.dumps(manifest).encode())


def _rehash(bundle: Path, name: str) -> None:
    """Record the file's new sha256, as someone swapping a graph would."""
    digest = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    _edit_manifest(bundle, lambda m: m["files"].__setitem__(name, digest))


@pytest.mark.slow
def test_the_trained_bundle_passes_every_check(trained_bundle: Path) -> None:
    bundle = load_bundle(trained_bundle)
    scorer = Scorer(bundle, providers=["CPUExecutionProvider"])
    assert scorer.selftest_difference is not None and scorer.selftest_difference <= 1e-3


# Format 2's optional objects (the aspects, the overall): once present, complete and well-formed.
MALFORMED_ASPECTS = [
    (_set("aspects.rhythm.calibration", {}), "manifest lacks aspects.rhythm.calibration.method"),
    (_drop("aspects.rhythm.calibration.median"), "manifest lacks aspects.rhythm.calibration.median"),
    (_drop("aspects.timbre.file"), "manifest lacks aspects.timbre.file"),
    (_drop("aspects.harmony.detector.name"), "manifest lacks aspects.harmony.detector.name"),
    (_set("overall.calibration", {}), "manifest lacks overall.calibration.method"),
    (_drop("overall.method"), "manifest lacks overall.method"),
    (_set("selftest.aspects", ["rhythm"]), "selftest.aspects is ['rhythm'], not an object"),
    (_set("format_version", 1), "grid is a key of format 2, but format_version is 1"),
    (lambda m: m.update(format_version=1, grid=None), "grid is a key of format 2, but format_version is 1"),
    (lambda m: m.pop("grid") and m.update(format_version=1), "aspects is a key of format 2, but format_version is 1"),
    (lambda m: m.pop("grid") and m.update(format_version=1, aspects=[]), "aspects is a key of format 2"),
    (_set("grid.beats_per_bar", 0), "grid.beats_per_bar is 0"),
    (_set("grid.bpm", 1000.0), "grid.bpm is 1000.0"),
    (_drop("grid.bpm"), "manifest lacks grid.bpm"),
]


@pytest.mark.slow
@pytest.mark.parametrize("edit, message", MALFORMED_ASPECTS, ids=[m[1][:50] for m in MALFORMED_ASPECTS])
def test_each_malformed_aspect_value_is_one_bundle_error_naming_the_key(
    trained_bundle: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    manifest = json.loads((trained_bundle / "manifest.json").read_text())
    edit(manifest)
    with pytest.raises(BundleError) as refused:
        parse_manifest(json.dumps(manifest).encode())
    assert message in str(refused.value)


@pytest.mark.slow
@pytest.mark.parametrize("edit, message", MALFORMED[:6], ids=[m[1][:40] for m in MALFORMED[:6]])
def test_load_bundle_names_the_bundle_the_file_and_the_key(
    bundle_copy: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    _edit_manifest(bundle_copy, edit)
    with pytest.raises(BundleError) as refused:
        load_bundle(bundle_copy)
    assert str(refused.value).startswith(f"{bundle_copy}: manifest.json: ")
    assert message in str(refused.value)


@pytest.mark.slow
def test_a_huge_manifest_is_refused_before_parsing(bundle_copy: Path) -> None:
    _replace(bundle_copy / "manifest.json", b" " * (MAX_MANIFEST_BYTES + 1))
    too_big = f"manifest.json holds {MAX_MANIFEST_BYTES + 1} bytes, more than the {MAX_MANIFEST_BYTES} allowed"
    with pytest.raises(BundleError, match=too_big):
        load_bundle(bundle_copy)


@pytest.mark.slow
def test_symbolic_links_are_refused_even_with_the_right_hash(bundle_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.onnx"
    shutil.copy(bundle_copy / "detector.onnx", outside)
    (bundle_copy / "detector.onnx").unlink()
    (bundle_copy / "detector.onnx").symlink_to(outside)
    with pytest.raises(BundleError, match="detector.onnx is a symbolic link; a bundle holds its files themselves"):
        load_bundle(bundle_copy)
    (bundle_copy / "detector.onnx").unlink()
    shutil.copy(outside, bundle_copy / "detector.onnx")
    manifest = tmp_path / "manifest.json"
    (bundle_copy / "manifest.json").rename(manifest)
    (bundle_copy / "manifest.json").symlink_to(manifest)
    with pytest.raises(BundleError, match="manifest.json is a symbolic link"):
        load_bundle(bundle_copy)


@pytest.mark.slow
def test_a_fifo_in_place_of_a_graph_is_refused_without_blocking(bundle_copy: Path) -> None:
    (bundle_copy / "detector.onnx").unlink()
    os.mkfifo(bundle_copy / "detector.onnx")
    with pytest.raises(BundleError, match="detector.onnx is not a regular file"):
        load_bundle(bundle_copy)


@pytest.mark.slow
def test_a_graph_with_external_data_is_refused_even_with_the_right_hash(bundle_copy: Path, tmp_path: Path) -> None:
    data = _detector_graph(LATENT_WIDTH, external=tmp_path / "ext.onnx")
    _replace(bundle_copy / "detector.onnx", data)
    shutil.copy(tmp_path / "weights.bin", bundle_copy / "weights.bin")
    _rehash(bundle_copy, "detector.onnx")
    with pytest.raises(BundleError, match="detector.onnx keeps weights outside the graph \\(tensor 'w'"):
        load_bundle(bundle_copy)


@pytest.mark.slow
def test_a_swapped_graph_with_a_recomputed_hash_is_refused_before_scoring(
    bundle_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _replace(bundle_copy / "detector.onnx", _detector_graph(LATENT_WIDTH, weight=3.0))
    _rehash(bundle_copy, "detector.onnx")
    bundle = load_bundle(bundle_copy)  # the hashes agree: only running the graphs can tell
    with pytest.raises(BundleError, match="the graphs score the self-test signals"):
        Scorer(bundle, providers=["CPUExecutionProvider"])
    wav = tmp_path / "loop.wav"
    sf.write(wav, 0.1 * np.sin(np.arange(48000) / 10.0), 48000)
    assert main(["score", str(bundle_copy), str(wav)]) == 2
    err = capsys.readouterr().err
    assert "the graphs score the self-test signals" in err and "Traceback" not in err
    run = ["run", str(bundle_copy), "--file", str(wav), "--bpm", "120", "--control", "off", "--osc", "127.0.0.1:9"]
    assert main(run) == 2  # the scoring child runs the self-test before the daemon starts
    assert "the graphs score the self-test signals" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    "graph, message",
    [
        (lambda: _detector_graph(768, input_name="x"), "detector.onnx: input 'x' is not one rtloop feeds"),
        (
            lambda: _detector_graph(512),
            "detector.onnx: input 'features' has shape [batch, 512], the manifest needs [batch, 768]",
        ),
    ],
)
def test_a_detector_that_does_not_fit_the_encoder_is_refused(
    bundle_copy: Path, graph: Callable[[], bytes], message: str
) -> None:
    _replace(bundle_copy / "detector.onnx", graph())
    _rehash(bundle_copy, "detector.onnx")
    with pytest.raises(BundleError) as refused:
        Scorer(load_bundle(bundle_copy), providers=["CPUExecutionProvider"])
    assert message in str(refused.value)


@pytest.mark.slow
def test_features_that_name_the_other_encoder_output_are_refused(bundle_copy: Path) -> None:
    _edit_manifest(bundle_copy, _set("features", "embedding"))
    with pytest.raises(
        BundleError, match=r"needs \[batch, 512\] .*; the manifest's features are the encoder's embedding \(512 wide\)"
    ):
        Scorer(load_bundle(bundle_copy), providers=["CPUExecutionProvider"])


@pytest.mark.slow
def test_a_front_end_that_does_not_fit_the_encoder_is_refused(bundle_copy: Path) -> None:
    _edit_manifest(bundle_copy, _set("frontend.n_mels", 32))
    with pytest.raises(
        BundleError, match=r"input 'mel' has shape \[batch, 4, 1001, 64\], the manifest needs \[batch, 4, 1001, 32\]"
    ):
        Scorer(load_bundle(bundle_copy), providers=["CPUExecutionProvider"])


@pytest.mark.slow
def test_bytes_changed_after_loading_are_not_what_the_scorer_loads(bundle_copy: Path) -> None:
    bundle = load_bundle(bundle_copy)
    data = bytearray((bundle_copy / "detector.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    _replace(bundle_copy / "detector.onnx", bytes(data))
    with pytest.raises(BundleError, match="detector.onnx does not match its sha256"):
        Scorer(bundle, providers=["CPUExecutionProvider"])


def test_the_schema_knows_every_front_end_and_calibration_field() -> None:
    assert set(FRONTEND_KEYS) == {f.name for f in fields(FrontEndConfig)}
    assert set(CALIBRATION_KEYS) == {f.name for f in fields(Calibration)}
