"""The ``rtloop`` command line: train, score, eval, verify, devices, run, demo, takes, scan and explore.

The one top layer: it may use both the live runtime (``rtloop``) and, lazily, the offline stage (``export``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtloop import __version__
from rtloop import cli_values as values
from rtloop.audio_io import load_audio
from rtloop.bundle import GridOptions, load_bundle
from rtloop.errors import STORAGE_REFUSED, AudioError, RtloopError
from rtloop.live import DEFAULT_BARS, ClockKind, RunConfig
from rtloop.midi_ports import APIS
from rtloop.osc_io import parse_host_port
from rtloop.osc_spec import (
    DEFAULT_CONTROL_HOST,
    DEFAULT_CONTROL_PORT,
    DEFAULT_OSC_HOST,
    DEFAULT_OSC_PORT,
    DEFAULT_PREFIX,
)
from rtloop.paths import default_cache_dir
from rtloop.session_options import flush_denormals_in_this_process
from rtloop.takes import TakesConfig, plot_session, read_session, summarise_session
from rtloop.train_config import (
    AMODELS,
    DETECTORS,
    ENCODER_PRECISIONS,
    FEATURES,
    OVERALL_CHOICES,
    EncoderPrecision,
    TrainConfig,
)

if TYPE_CHECKING:
    from rtloop.scores import Scores

LOG_LEVELS = ("debug", "info", "warning", "error")
INTERRUPTED = 130  # main's status after Ctrl-C: 128 + SIGINT, as shells report it


def add_encoder_options(parser: argparse.ArgumentParser) -> None:
    """The options that choose the encoder's checkpoint and architecture (``rtloop train``, the benchmarks)."""
    parser.add_argument("--clap-ckpt", type=Path, help="local LAION-CLAP checkpoint (.pt)")
    parser.add_argument("--amodel", default=TrainConfig.amodel, choices=AMODELS, help="the checkpoint's HTS-AT")
    parser.add_argument(
        "--no-fusion", action="store_true", help="no feature fusion: loops over 10 s use their first 10 s"
    )
    parser.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of --clap-ckpt")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a bundle on a folder of normal loops (needs rtloop[train])")
    p.add_argument("loops", type=Path, help="folder of loops (searched recursively) or one file")
    p.add_argument("-o", "--output", type=Path, required=True, help="bundle directory to write, e.g. bass.rtloop")
    add_encoder_options(p)
    p.add_argument(
        "--detector",
        default=TrainConfig.detector,
        choices=DETECTORS,
        help="detector of the network's features, the 'sound' aspect (default: the paper's residual Deep SVDD)",
    )
    p.add_argument(
        "--aspect-detector",
        default=TrainConfig.aspect_detector,
        choices=DETECTORS,
        help="detector of each descriptor aspect: rhythm, harmony, timbre, integrity (default: the best measured)",
    )
    p.add_argument(
        "--overall",
        default=TrainConfig.overall,
        choices=OVERALL_CHOICES,
        help="whether the overall variation includes the sound aspect (auto: only with a pretrained encoder)",
    )
    p.add_argument(
        "--features",
        default=TrainConfig.features,
        choices=FEATURES,
        help="detector input: HTS-AT's pooled latent (default) or CLAP's 512-d projection",
    )
    p.add_argument(
        "--encoder-precision",
        default=TrainConfig.encoder_precision,
        choices=ENCODER_PRECISIONS,
        help="int8: the encoder's linear layers quantised (a quarter of the file, faster on CPUs: bench/int8.py)",
    )
    p.add_argument("--random-encoder", action="store_true", help="no checkpoint: random encoder from --seed")
    p.add_argument(
        "--bars-hint", type=values.bars, help="bars per loop in this folder; the live daemon's default --bars"
    )
    p.add_argument("--bpm", type=values.bpm, help="tempo of loops whose files carry none (acid chunk, file name)")
    p.add_argument("--beats-per-bar", type=values.beats_per_bar, default=TrainConfig.beats_per_bar)
    p.add_argument("--seed", type=values.seed, default=TrainConfig.seed)
    p.add_argument(
        "--val-fraction",
        type=values.val_fraction,
        default=TrainConfig.val_fraction,
        help="held-out share for early stopping and calibration",
    )
    p.add_argument(
        "--quantile",
        type=values.quantile,
        default=TrainConfig.quantile,
        help="threshold = this quantile of held-out normal scores",
    )
    p.add_argument("--cache-dir", type=Path, help="embedding and checkpoint cache (default ~/.cache/rtloop)")
    p.add_argument(
        "--jobs",
        type=values.jobs,
        default=TrainConfig.jobs,
        help="processes that embed the loops (default: one per core)",
    )
    p.add_argument("--checkpoint-url", help="base URL of the LAION-CLAP checkpoints (a mirror of the hub's)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="rtloop", description="A real-time variation meter for musical loops.")
    parser.add_argument("--version", action="version", version=f"rtloop {__version__}")
    parser.add_argument("--config", type=Path, help="TOML file holding a command and its options (see docs/service.md)")
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS, help="messages shown on stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)

    p = sub.add_parser("score", help="score audio files with a bundle (ONNX Runtime only)")
    p.add_argument("bundle", type=Path)
    p.add_argument("files", type=Path, nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument(
        "--bpm", type=values.bpm, help="tempo of files that carry none (acid chunk, file name); default: training's"
    )
    p.add_argument(
        "--bars-hint", type=values.bars, help="bars per loop of files that carry no tempo; default: training's"
    )
    p.add_argument("--beats-per-bar", type=values.beats_per_bar, help="default: training's (4 if it gave none)")

    p = sub.add_parser("eval", help="ROC-AUC / PR-AUC of bundles on normal vs anomalous loops")
    p.add_argument("bundles", type=Path, nargs="+", help="one or more bundles trained on the same loops")
    p.add_argument("--normal", type=Path, required=True)
    p.add_argument("--anomalous", type=Path, required=True)
    p.add_argument("--plot", type=values.plot_file, help="write score histograms to this PNG (or PDF, SVG...)")

    p = sub.add_parser("verify", help="check a bundle's hashes and re-run its ONNX graphs on the self-test signals")
    p.add_argument("bundle", type=Path)

    sub.add_parser("devices", help="list audio inputs and MIDI ports").add_argument(
        "--midi-api", default=RunConfig.midi_api, choices=list(APIS), help="default: every MIDI API that works"
    )
    _add_run(sub)
    _add_demo(sub)

    p = sub.add_parser("takes", help="list a takes folder's loops by score; --plot the session")
    p.add_argument("folder", type=Path)
    p.add_argument("--top", type=values.top, default=20, help="how many loops to list (default 20)")
    p.add_argument("--plot", type=values.plot_file, help="write a PNG (or PDF, SVG...) of variation over the session")
    _add_scan(sub)
    _add_explore(sub)
    return parser


def instrument_name(text: str) -> str:
    """An instrument name usable inside an OSC address: lower-case letters, digits, '-' and '_'."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: an instrument name is 1..32 lower-case letters, digits, '-' or '_' (it becomes an OSC address)"
        )
    return text


def osc_prefix(text: str) -> str:
    """An OSC address prefix: ``/`` then parts of letters, digits, ``_ - . ~`` (at most 64 characters)."""
    if len(text) > 64 or not re.fullmatch(r"(/[A-Za-z0-9_.~-]+)+/?", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: an OSC prefix starts with '/' and holds letters, digits, '_', '-', '.', '~' and '/' "
            "(at most 64 characters), e.g. /rtloop or /stage/bass"
        )
    return text.rstrip("/")


def _add_osc_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--osc",
        action="append",
        metavar="HOST:PORT",
        help=f"OSC destination, repeatable (default {DEFAULT_OSC_HOST}:{DEFAULT_OSC_PORT})",
    )
    p.add_argument(
        "--control",
        default=f"{DEFAULT_CONTROL_HOST}:{DEFAULT_CONTROL_PORT}",
        metavar="HOST:PORT",
        help="where to listen for OSC control (default loopback only); 'off' to disable",
    )
    p.add_argument("--prefix", type=osc_prefix, default=DEFAULT_PREFIX, help="OSC address prefix")


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="score live input bar by bar and send OSC")
    p.add_argument("bundle", type=Path)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--input", help="audio input: index or name substring (default: the system's default)")
    source.add_argument("--file", type=Path, help="replay a recording through the live path instead")
    p.add_argument(
        "--channel", type=values.channel, default=RunConfig.channel, help="1-based input channel of the interface"
    )
    p.add_argument("--samplerate", type=values.samplerate, help="stream rate (default: the device's)")
    p.add_argument(
        "--blocksize",
        type=values.blocksize,
        default=RunConfig.blocksize,
        help="frames per audio callback (0: PortAudio's choice)",
    )
    p.add_argument("--midi", help="MIDI clock input: port index or name substring")
    p.add_argument("--midi-api", default=RunConfig.midi_api, choices=list(APIS))
    p.add_argument("--midi-virtual", action="store_true", help="create a MIDI input port for the clock source")
    p.add_argument(
        "--clock",
        type=ClockKind,
        choices=list(ClockKind),
        metavar="{" + ",".join(k.value for k in ClockKind) + "}",
        help="where bars come from (default: midi with --midi, internal with --bpm, windows with --window); "
        "link: Ableton Link, needs rtloop[link]",
    )
    p.add_argument("--link-sync", action="store_true", help="with --clock link: follow the session's start/stop")
    p.add_argument(
        "--bpm",
        type=values.bpm,
        help="internal clock at this tempo (no MIDI clock); with --clock link, the proposed tempo",
    )
    p.add_argument("--window", type=values.seconds, help="no clock at all: score the last WINDOW seconds (e.g. 4s) ...")
    p.add_argument(
        "--bars", type=values.bars, help=f"bars per scored loop (default: the bundle's bars hint, else {DEFAULT_BARS})"
    )
    p.add_argument(
        "--hop",
        type=values.hop,
        default=str(RunConfig.hop),
        help=f"score every HOP bars (default {RunConfig.hop}); with --window, every HOP seconds "
        f"({RunConfig.window_hop_s:g}s)",
    )
    p.add_argument("--beats-per-bar", type=values.beats_per_bar, default=RunConfig.beats_per_bar)
    p.add_argument(
        "--latency-ms", type=values.latency_ms, default=RunConfig.latency_ms, help="input latency to compensate"
    )
    p.add_argument(
        "--speed", type=values.speed, default=RunConfig.speed, help="with --file: replay this many times faster"
    )
    p.add_argument("--provider", action="append", help="onnxruntime execution provider (default: CUDA if present, CPU)")
    p.add_argument(
        "--threads",
        type=values.threads,
        default=RunConfig.threads,
        help=f"CPU threads of the scoring process (default {RunConfig.threads}; 1 where audio without a "
        "realtime thread drops out while it scores)",
    )
    p.add_argument(
        "--scorer-timeout",
        type=values.scorer_timeout,
        default=RunConfig.scorer_timeout,
        help="seconds without an answer before the scoring process is restarted",
    )
    p.add_argument("--takes", type=Path, help="keep flagged loops as WAV files here, with a session log")
    p.add_argument("--takes-all", action="store_true", help="keep every loop, not only flagged ones")
    p.add_argument(
        "--takes-max-mb",
        type=values.takes_max_mb,
        default=TakesConfig.max_bytes / 1024**2,
        help="size cap of the takes folder (oldest unflagged go first)",
    )
    p.add_argument(
        "--name",
        type=instrument_name,
        help="instrument name, for several instruments at once: OSC goes to PREFIX/NAME/..., terminal lines "
        "are tagged [NAME]; give each instrument its own --control port and --takes folder",
    )
    p.add_argument("--midi-out", metavar="PORT", help="also send the values as MIDI CC to this output port")
    p.add_argument("--midi-out-virtual", action="store_true", help="create a MIDI output port for the CC values")
    p.add_argument(
        "--midi-out-channel", type=values.midi_channel, default=RunConfig.midi_out_channel, help="MIDI channel 1..16"
    )
    _add_osc_options(p)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole live path on a built-in virtual bass player (no hardware)")
    p.add_argument("--seconds", type=values.demo_seconds, default=60.0, help="length of the demo (default 60)")
    p.add_argument("--forever", action="store_true", help="keep playing until Ctrl-C")
    p.add_argument(
        "--speed", type=values.speed, default=RunConfig.speed, help="play this many times faster than real time"
    )
    p.add_argument("--cache-dir", type=Path, help="where the demo bundle is kept (default ~/.cache/rtloop)")
    _add_osc_options(p)


def _train(args: argparse.Namespace) -> int:
    from export.train import train

    manifest = train(
        TrainConfig(
            loops=args.loops,
            output=args.output,
            amodel=args.amodel,
            fusion=not args.no_fusion,
            detector=args.detector,
            features=args.features,
            encoder_precision=args.encoder_precision,
            checkpoint=args.clap_ckpt,
            random_encoder=args.random_encoder,
            trust_checkpoint=args.trust_checkpoint,
            seed=args.seed,
            val_fraction=args.val_fraction,
            quantile=args.quantile,
            bars_hint=args.bars_hint,
            bpm=args.bpm,
            beats_per_bar=args.beats_per_bar,
            aspect_detector=args.aspect_detector,
            overall=args.overall,
            cache_dir=args.cache_dir or default_cache_dir(),
            download_url=args.checkpoint_url,
            jobs=args.jobs,
        )
    )
    cal = manifest["calibration"]
    print(
        f"wrote {args.output}: {manifest['detector']['name']} on {manifest['features']}, "
        f"{manifest['training']['n_fit']} fit + {manifest['training']['n_val']} held-out loops, "
        f"threshold {cal['threshold']:.4g} (q{cal['quantile']:.2f}), "
        f"parity cosine {manifest['parity']['embedding_cosine_min']:.6f}"
    )
    if "int8" in (parity := manifest["parity"]):
        moved = parity["int8"][f"{manifest['features']}_distance_change_max"]
        print(
            f"int8 encoder: embeddings at cosine {parity['int8']['embedding_cosine_min']:.6f} to fp32's; "
            f"distances between loops in the detector's {manifest['features']} moved by up to {100 * moved:.1f} %"
        )
    sources = ", ".join(f"{n} {source}" for source, n in manifest["training"]["grids"]["sources"].items())
    print(
        f"aspects: {', '.join(manifest['aspects'])} ({args.aspect_detector}) and sound ({args.detector}); "
        f"overall combines {', '.join(manifest['overall']['aspects'])}; loop grids: {sources}"
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from rtloop.grid import GridSource
    from rtloop.scorer import Scorer

    bundle = load_bundle(args.bundle)
    scorer = Scorer(bundle)
    rate, trained = bundle.frontend.sample_rate, bundle.grid_options
    options = GridOptions(
        args.bpm or trained.bpm, args.bars_hint or trained.bars_hint, args.beats_per_bar or trained.beats_per_bar
    )
    failed = 0
    for path in args.files:
        try:
            wave = load_audio(path, rate)
        except AudioError as exc:
            failed += 1
            print(f"{path}: {exc}", file=sys.stderr)
            continue
        grid = options.grid(path, wave, rate)
        if args.bars_hint and grid.source is GridSource.ESTIMATED:
            print(
                f"{path}: --bars-hint {args.bars_hint} gives no tempo in {values.MIN_BPM:g}..{values.MAX_BPM:g} bpm: "
                "its grid is estimated",
                file=sys.stderr,
            )
        scores = scorer.score([wave], [grid])
        row = score_row(path, scores)
        if args.json:
            print(json.dumps(row))
        else:
            flag = "  FLAGGED" if row["flagged"] else ""
            aspects = "".join(f"  {name} {value:.2f}" for name, value in row["aspects"].items())
            print(f"{path}: score {row['score']:.5g}  variation {row['variation']:.3f}{flag}{aspects}")
    return 1 if failed else 0


def score_row(path: Path, scores: Scores) -> dict[str, Any]:
    """One file's scores as ``rtloop score --json`` prints them."""
    row: dict[str, Any] = {
        "file": str(path),
        "score": float(scores.raw[0]),
        "variation": float(scores.variation[0]),
        "flagged": bool(scores.flagged[0]),
        "aspects": {name: float(values[0]) for name, values in scores.aspects.items()},
    }
    if scores.top_aspects:
        row["top_aspect"] = scores.top_aspects[0]
    if scores.grids:
        grid = scores.grids[0]
        row["grid"] = {"source": grid.source.value, "bpm": round(grid.bpm, 2), "bars": grid.bars}
    return row


def _eval(args: argparse.Namespace) -> int:
    from export.evaluate import evaluate, plot, report

    results = evaluate([load_bundle(b) for b in args.bundles], args.normal, args.anomalous)
    print(report(results))
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from rtloop.scorer import Scorer

    bundle = load_bundle(args.bundle)
    scorer = Scorer(bundle)
    rel = scorer.self_test()
    encoder = bundle.manifest["encoder"]
    int8 = bundle.encoder_precision is EncoderPrecision.INT8
    reference = "the int8 graph's in onnxruntime at export" if int8 else "PyTorch's"
    print(
        f"{args.bundle}: OK. {len(bundle.manifest['files'])} files match their sha256; self-test scores "
        f"within {rel:.1e} of {reference}; {encoder['config']['name']}"
        f"{' with fusion' if encoder['config']['fusion'] else ''}, {bundle.encoder_precision.value}, "
        f"{'pretrained' if encoder['pretrained'] else 'RANDOM (not pretrained)'} encoder; "
        f"providers {', '.join(scorer.providers)}"
    )
    return 0


def _devices(args: argparse.Namespace) -> int:
    from rtloop.audio_input import list_input_devices
    from rtloop.midi_ports import ports_by_api

    print("audio inputs:")
    try:
        with _quiet_stderr():
            inputs = list_input_devices()
        for index, name, channels, rate in inputs:
            print(f"  [{index}] {name} ({channels} ch, {rate:.0f} Hz)")
        if not inputs:
            print("  none found")
    except RtloopError as exc:
        print(f"  unavailable: {exc}")
    for output, what in ((False, "MIDI inputs"), (True, "MIDI outputs (--midi-out)")):
        with _quiet_stderr():
            midi = ports_by_api(args.midi_api, output)
        for api, ports in midi:
            print(f"{what} ({api}):")
            if isinstance(ports, str):
                print(f"  unavailable: {ports}")
            elif not ports:
                print("  none found")
            for index, name in enumerate(ports if isinstance(ports, list) else []):
                print(f"  [{index}] {name}")
    return 0


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence what C libraries (ALSA, JACK, PortAudio) print on file descriptor 2 while probing:
    what matters of it reaches the listing as the error message."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _osc_settings(args: argparse.Namespace) -> tuple[tuple[tuple[str, int], ...], tuple[str, int] | None]:
    try:
        destinations = tuple(parse_host_port(d) for d in (args.osc or [f"{DEFAULT_OSC_HOST}:{DEFAULT_OSC_PORT}"]))
        control = None if args.control == "off" else parse_host_port(args.control, DEFAULT_CONTROL_HOST)
    except ValueError as exc:
        raise RtloopError(str(exc)) from exc
    return destinations, control


def _run(args: argparse.Namespace) -> int:
    from rtloop.live import run

    osc, control = _osc_settings(args)
    try:
        hop_seconds = values.hop_seconds(args.hop) if args.window else RunConfig.window_hop_s
        hop_bars = RunConfig.hop if args.window else int(args.hop)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise RtloopError(f"--hop {args.hop!r}: {exc}") from None
    takes = None
    if args.takes:
        takes = TakesConfig(args.takes, keep_all=args.takes_all, max_bytes=int(args.takes_max_mb * 1024**2))
    cfg = RunConfig(
        bundle=args.bundle,
        osc=osc,
        control=control,
        prefix=args.prefix,
        name=args.name,
        input=args.input,
        channel=args.channel,
        sample_rate=args.samplerate,
        blocksize=args.blocksize,
        file=args.file,
        speed=args.speed,
        midi=args.midi,
        midi_api=args.midi_api,
        midi_virtual=args.midi_virtual,
        bpm=args.bpm,
        clock=args.clock,
        link_sync=args.link_sync,
        bars=args.bars,
        hop=hop_bars,
        beats_per_bar=args.beats_per_bar,
        latency_ms=args.latency_ms,
        window_s=args.window,
        window_hop_s=hop_seconds,
        takes=takes,
        providers=tuple(args.provider) if args.provider else None,
        threads=args.threads,
        scorer_timeout=args.scorer_timeout,
        midi_out=args.midi_out,
        midi_out_virtual=args.midi_out_virtual,
        midi_out_channel=args.midi_out_channel,
        terminal_marks=True,
    )
    summary = run(cfg)
    print(summary.render())
    return 1 if summary.reason else 0


def _takes(args: argparse.Namespace) -> int:
    print(summarise_session(args.folder, args.top))
    if args.plot:
        plot_session(read_session(args.folder), 0.5, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _train_demo_bundle(loops: Path, output: Path, cache_dir: Path) -> None:
    """The demo's bundle, trained through the same pipeline as ``rtloop train`` (needs rtloop[train])."""
    from export.train import train

    train(TrainConfig(loops=loops, output=output, random_encoder=True, bars_hint=1, cache_dir=cache_dir))


def _demo(args: argparse.Namespace) -> int:
    from rtloop.demo import run_demo

    osc, control = _osc_settings(args)
    summary = run_demo(
        args.cache_dir or default_cache_dir(),
        args.seconds,
        args.forever,
        osc,
        control,
        _train_demo_bundle,
        speed=args.speed,
    )
    return 1 if summary.reason else 0


def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="score every loop under folders into a library database (see docs/library.md)")
    p.add_argument("bundle", type=Path)
    p.add_argument("library", type=Path, nargs="+", help="folders of loops (searched recursively)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the SQLite database, e.g. library.db")
    p.add_argument("--jobs", type=values.jobs, default=0, help="worker processes (default: one per core)")
    p.add_argument("--batch", type=values.batch, default=8, help="files per worker task (default 8)")
    p.add_argument("--provider", action="append", help="onnxruntime execution provider (default: CUDA if present)")
    p.add_argument("--rescore", action="store_true", help="score every file again (e.g. with another bundle)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: auto, HOST:PORT or ray://HOST:10001")


def _add_explore(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explore", help="browse a library database (or a takes session) in the web browser")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("database", type=Path, nargs="?", help="a library database written by rtloop scan")
    source.add_argument("--takes", type=Path, metavar="DIR", help="a takes folder: its session on a timeline")
    p.add_argument("--host", default="127.0.0.1", help="interface to serve on (default: this machine only)")
    p.add_argument("--port", type=values.port, default=0, help="TCP port (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address, do not open a browser")


def _scan(args: argparse.Namespace) -> int:
    from rtloop.library.scan import ScanConfig, local_runner, scan

    cfg = ScanConfig(
        bundle=args.bundle,
        roots=tuple(args.library),
        database=args.output,
        jobs=args.jobs,
        batch=args.batch,
        providers=tuple(args.provider) if args.provider else None,
        rescore=args.rescore,
    )
    if args.ray:
        from rtloop.library.ray_scan import ray_runner

        summary = scan(cfg, ray_runner(args.ray))
    else:
        summary = scan(cfg, local_runner)
    for path, reason in summary.reasons:
        print(f"{path}: {reason}", file=sys.stderr)
    print(f"{args.output}: {summary.render()}")
    return 0


def _explore(args: argparse.Namespace) -> int:
    from rtloop.library.explore import ExploreConfig, Mode, serve

    if args.takes is not None:
        cfg = ExploreConfig(args.takes, Mode.TAKES, args.host, args.port)
    else:
        cfg = ExploreConfig(args.database, Mode.LIBRARY, args.host, args.port)
    try:
        serve(cfg, open_browser=not args.no_browser)
    except FileNotFoundError as exc:
        raise RtloopError(str(exc)) from None
    return 0


COMMANDS = {
    "train": _train,
    "score": _score,
    "eval": _eval,
    "verify": _verify,
    "devices": _devices,
    "run": _run,
    "demo": _demo,
    "takes": _takes,
    "scan": _scan,
    "explore": _explore,
}


def config_argv(path: Path) -> list[str]:
    """A TOML config file as command-line words: ``command`` and ``bundle`` first, then one option per
    key (``key = value`` -> ``--key value``, ``true`` -> ``--key``, lists repeat the option).

    Raises:
        RtloopError: unreadable file or a value of an unsupported type.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RtloopError(f"config {path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RtloopError(f"config {path}: {exc}") from exc
    argv = [str(data.pop("command", "run"))]
    if "bundle" in data:
        argv.append(str(data.pop("bundle")))
    for key, value in data.items():
        option = "--" + key.replace("_", "-")
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is True:
                argv.append(option)
            elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                argv += [option, str(item)]
            elif item is not False:
                raise RtloopError(f"config {path}: {key} = {item!r} is not a string, number or true/false")
    return argv


def with_config(argv: list[str]) -> list[str]:
    """The command line with a ``--config FILE`` (first, or after ``--log-level LEVEL``) replaced by the file's
    words; ``--log-level`` goes before the command, and what is typed wins over the file.

    Raises:
        RtloopError: no file after ``--config``, or one that cannot be read (see :func:`config_argv`).
    """
    at = _config_at(argv)
    if at is None:
        return argv
    if argv[at].startswith("--config="):
        argv = [*argv[:at], "--config", argv[at].removeprefix("--config="), *argv[at + 1 :]]
    if at + 1 >= len(argv) or not argv[at + 1]:
        raise RtloopError("--config needs a file")
    from_file = _split_global_options(config_argv(Path(argv[at + 1])))
    typed = _split_global_options(argv[:at] + argv[at + 2 :])
    return from_file[0] + typed[0] + from_file[1] + typed[1]


def _config_at(argv: list[str]) -> int | None:
    """Where ``--config`` stands among rtloop's own options (first, or after ``--log-level LEVEL``), or None."""
    at = 2 if argv[:1] == ["--log-level"] else 1 if argv[:1] and argv[0].startswith("--log-level=") else 0
    word = argv[at] if at < len(argv) else ""
    return at if word == "--config" or word.startswith("--config=") else None


def _split_global_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(``--log-level LEVEL`` wherever it stands, the other words): rtloop's option goes before the command."""
    front: list[str] = []
    rest: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            front += [word, *[value for value in [next(words, None)] if value is not None]]  # none: argparse says so
        elif word.startswith("--log-level="):
            front.append(word)
        else:
            rest.append(word)
    return front, rest


def console_main() -> int:
    """The ``rtloop`` program: :func:`main` in a process of its own, whose thread flushes denormals as
    onnxruntime's do once it makes a session (:func:`rtloop.session_options.flush_denormals_in_this_process`).

    Interrupted by Ctrl-C, it ends killed by SIGINT once it has said so (on POSIX), as an uncaught
    KeyboardInterrupt would: a shell loop or ``make`` around it then stops too.
    """
    flush_denormals_in_this_process()
    status = main()
    if status == INTERRUPTED and os.name == "posix":
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = with_config(argv)
    except RtloopError as exc:
        print(f"rtloop: error: {exc}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if isinstance(stream, io.TextIOWrapper):  # a file name that is not UTF-8: its bytes, or escaped in messages
            stream.reconfigure(errors=errors)
    logging.basicConfig(level=args.log_level.upper(), format="rtloop: %(levelname)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except RtloopError as exc:
        print(f"rtloop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the storage refused a write that no command could have gone on without
        if exc.errno not in STORAGE_REFUSED:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"rtloop {args.command}: error: cannot write{where}: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: what a command finished is kept (caches, a library's rows)
        print(f"rtloop {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except ModuleNotFoundError as exc:
        if exc.name in ("torch", "sklearn", "onnx", "matplotlib", "tqdm", "skl2onnx"):
            print(f"rtloop {args.command}: needs the training extra: pip install 'rtloop[train]'", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(console_main())
