"""Isolation Forest (scikit-learn, exported by skl2onnx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from export.detectors.base import OPSET


class IForest:
    """Isolation Forest; score = minus scikit-learn's ``decision_function`` (higher = more anomalous).

    No standardisation front: each split of a tree thresholds one dimension, so a per-dimension affine
    map changes nothing but the thresholds' values.

    Args:
        n_estimators: trees in the forest.
        seed: seeds the subsampling and the splits.
    """

    def __init__(self, n_estimators: int = 200, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.seed = seed

    def fit(self, X: np.ndarray, X_val: np.ndarray) -> IForest:
        """Fit on the training features; ``X_val`` is unused."""
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(
            np.asarray(X, dtype=np.float32)
        )
        self.n_features_in_ = int(X.shape[1])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores (higher = more anomalous), shape (n,)."""
        return -self.model_.decision_function(np.asarray(X, dtype=np.float32)).astype(np.float64)

    def to_onnx(self, path: Path) -> None:
        """Write the graph ``features [B, D] -> score [B]`` to ``path``."""
        import onnx
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        graph = to_onnx(
            self.model_,
            initial_types=[("features", FloatTensorType([None, self.n_features_in_]))],
            target_opset={"": OPSET, "ai.onnx.ml": 3},
            final_types=None,
        )
        scores = next(o.name for o in graph.graph.output if o.name != "label")
        flat = onnx.helper.make_node("Flatten", [scores], ["score_2d"], axis=0)
        graph.graph.node.extend([flat, onnx.helper.make_node("Neg", ["score_2d"], ["score_neg"])])
        graph.graph.node.append(onnx.helper.make_node("Squeeze", ["score_neg", "squeeze_axes"], ["score"]))
        graph.graph.initializer.append(onnx.numpy_helper.from_array(np.array([0], dtype=np.int64), "squeeze_axes"))
        del graph.graph.output[:]
        graph.graph.output.append(onnx.helper.make_tensor_value_info("score", onnx.TensorProto.FLOAT, ["batch"]))
        onnx.save(graph, str(path))

    def manifest(self) -> dict[str, Any]:
        return {
            "name": "iforest",
            "n_estimators": self.n_estimators,
            "seed": self.seed,
            "standardised": False,
            "n_features": self.n_features_in_,
        }
