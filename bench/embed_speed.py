"""Embedding throughput: our ONNX Runtime path against PyTorch (ours, and laion-clap's audio branch).

All three embed the same loops with the same random HTS-AT-tiny+fusion weights:

* rtloop ONNX: numpy front-end + ``encoder.onnx`` in onnxruntime, one session of ``--batch`` loops a run
  (what ``rtloop score`` and ``scan``'s workers run);
* rtloop ONNX int8: the same graph quantised as ``rtloop train --encoder-precision int8`` makes it, run
  one loop per call as rtloop runs it (``rtloop.scorer.run_encoder``), whatever ``--batch``;
* each of the two as ``rtloop train`` embeds (``export.embed_workers.EmbedWorkers``): one worker process
  per core, each running one loop at a time on one thread (its pool's start is timed apart, once);
* rtloop PyTorch: the same front-end + our ``HTSATEncoder``;
* laion-clap PyTorch: the same mel through laion-clap's own ``HTSAT_Swin_Transformer`` + projection,
  i.e. the network ``CLAP_Module.get_audio_embedding_from_data`` runs. ``CLAP_Module`` itself cannot
  be built offline (it downloads RoBERTa), so its data preparation is replaced by our front-end.

Each path is timed once per round, the paths interleaved, and the best of ``--rounds`` rounds counts
(the machine is shared). ``--keep-denormals`` runs the onnxruntime paths without flushing denormal floats
(``rtloop.session_options``), to see what flushing gains; it must be its own run, since onnxruntime sets
the flag of the process's first session once per process. ``--matmul-bound`` then profiles the fp32
graph in onnxruntime and prints how much of its time the matrix products take: laion-clap's time per loop
over theirs bounds the fp32 ratio on this CPU, were everything else free. ``--against GRAPH`` times
another ``encoder.onnx`` of the same weights beside this code's in the same rounds (say, from a bundle an
earlier rtloop trained with ``--random-encoder``: seed 0, these weights), says whether the two graphs'
outputs are identical, and how long each takes to become a session (the scoring child's start and restart).

    python bench/embed_speed.py [--loops 24] [--seconds 4] [--batch 8] [--rounds 3] [--keep-denormals]
                                [--matmul-bound] [--against GRAPH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.clap_checkpoint import build_encoder
from export.embed_workers import EmbedWorkers
from export.encoder_graph import EncoderGraph
from export.htsat import htsat_config
from export.laion_reference import laion_audio_encoder
from rtloop.frontend import FrontEndConfig, batch_inputs
from rtloop.scorer import run_encoder
from rtloop.session_options import flush_denormals_in_this_process, session_options
from rtloop.synth import bass_loop
from rtloop.train_config import EncoderPrecision


def timed(fn, batches) -> float:  # type: ignore[no-untyped-def]
    fn(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        fn(batch)
    return time.perf_counter() - start


MATRIX_PRODUCTS = {"MatMul", "FusedMatMul", "Gemm"}
SESSION_TRIES = 3


def session_seconds(graph: bytes, options: ort.SessionOptions) -> float:
    """Median of SESSION_TRIES times to make a CPU session of ``graph``."""
    times = []
    for _ in range(SESSION_TRIES):
        start = time.perf_counter()
        ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_share(
    graph: bytes, flush: bool, batches: list[list[np.ndarray]], frontend: FrontEndConfig
) -> tuple[float, float]:
    """Seconds per loop of the fp32 ``graph``'s matrix-product kernels, and of all its kernels, from
    onnxruntime's profiler over one run of each batch (after a warm-up run)."""
    options = session_options(flush_denormals=flush)
    options.enable_profiling = True
    folder = tempfile.mkdtemp(prefix="rtloop-profile-")
    options.profile_file_prefix = str(Path(folder) / "encoder")
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    inputs = [dict(zip(("mel", "longer"), batch_inputs(batch, frontend), strict=True)) for batch in batches]
    session.run(["embedding"], inputs[0])
    for feed in inputs:
        session.run(["embedding"], feed)
    profile = Path(session.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink()
    Path(folder).rmdir()
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    loops = sum(len(batch) for batch in batches) + len(batches[0])  # the warm-up run is profiled too
    matmul = sum(e["dur"] for e in kernels if e["args"]["op_name"] in MATRIX_PRODUCTS)
    return matmul / 1e6 / loops, sum(e["dur"] for e in kernels) / 1e6 / loops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=4.0, help="loop length (4 s = two bars at 120 bpm)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; the best counts")
    parser.add_argument(
        "--keep-denormals", action="store_true", help="onnxruntime's default floats: to see what flushing gains"
    )
    parser.add_argument(
        "--matmul-bound", action="store_true", help="profile the fp32 graph: what its matrix products leave"
    )
    parser.add_argument("--against", type=Path, help="another encoder.onnx of the same weights, timed beside ours")
    args = parser.parse_args()
    if args.against is not None and not args.against.is_file():
        parser.error(f"--against {args.against}: no such file")
    with contextlib.ExitStack() as stack:  # the graphs' folder and the workers
        return measure(args, stack)


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    """Time every path as the options ask and print the results; ``stack`` closes what it opens."""
    flush = not args.keep_denormals
    if flush:
        flush_denormals_in_this_process()  # as in `rtloop train`
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    bars = max(1, round(args.seconds / 2))
    waves = [bass_loop(120.0, bars, 48000, rng) for _ in range(args.loops)]
    batches = [waves[i : i + args.batch] for i in range(0, len(waves), args.batch)]
    frontend = FrontEndConfig()
    model = build_encoder(htsat_config("HTSAT-tiny", fusion=True), None, seed=0)

    tmp = stack.enter_context(tempfile.TemporaryDirectory())
    graphs = {}
    for precision in EncoderPrecision:
        (Path(tmp) / precision.value).mkdir()
        graphs[precision] = EncoderGraph(model, frontend, precision, Path(tmp) / precision.value)
    options = session_options(flush_denormals=flush)
    graph = graphs[EncoderPrecision.FP32].shipped.read_bytes()
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    int8_graph = graphs[EncoderPrecision.INT8].shipped.read_bytes()
    int8 = ort.InferenceSession(int8_graph, options, providers=["CPUExecutionProvider"])
    workers = {p: stack.enter_context(EmbedWorkers(g)) for p, g in graphs.items()}
    pool_start = {}
    for precision, pool in workers.items():
        start = time.perf_counter()
        pool.embed(batches[0])  # starts the pool: every worker process and its session
        pool_start[precision] = time.perf_counter() - start

    def onnx_path(graph_session: ort.InferenceSession, batch: list[np.ndarray]) -> None:
        mel, longer = batch_inputs(batch, frontend)
        graph_session.run(["embedding"], {"mel": mel, "longer": longer})

    def torch_path(module: torch.nn.Module, batch: list[np.ndarray]) -> None:
        mel, longer = batch_inputs(batch, frontend)
        with torch.no_grad():
            module(torch.from_numpy(mel), torch.from_numpy(longer))

    paths: dict[str, Callable[[list[np.ndarray]], None]] = {"rtloop ONNX Runtime": partial(onnx_path, session)}
    against = against_graph = None
    if args.against is not None:
        against_graph = args.against.read_bytes()
        against = ort.InferenceSession(against_graph, options, providers=["CPUExecutionProvider"])
        paths["--against graph"] = partial(onnx_path, against)
    paths |= {
        "rtloop ONNX Runtime int8": partial(run_encoder, int8, frontend=frontend, one_loop_per_run=True),
        "train's workers": workers[EncoderPrecision.FP32].embed,
        "train's workers, int8": workers[EncoderPrecision.INT8].embed,
        "rtloop PyTorch": partial(torch_path, model),
    }
    clap = laion_audio_encoder(model.audio_projection)
    if clap is not None:
        paths["laion-clap PyTorch"] = partial(torch_path, clap)
    results: dict[str, float] = {}
    for round_number in range(args.rounds):
        order = list(paths)
        if against is not None and round_number % 2:
            order[:2] = order[1::-1]  # the two graphs take turns going first
        for name in order:
            results[name] = min(results.get(name, np.inf), timed(paths[name], batches))
    print(
        f"{args.loops} loops of {2 * bars} s, batch {args.batch}, HTS-AT-tiny + fusion, {os.cpu_count()} CPU threads, "
        f"best of {args.rounds} interleaved rounds, denormals {'flushed' if flush else 'kept'}"
    )
    base = results.get("laion-clap PyTorch", results["rtloop PyTorch"])
    for name, seconds in results.items():
        print(f"  {name:<27} {args.loops / seconds:7.2f} loops/s   {base / seconds:5.2f}x laion-clap")
    print(
        f"train's workers: {workers[EncoderPrecision.FP32].jobs} processes of one thread, one loop per run; "
        f"their pool started in {pool_start[EncoderPrecision.FP32]:.1f} s (fp32), "
        f"{pool_start[EncoderPrecision.INT8]:.1f} s (int8; each worker imports this script's modules, torch "
        "among them), not counted above"
    )
    if against is not None and against_graph is not None:
        mel, longer = batch_inputs(batches[0], frontend)
        ours, theirs = (s.run(None, {"mel": mel, "longer": longer}) for s in (session, against))
        same = all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
        difference = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs, strict=True))
        ratio = results["--against graph"] / results["rtloop ONNX Runtime"]
        print(
            f"this code's graph against {args.against}: {ratio:.3f}x its speed; outputs "
            f"{'bit-identical' if same else f'differ by up to {difference:.3g}'}; a session made in "
            f"{1000 * session_seconds(graph, options):.0f} ms against "
            f"{1000 * session_seconds(against_graph, options):.0f} ms (median of {SESSION_TRIES})"
        )
    if args.matmul_bound:
        matmul, kernels = matmul_share(graph, flush, batches, frontend)
        print(
            f"fp32 graph, onnxruntime's profiler: matrix products {1000 * matmul:.1f} ms per loop of "
            f"{1000 * kernels:.1f} ms in kernels ({100 * matmul / kernels:.0f} %); laion-clap's "
            f"{1000 * base / args.loops:.1f} ms per loop is {base / args.loops / matmul:.2f}x the matrix products "
            "alone: the most fp32 can reach on this CPU, were everything else free"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
