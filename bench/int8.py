"""The cost of an int8 encoder (``rtloop train --encoder-precision int8``) against fp32, in one run.

On synthetic bass loops (``rtloop.synth``) and random HTS-AT-tiny+fusion weights (seed 0, as
``bench/embed_speed.py``), or a LAION-CLAP checkpoint's (``--clap-ckpt``: what int8 costs a pretrained
encoder), with the graphs training makes (``export.encoder_graph.EncoderGraph``):

* throughput of the fp32 and the int8 ``encoder.onnx`` in onnxruntime, numpy front-end included, at
  batch 8 and batch 1: the best of ``--rounds`` interleaved rounds (the machine is shared), and the ratio.
  rtloop runs an int8 graph one loop per run (``rtloop.scorer.run_encoder``: its activation scales are
  per batch), so its own int8 throughput is the batch-1 figure; batch 8 is what the graph could do;
* cosine of the int8 graph's embeddings and latents to the fp32 graph's (mean, min), and how much the
  distance between every two loops changes (median, max; ``export.quantise.distance_change``);
* with ``--auc`` (a few minutes): ROC-AUC of the planted deviations (``rtloop.synth.DEVIATIONS``, each
  against the normal test loops, and all together: ``overall``) for a bundle trained with each precision
  by ``export.train.train`` on the same loops, with the sound aspect in the overall (``with-sound``):
  the sound aspect's raw score (the only one the encoder feeds) and the overall variation.

    PYTHONPATH=$PWD python bench/int8.py [--loops 16] [--rounds 3] [--threads 0]
        [--auc] [--train 24] [--per-class 6] [--detector svdd-residual]
        [--clap-ckpt FILE [--amodel A] [--no-fusion] [--trust-checkpoint]]

int8 against laion-clap's PyTorch path: ``bench/embed_speed.py`` (its "rtloop ONNX Runtime int8" row).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed_speed import timed  # noqa: E402  (bench/ is a folder of scripts, not a package)
from quality import Encoder, aucs, encoder_from, train_quietly  # noqa: E402

from export.clap_checkpoint import build_encoder  # noqa: E402
from export.encoder_graph import EncoderGraph  # noqa: E402
from export.htsat import htsat_config  # noqa: E402
from export.onnx_export import cosine  # noqa: E402
from export.quantise import distance_change  # noqa: E402
from export.train import frontend_for  # noqa: E402
from rtloop.cli import add_encoder_options  # noqa: E402
from rtloop.frontend import FrontEndConfig  # noqa: E402
from rtloop.scorer import run_encoder  # noqa: E402
from rtloop.session_options import flush_denormals_in_this_process, session_options  # noqa: E402
from rtloop.synth import DEVIATIONS, bass_loop, write_loop_set  # noqa: E402
from rtloop.train_config import EncoderPrecision  # noqa: E402

BPM = 120.0


def session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU session with the options rtloop's scorer uses."""
    return ort.InferenceSession(path.read_bytes(), session_options(threads), providers=["CPUExecutionProvider"])


def throughput(
    sessions: dict[str, ort.InferenceSession], waves: list[np.ndarray], frontend: FrontEndConfig, rounds: int
) -> dict[tuple[str, int], float]:
    """Loops/s per (precision, batch): the best of ``rounds`` rounds, the precisions interleaved."""
    best: dict[tuple[str, int], float] = {}
    for _ in range(rounds):
        for batch in (8, 1):
            batches = [waves[i : i + batch] for i in range(0, len(waves), batch)]
            for name, sess in sessions.items():
                run = partial(run_encoder, sess, frontend=frontend, one_loop_per_run=False)
                rate = len(waves) / timed(run, batches)
                best[(name, batch)] = max(best.get((name, batch), 0.0), rate)
    return best


def planted_set(root: Path, n_train: int, per_class: int) -> tuple[Path, list[Path], list[str]]:
    """Training loops, and test loops (normal and one folder per deviation) with their labels."""
    write_loop_set(root / "train", n_train, seed=1)
    tests = [(p, "normal") for p in write_loop_set(root / "test" / "normal", 2 * per_class, seed=2)]
    for i, deviation in enumerate(DEVIATIONS):
        paths = write_loop_set(root / "test" / deviation, per_class, seed=3 + i, deviation=deviation)
        tests += [(p, deviation) for p in paths]
    return root / "train", [p for p, _ in tests], [label for _, label in tests]


def bundle_scores(
    train_dir: Path,
    tests: list[Path],
    precision: EncoderPrecision,
    detector: str,
    cache: Path,
    out: Path,
    encoder: Encoder,
) -> dict[str, np.ndarray]:
    """Train a bundle at ``precision`` and score each test loop alone: ``sound`` raw and ``overall`` variation."""
    from rtloop.audio_io import load_audio
    from rtloop.bundle import load_bundle
    from rtloop.grid import grid_for_file
    from rtloop.scorer import Scorer
    from rtloop.train_config import TrainConfig

    cfg = TrainConfig(
        loops=train_dir,
        output=out,
        **encoder.train_options(),
        detector=detector,
        overall="with-sound",
        encoder_precision=precision.value,
        bpm=BPM,
        bars_hint=1,
        cache_dir=cache,
    )
    train_quietly(cfg)
    scorer = Scorer(load_bundle(out), providers=["CPUExecutionProvider"])
    rate = scorer.bundle.frontend.sample_rate
    rows: dict[str, list[float]] = {"sound raw": [], "overall": []}
    for path in tests:
        wave = load_audio(path, rate)
        scores = scorer.score([wave], [grid_for_file(path, wave, rate, BPM, 1)])
        rows["sound raw"].append(float(scores.aspect_raw["sound"][0]))
        rows["overall"].append(float(scores.variation[0]))
    return {name: np.asarray(values) for name, values in rows.items()}


def print_aucs(
    train_dir: Path, tests: list[Path], labels: list[str], detector: str, work: Path, encoder: Encoder
) -> None:
    """ROC-AUC per deviation class of each precision's bundle, and int8's change."""
    results = {}
    for precision in EncoderPrecision:
        started = time.monotonic()
        scores = bundle_scores(
            train_dir, tests, precision, detector, work / "cache", work / f"{precision.value}.rtloop", encoder
        )
        results[precision] = {row: aucs(values, labels) for row, values in scores.items()}
        print(f"  {precision.value} bundle ({detector}): trained and scored in {time.monotonic() - started:.0f} s")
    columns = [c for c in (*DEVIATIONS, "overall") if c in results[EncoderPrecision.FP32]["overall"]]
    print(f"ROC-AUC, {labels.count('normal')} normal test loops against each planted deviation (and all: overall)")
    print(f"  {'row':<22}" + "".join(f"{c[:13]:>14}" for c in columns))
    for row in results[EncoderPrecision.FP32]:
        fp32, int8 = results[EncoderPrecision.FP32][row], results[EncoderPrecision.INT8][row]
        print(f"  {row + ' fp32':<22}" + "".join(f"{fp32[c]:>14.3f}" for c in columns))
        print(f"  {row + ' int8':<22}" + "".join(f"{int8[c]:>14.3f}" for c in columns))
        print(f"  {row + ' change':<22}" + "".join(f"{int8[c] - fp32[c]:>+14.3f}" for c in columns))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=16, help="loops timed (two bars at 120 bpm each)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; the best counts")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    parser.add_argument("--auc", action="store_true", help="also train a bundle per precision and compare ROC-AUC")
    parser.add_argument("--train", type=int, default=24, help="training loops of the --auc bundles")
    parser.add_argument("--per-class", type=int, default=6, help="test loops per deviation (twice as many normal)")
    parser.add_argument("--detector", default="svdd-residual", help="the sound aspect's detector of --auc")
    add_encoder_options(parser)
    args = parser.parse_args()
    encoder = encoder_from(args)
    if encoder.checkpoint is not None and not encoder.checkpoint.is_file():
        parser.error(f"--clap-ckpt {encoder.checkpoint}: no such file")
    flush_denormals_in_this_process()  # as in `rtloop train`
    rng = np.random.default_rng(0)
    waves = [bass_loop(BPM, 2, 48000, rng) for _ in range(args.loops)]
    frontend = frontend_for(encoder.fusion)
    model = build_encoder(
        htsat_config(encoder.amodel, encoder.fusion), encoder.checkpoint, seed=0, allow_pickle=encoder.trust_checkpoint
    )
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as tmp:
        work = Path(tmp)
        graph = EncoderGraph(model, frontend, EncoderPrecision.INT8, work)
        sizes = {name: path.stat().st_size / 2**20 for name, path in (("fp32", graph.fp32), ("int8", graph.shipped))}
        sessions = {"fp32": session(graph.fp32, args.threads), "int8": session(graph.shipped, args.threads)}
        rates = throughput(sessions, waves, frontend, args.rounds)
        fp32_out = run_encoder(sessions["fp32"], waves, frontend, False)
        int8_out = run_encoder(sessions["int8"], waves, frontend, True)  # as rtloop runs it
        threads = args.threads or os.cpu_count()
        print(
            f"{args.loops} loops of 4 s, {encoder}, onnxruntime {ort.__version__}, "
            f"{threads} intra-op threads, best of {args.rounds} rounds\ngraphs: {sizes['fp32']:.0f} MiB fp32, "
            f"{sizes['int8']:.0f} MiB int8 ({', '.join(graph.quantisation['op_types'])} weights, 7-bit range)"
        )
        for batch in (8, 1):
            fp32, int8 = rates[("fp32", batch)], rates[("int8", batch)]
            print(f"  batch {batch}: fp32 {fp32:6.2f} loops/s, int8 {int8:6.2f} loops/s, int8/fp32 {int8 / fp32:5.2f}x")
        for what, index in (("embedding", 1), ("latent", 0)):
            c = cosine(fp32_out[index], int8_out[index])
            change = distance_change(fp32_out[index], int8_out[index])
            print(
                f"  {what} cosine int8 to fp32: mean {c.mean():.5f}, min {c.min():.5f}; distance between two "
                f"loops changed by {100 * np.median(change):.1f} % (median), at most {100 * change.max():.1f} %"
            )
        if args.auc:
            train_dir, tests, labels = planted_set(work / "loops", args.train, args.per_class)
            print_aucs(train_dir, tests, labels, args.detector, work, encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
