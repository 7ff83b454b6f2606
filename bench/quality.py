"""Detection quality on a labelled loop set rendered from real instruments (see ``bench/loopset.py``).

For each data seed and instrument (bass, guitar, drums), in one run:

* baseline: 64-band log-mel statistics (mean and std per band: 128 numbers) + IsolationForest, fitted
  on the training loops;
* rtloop: a bundle trained with ``export.train.train`` (random encoder, seed 0; with ``--clap-ckpt``, that
  LAION-CLAP checkpoint's encoder, and the overall includes its sound aspect unless ``--overall`` says) for every
  detector in ``export.detectors.DETECTORS`` (the network's detector and every descriptor aspect's;
  ``--overall`` says whether the overall includes the network), each test loop scored alone with
  ``Scorer.score([wave], [grid])``, its grid found as ``rtloop score`` finds it (``grid_for_file``: the
  acid chunk with ``--acid``, else estimated from the audio): the overall ``variation`` and ``raw`` and,
  where the bundle has them, the per-aspect variations. It also says where the grids came from and how
  many match the labelled bars and tempo.

It prints the ROC-AUC (normal test loops against each deviation class, and against all of them:
``overall``) of each scorer, mean and spread (min-max) over the seeds, and a summary against the
targets of issue 10: overall >= 0.90 per instrument; wrong notes, broken rhythm and tempo off >= 0.80;
no class below the log-mel baseline. The loop set and the embeddings are cached under ``--cache``,
so the detectors share embeddings and a rerun renders nothing.

    PYTHONPATH=$PWD python bench/quality.py [--seeds 3] [--instruments bass guitar drums]
        [--detectors svdd-residual pca] [--quick] [--acid] [--baseline-only] [--bars-hint N]
        [--overall auto|with-sound|without-sound] [--cache DIR] [--sets DIR] [--json FILE]
        [--clap-ckpt FILE [--amodel A] [--no-fusion] [--trust-checkpoint]]

Cost: rendering a seed's set takes ~3 minutes; each bundle 0.5-5 minutes (training, ONNX export and
parity dominate; IsolationForest's ONNX conversion is the slowest), so a full default run (3 seeds x 3
instruments x 6 detectors) takes about an hour on two busy CPU cores: narrow it with ``--detectors``.
``--quick`` (1 seed, 22 loops per instrument: numbers without meaning, a smoke test) took 31 minutes with
4 detectors on the shared machine. Needs the Debian packages named by ``loopset.APT_LINE``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loopset import (  # noqa: E402  (bench/ is a folder of scripts, not a package)
    APT_LINE,
    DEVIATIONS,
    INSTRUMENTS,
    QUICK_SIZES,
    SetSizes,
    default_soundfont,
    ensure_set,
    missing_tools,
    read_labels,
)

from rtloop.cli import add_encoder_options  # noqa: E402
from rtloop.train_config import TrainConfig  # noqa: E402

TARGET_OVERALL = 0.90
TARGET_SUBTLE = 0.80
SUBTLE = ("wrong_notes", "broken_rhythm", "tempo_off")
BASELINE = "logmel+iforest"
COLUMNS = (*DEVIATIONS, "overall")


@dataclass(frozen=True)
class Encoder:
    """The encoder the benchmark's bundles are trained with: random weights, or a LAION-CLAP checkpoint's."""

    checkpoint: Path | None = None
    amodel: str = TrainConfig.amodel
    fusion: bool = TrainConfig.fusion
    trust_checkpoint: bool = False

    def train_options(self) -> dict[str, Any]:
        """The fields of :class:`TrainConfig` that choose the encoder."""
        return {
            "checkpoint": self.checkpoint,
            "random_encoder": self.checkpoint is None,
            "amodel": self.amodel,
            "fusion": self.fusion,
            "trust_checkpoint": self.trust_checkpoint,
        }

    def __str__(self) -> str:
        weights = "random weights (seed 0)" if self.checkpoint is None else f"weights of {self.checkpoint.name}"
        return f"{self.amodel}{' + fusion' if self.fusion else ''}, {weights}"


def encoder_from(args: argparse.Namespace) -> Encoder:
    """The :class:`Encoder` that the options of ``rtloop.cli.add_encoder_options`` chose."""
    return Encoder(args.clap_ckpt, args.amodel, not args.no_fusion, args.trust_checkpoint)


def logmel_stats(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean and std per band of a 64-band log-mel spectrogram (25 ms hop 10 ms): 128 numbers."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=wave, sr=sample_rate, n_fft=int(0.025 * sample_rate) * 2, hop_length=sample_rate // 100, n_mels=64
    )
    logmel = np.log(mel + 1e-8)
    return np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)])


def aucs(scores: np.ndarray, labels: list[str]) -> dict[str, float]:
    """ROC-AUC of ``scores`` (higher = more deviating): normal test loops against each class and all."""
    from sklearn.metrics import roc_auc_score

    labels_arr = np.asarray(labels)
    normal = labels_arr == "normal"
    out = {}
    for column in COLUMNS:
        other = ~normal if column == "overall" else labels_arr == column
        if other.any() and normal.any():
            mask = normal | other
            out[column] = float(roc_auc_score(other[mask], scores[mask]))
    return out


def train_quietly(cfg: TrainConfig) -> None:
    """``export.train.train(cfg)`` with its output held back, and printed only if it fails."""
    from export.train import train

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            train(cfg)
    except Exception:
        print(log.getvalue(), file=sys.stderr)
        raise


def baseline_scores(train: list[np.ndarray], test: list[np.ndarray], sample_rate: int, seed: int) -> np.ndarray:
    """Log-mel statistics + IsolationForest fitted on ``train``; higher = more anomalous."""
    from sklearn.ensemble import IsolationForest

    x_train = np.stack([logmel_stats(w, sample_rate) for w in train])
    x_test = np.stack([logmel_stats(w, sample_rate) for w in test])
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(x_train)
    return -forest.score_samples(x_test)


def rtloop_scores(
    train_dir: Path,
    test_paths: list[Path],
    detector: str,
    cache: Path,
    bars_hint: int | None,
    overall: str = "auto",
    encoder: Encoder = Encoder(),
) -> tuple[dict[str, np.ndarray], list[object]]:
    """Train a bundle on ``train_dir`` and score each test loop alone.

    The detector is the network's and each descriptor aspect's too.

    Returns:
        Per scorer row (``variation``, ``raw`` and ``aspect:<name>``) the scores of the test loops in
        order, and the grid each test loop was scored against.
    """
    from rtloop.audio_io import load_audio
    from rtloop.bundle import load_bundle
    from rtloop.grid import grid_for_file
    from rtloop.scorer import Scorer

    with tempfile.TemporaryDirectory(prefix="quality-bundle-") as tmp:
        cfg = TrainConfig(
            loops=train_dir,
            output=Path(tmp) / "bundle",
            **encoder.train_options(),
            detector=detector,
            aspect_detector=detector,
            overall=overall,
            cache_dir=cache,
            bars_hint=bars_hint,
        )
        started = time.monotonic()
        train_quietly(cfg)
        trained = time.monotonic()
        scorer = Scorer(load_bundle(cfg.output), providers=["CPUExecutionProvider"])
        rate = scorer.bundle.frontend.sample_rate
        rows: dict[str, list[float]] = {}
        grids: list[object] = []
        for path in test_paths:
            wave = load_audio(path, rate)
            scores = scorer.score([wave], [grid_for_file(path, wave, rate, None, bars_hint)])
            grids.extend(scores.grids)
            rows.setdefault("variation", []).append(float(scores.variation[0]))
            rows.setdefault("raw", []).append(float(scores.raw[0]))
            for aspect, values in scores.aspects.items():
                rows.setdefault(f"aspect:{aspect}", []).append(float(values[0]))
        print(f"    {detector}: trained in {trained - started:.0f} s, scored in {time.monotonic() - trained:.0f} s")
    return {name: np.asarray(values) for name, values in rows.items()}, grids


def _grid_matches(grid: object, row: dict[str, str]) -> bool:
    """The grid has the loop's labelled bars and its tempo within 2 %."""
    bpm = float(row["bpm"])
    return getattr(grid, "bars", 0) == int(row["bars"]) and abs(float(getattr(grid, "bpm", 0.0)) - bpm) <= 0.02 * bpm


def grid_report(grids: list[object], rows: list[dict[str, str]]) -> str:
    """Where the test loops' grids came from, and how many have the labelled bars and tempo."""
    if not grids:
        return "no grids (runtime without rtloop.grid)"
    sources: dict[str, int] = {}
    for grid in grids:
        source = getattr(grid, "source", "?")
        name = str(getattr(source, "value", source))
        sources[name] = sources.get(name, 0) + 1
    pairs = list(zip(grids, rows, strict=True))
    right = sum(_grid_matches(g, r) for g, r in pairs)
    normal = [(g, r) for g, r in pairs if r["label"] == "normal"]
    right_normal = sum(_grid_matches(g, r) for g, r in normal)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(sources.items()))
    return f"grids: {counts}; labelled bars and tempo: {right}/{len(pairs)} (normal {right_normal}/{len(normal)})"


def run_instrument(
    folder: Path,
    instrument: str,
    detectors: tuple[str, ...],
    cache: Path,
    bars_hint: int | None,
    seed: int,
    overall: str = "auto",
    encoder: Encoder = Encoder(),
) -> dict[str, dict[str, float]]:
    """ROC-AUCs per scorer row (``baseline``, ``<detector> <row>``) for one instrument folder."""
    import soundfile as sf

    rows = read_labels(folder)
    train_rows = [r for r in rows if r["split"] == "train"]
    test_rows = [r for r in rows if r["split"] == "test"]
    labels = [r["label"] for r in test_rows]
    test_paths = [folder / r["file"] for r in test_rows]
    results: dict[str, dict[str, float]] = {}

    started = time.monotonic()
    train_waves = [sf.read(str(folder / r["file"]), dtype="float32")[0] for r in train_rows]
    test_waves = [sf.read(str(p), dtype="float32")[0] for p in test_paths]
    rate = sf.info(str(test_paths[0])).samplerate
    results[BASELINE] = aucs(baseline_scores(train_waves, test_waves, rate, seed), labels)
    print(f"  {instrument}: baseline {time.monotonic() - started:.1f} s", flush=True)

    for detector in detectors:
        started = time.monotonic()
        try:
            rows_scores, grids = rtloop_scores(
                folder / "train", test_paths, detector, cache, bars_hint, overall, encoder
            )
        except Exception as exc:  # one failing detector must not cost the others' numbers
            print(f"  {instrument}: {detector} FAILED: {type(exc).__name__}: {exc}", flush=True)
            continue
        for row, scores in rows_scores.items():
            results[f"{detector} {row}"] = aucs(scores, labels)
        seconds = time.monotonic() - started
        print(f"  {instrument}: {detector} {seconds:.1f} s; {grid_report(grids, test_rows)}", flush=True)
    return results


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = float(np.mean(values))
    return f"{mean:.2f}" if len(values) == 1 else f"{mean:.2f}±{(max(values) - min(values)) / 2:.2f}"


def print_table(instrument: str, per_seed: list[dict[str, dict[str, float]]]) -> None:
    """Mean ± half the min-max spread over seeds of each scorer row and column."""
    names = list(dict.fromkeys(name for result in per_seed for name in result))
    width = max(len(n) for n in names)
    heads = {"broken_rhythm": "rhythm", "wrong_notes": "notes", "instrument": "instr", "distortion": "distort"}
    print(f"\n{instrument}: ROC-AUC, mean±half-range over {len(per_seed)} seed(s)")
    print(" " * width + "  " + "  ".join(f"{heads.get(c, c):>9}" for c in COLUMNS))
    for name in names:
        cells = [_cell([r[name][c] for r in per_seed if name in r and c in r[name]]) for c in COLUMNS]
        print(f"{name:<{width}}  " + "  ".join(f"{c:>9}" for c in cells))


def _mean(per_seed: list[dict[str, dict[str, float]]], name: str, column: str) -> float:
    values = [r[name][column] for r in per_seed if name in r and column in r[name]]
    return float(np.mean(values)) if values else float("nan")


def print_summary(results: dict[str, list[dict[str, dict[str, float]]]], detectors: tuple[str, ...]) -> None:
    """Per instrument and detector (overall variation), each issue-10 target: met or not, with the numbers."""
    print("\nTargets (issue 10, item 7), on the overall variation, mean over seeds:")
    for instrument, per_seed in results.items():
        for detector in detectors:
            name = f"{detector} variation"
            overall = _mean(per_seed, name, "overall")
            checks = [f"overall {overall:.2f}{' ok' if overall >= TARGET_OVERALL else ' MISS'}"]
            for column in SUBTLE:
                value = _mean(per_seed, name, column)
                checks.append(f"{column} {value:.2f}{' ok' if value >= TARGET_SUBTLE else ' MISS'}")
            below = [c for c in COLUMNS if _mean(per_seed, name, c) < _mean(per_seed, BASELINE, c)]
            checks.append("below baseline: " + (", ".join(below) if below else "none"))
            print(f"  {instrument:<7} {detector:<14} " + "; ".join(checks))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=None, help="data seeds 0..N-1 (default 3; 1 with --quick)")
    parser.add_argument("--instruments", nargs="+", default=list(INSTRUMENTS), choices=INSTRUMENTS)
    parser.add_argument("--detectors", nargs="+", default=None, help="default: all of export.detectors.DETECTORS")
    parser.add_argument("--quick", action="store_true", help="a tiny set: 8 train, 4 normal + 2 per class test")
    parser.add_argument("--acid", action="store_true", help="use the variant with WAV acid chunks (beats, tempo)")
    parser.add_argument("--baseline-only", action="store_true", help="skip the rtloop bundles")
    parser.add_argument("--bars-hint", type=int, default=None, help="passed to TrainConfig.bars_hint")
    parser.add_argument(
        "--overall",
        default="auto",
        choices=("auto", "with-sound", "without-sound"),
        help="passed to TrainConfig.overall: whether the overall includes the network's sound aspect",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rtloop-quality",
        help="loop sets and embeddings (default ~/.cache/rtloop-quality)",
    )
    parser.add_argument("--sets", type=Path, default=None, help="loop sets folder (default CACHE/sets[-quick])")
    parser.add_argument("--soundfont", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write every per-seed ROC-AUC here")
    add_encoder_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if missing := missing_tools():
        print(f"missing: {', '.join(missing)}. Install with:\n  {APT_LINE}")
        return 2
    if args.baseline_only:
        detectors: tuple[str, ...] = ()
    else:
        from export.detectors import DETECTORS

        detectors = tuple(args.detectors or DETECTORS)
        unknown = [d for d in detectors if d not in DETECTORS]
        if unknown:
            print(f"unknown detector(s) {unknown}; choose from {DETECTORS}")
            return 2
    encoder = encoder_from(args)
    if encoder.checkpoint is not None and not encoder.checkpoint.is_file():
        print(f"--clap-ckpt {encoder.checkpoint}: no such file")
        return 2
    if detectors:
        print(f"rtloop bundles: encoder {encoder}")
    sizes = QUICK_SIZES if args.quick else SetSizes()
    n_seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    soundfont = args.soundfont or default_soundfont()
    sets = args.sets or args.cache / ("sets-quick" if args.quick else "sets")
    started = time.monotonic()
    results: dict[str, list[dict[str, dict[str, float]]]] = {i: [] for i in args.instruments}
    for seed in range(n_seeds):
        seed_dir = ensure_set(sets, seed, tuple(args.instruments), sizes, soundfont, args.acid)
        print(f"seed {seed}: {seed_dir}", flush=True)
        for instrument in args.instruments:
            results[instrument].append(
                run_instrument(
                    seed_dir / instrument,
                    instrument,
                    detectors,
                    args.cache,
                    args.bars_hint,
                    seed,
                    args.overall,
                    encoder,
                )
            )
    for instrument, per_seed in results.items():
        print_table(instrument, per_seed)
    if detectors:
        print_summary(results, detectors)
    print(f"\n{n_seeds} seed(s), {time.monotonic() - started:.0f} s, sets in {sets}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
