"""rtloop's onnxruntime sessions flush denormal floats to zero (``rtloop.session_options``).

HTS-AT's masked softmax makes denormals in every shifted-window block, which x86 CPUs multiply in
microcode; flushed, the encoder runs 1.4-1.6x faster (bench/embed_speed.py). onnxruntime sets the
calling thread's flags once per process, at its first session, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HALF_OF_2E_38 = """
import sys
import numpy as np
import onnxruntime as ort
from rtloop.session_options import session_options

options = session_options() if sys.argv[2] == "rtloop" else ort.SessionOptions()
session = ort.InferenceSession(open(sys.argv[1], "rb").read(), options, providers=["CPUExecutionProvider"])
(y,) = session.run(["y"], {"x": np.array([2e-38], dtype=np.float32)})
print(repr(float(y[0])))
"""


def halve_graph(path: Path) -> None:
    """A one-node graph ``y = x * 0.5`` (float32): half of 2e-38 is below float32's smallest normal."""
    half = helper.make_tensor("half", TensorProto.FLOAT, [1], [0.5])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "half"], ["y"])],
        "halve",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=[half],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())


def halved(graph: Path, options: str) -> float:
    """y for x = 2e-38 through a session with rtloop's options or onnxruntime's defaults, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", HALF_OF_2E_38, str(graph), options],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    return float(done.stdout.strip())


def test_rtloop_sessions_flush_denormals_to_zero(tmp_path: Path) -> None:
    graph = tmp_path / "halve.onnx"
    halve_graph(graph)
    assert halved(graph, "onnxruntime-default") == pytest.approx(1e-38, rel=1e-6)  # a denormal, kept
    assert halved(graph, "rtloop") == 0.0
