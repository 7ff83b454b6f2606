"""``rtloop eval``: ROC-AUC, PR-AUC and score distributions of bundles on normal vs anomalous loops,
overall and per aspect.

Scores come from the bundles' ONNX graphs, i.e. exactly what the live daemon runs, each loop against
its grid (acid chunk, file name, else estimated). Several bundles (say residual Deep SVDD, Isolation
Forest and PCA trained on the same loops) are compared in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from rtloop.audio_io import find_audio_files, iter_loops
from rtloop.bundle import Bundle
from rtloop.errors import AudioError
from rtloop.grid import Grid
from rtloop.scorer import Scorer


@dataclass(frozen=True)
class Evaluation:
    """One bundle's scores on both sets and the metrics derived from them."""

    name: str
    normal: np.ndarray
    anomalous: np.ndarray

    @property
    def labels_scores(self) -> tuple[np.ndarray, np.ndarray]:
        labels = np.r_[np.zeros(len(self.normal)), np.ones(len(self.anomalous))]
        return labels, np.r_[self.normal, self.anomalous]

    @property
    def roc_auc(self) -> float:
        return float(roc_auc_score(*self.labels_scores))

    @property
    def pr_auc(self) -> float:
        return float(average_precision_score(*self.labels_scores))


BATCH = 8


def load_set(folder: Path, sample_rate: int) -> list[tuple[Path, np.ndarray]]:
    """Usable loops of a folder with their paths; unusable ones are reported and left out."""
    loops = []
    scan = find_audio_files(folder)
    for skipped in scan.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}")
    for path, wave in iter_loops(scan.files, sample_rate):
        if isinstance(wave, AudioError):
            print(f"skipped {path}: {wave}")
        else:
            loops.append((path, wave))
    if not loops:
        raise AudioError(f"{folder}: no usable loops")
    return loops


def _score_set(scorer: Scorer, loops: list[tuple[Path, np.ndarray]]) -> dict[str, np.ndarray]:
    """Raw scores of every loop: ``overall`` and each aspect."""
    rate, trained = scorer.bundle.frontend.sample_rate, scorer.bundle.grid_options  # as its loops were cut
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(loops), BATCH):
        batch = loops[start : start + BATCH]
        waves = [wave for _, wave in batch]
        grids: list[Grid | None] = [trained.grid(path, wave, rate) for path, wave in batch]
        scores = scorer.score(waves, grids)
        for name, values in {"overall": scores.raw, **scores.aspect_raw}.items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in parts.items()}


def evaluate(bundles: list[Bundle], normal_dir: Path, anomalous_dir: Path) -> list[Evaluation]:
    """Score both folders with every bundle: one evaluation for the overall score, one per aspect."""
    results = []
    sets: dict[int, tuple[list[tuple[Path, np.ndarray]], list[tuple[Path, np.ndarray]]]] = {}
    for bundle in bundles:
        rate = bundle.frontend.sample_rate
        if rate not in sets:
            sets[rate] = (load_set(normal_dir, rate), load_set(anomalous_dir, rate))
        scorer = Scorer(bundle)
        normal, anomalous = (_score_set(scorer, loops) for loops in sets[rate])
        label = f"{bundle.path.name} ({bundle.manifest['detector']['name']})"
        for part in normal:
            name = label if part == "overall" else f"  {part}"
            results.append(Evaluation(name, normal[part], anomalous[part]))
    return results


def report(results: list[Evaluation]) -> str:
    """A plain-text table of the metrics and score distributions."""
    head = f"{'bundle / aspect':<40} {'ROC-AUC':>8} {'PR-AUC':>8}"
    lines = [f"{head} {'normal median [IQR]':>28} {'anomalous median [IQR]':>28}"]
    for r in results:

        def dist(x: np.ndarray) -> str:
            q1, q2, q3 = np.quantile(x, [0.25, 0.5, 0.75])
            return f"{q2:.4g} [{q1:.4g}, {q3:.4g}]"

        lines.append(f"{r.name:<40} {r.roc_auc:>8.3f} {r.pr_auc:>8.3f} {dist(r.normal):>28} {dist(r.anomalous):>28}")
    n = results[0]
    lines.append(f"{len(n.normal)} normal and {len(n.anomalous)} anomalous loops")
    return "\n".join(lines)


def plot(results: list[Evaluation], path: Path) -> None:
    """Histograms of normal vs anomalous scores, one panel per bundle, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 3.4), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        bins = np.histogram_bin_edges(np.r_[r.normal, r.anomalous], bins=20)
        ax.hist(r.normal, bins=bins, alpha=0.6, label="normal", color="tab:blue")
        ax.hist(r.anomalous, bins=bins, alpha=0.6, label="anomalous", color="tab:red")
        ax.set_title(f"{r.name}\nROC-AUC {r.roc_auc:.3f}  PR-AUC {r.pr_auc:.3f}", fontsize=9)
        ax.set_xlabel("anomaly score")
        ax.set_ylabel("loops")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
