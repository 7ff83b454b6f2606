"""Every detector on the seed embeddings: 392 real bass loops embedded by pretrained HTSAT-base.

Protocol (issue 10): each of the 9 sample-pack folders is held out in turn as the "anomalous" class;
the detector fits on 80 % of the other loops (a fifth of those held back as its validation set, for
early stopping), and scores the remaining 20 % plus the held-out folder; ROC-AUC. Repeated over
``--seeds`` split seeds (the detector's seed is the split seed). Prints, per detector, the ROC-AUC per
folder (mean over seeds), the mean over folders with its standard deviation across seeds, and the
two style folders (open-fifth chords, long/tremolo tones).

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/seed_embeddings.py \
        [--data ../shared/data/seed_bass392.npz] [--seeds 3] [--detectors svdd-residual pca ...] [--ensemble K]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from export.detectors import DETECTORS, DeepSVDD, Detector, make_detector

STYLE_FOLDERS = ("bass_ringing open fifth chords", "bass_tones_long&tremolo")
TEST_FRACTION = 0.2
VAL_FRACTION = 0.2


def split(folder: np.ndarray, held_out: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(fit, val, test)`` and the test labels (1 = held-out folder) for one fold and seed."""
    rng = np.random.default_rng([seed, sum(map(ord, held_out))])
    normal = rng.permutation(np.flatnonzero(folder != held_out))
    n_test = round(TEST_FRACTION * len(normal))
    test_normal, fit_part = normal[:n_test], normal[n_test:]
    n_val = max(1, round(VAL_FRACTION * len(fit_part)))
    val, fit = fit_part[:n_val], fit_part[n_val:]
    anomalous = np.flatnonzero(folder == held_out)
    test = np.concatenate([test_normal, anomalous])
    labels = np.concatenate([np.zeros(len(test_normal)), np.ones(len(anomalous))])
    return fit, val, test, labels


def evaluate(
    factory: Callable[[int], Detector], X: np.ndarray, folder: np.ndarray, folders: list[str], seeds: int
) -> np.ndarray:
    """ROC-AUC of a detector per split seed and held-out folder, shape (seeds, folders)."""
    auc = np.zeros((seeds, len(folders)))
    for s in range(seeds):
        for j, held_out in enumerate(folders):
            fit, val, test, labels = split(folder, held_out, s)
            detector = factory(s).fit(X[fit], X[val])
            auc[s, j] = roc_auc_score(labels, detector.decision_function(X[test]))
    return auc


def report(name: str, auc: np.ndarray, folders: list[str], seconds: float) -> None:
    """Print one detector's row block."""
    per_seed_mean = auc.mean(axis=1)
    style = [folders.index(f) for f in STYLE_FOLDERS]
    print(
        f"{name:<16} mean {per_seed_mean.mean():.3f} ± {per_seed_mean.std():.3f} (std over seeds)  "
        f"open-fifth {auc[:, style[0]].mean():.3f} ± {auc[:, style[0]].std():.3f}  "
        f"long/tremolo {auc[:, style[1]].mean():.3f} ± {auc[:, style[1]].std():.3f}  [{seconds:.0f} s]"
    )
    cells = "  ".join(f"{auc[:, j].mean():.2f}" for j in range(len(folders)))
    print(f"{'':<16} per folder: {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/seed_bass392.npz"))
    parser.add_argument("--seeds", type=int, default=3, help="split seeds (default 3)")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    parser.add_argument("--ensemble", type=int, default=0, metavar="K", help="residual Deep SVDD with K networks too")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data}: not found (pass --data path/to/seed_bass392.npz)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    with np.load(args.data, allow_pickle=False) as data:
        X, folder = data["embeddings"].astype(np.float32), data["folder"].astype(str)
    folders = sorted(set(folder))
    print(f"{len(X)} loops x {X.shape[1]} dims, {len(folders)} folders, {args.seeds} split seeds")
    print("folders: " + ", ".join(f"{j}={f}" for j, f in enumerate(folders)))
    for name in args.detectors:
        started = time.monotonic()
        auc = evaluate(lambda s, name=name: make_detector(name, s), X, folder, folders, args.seeds)
        report(name, auc, folders, time.monotonic() - started)
    if args.ensemble > 1:
        started = time.monotonic()
        auc = evaluate(lambda s: DeepSVDD(residual=True, n_seeds=args.ensemble, seed=s), X, folder, folders, args.seeds)
        report(f"svdd-residual x{args.ensemble}", auc, folders, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
