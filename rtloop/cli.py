"""The ``rtloop`` command: train, score, eval, verify (train and eval need ``rtloop[train]``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rtloop import __version__
from rtloop.audio_io import load_audio
from rtloop.bundle import load_bundle
from rtloop.errors import AudioError, RtloopError
from rtloop.midi_input import APIS
from rtloop.osc_io import parse_host_port
from rtloop.osc_spec import DEFAULT_CONTROL_HOST, DEFAULT_CONTROL_PORT, DEFAULT_OSC_HOST, DEFAULT_OSC_PORT, DEFAULT_PREFIX


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a bundle on a folder of normal loops (needs rtloop[train])")
    p.add_argument("loops", type=Path, help="folder of loops (searched recursively) or one file")
    p.add_argument("-o", "--output", type=Path, required=True, help="bundle directory to write, e.g. bass.rtloop")
    p.add_argument("--clap-ckpt", type=Path, help="local LAION-CLAP checkpoint (.pt)")
    p.add_argument("--amodel", default="HTSAT-tiny", choices=["HTSAT-tiny", "HTSAT-base"])
    p.add_argument("--no-fusion", action="store_true", help="no feature fusion: loops over 10 s use their first 10 s")
    p.add_argument("--detector", default="svdd-residual", choices=["svdd-residual", "svdd", "iforest", "pca"])
    p.add_argument(
        "--features",
        default="latent",
        choices=["latent", "embedding"],
        help="detector input: HTS-AT's pooled latent (default) or CLAP's 512-d projection",
    )
    p.add_argument("--random-encoder", action="store_true", help="no checkpoint: random encoder from --seed")
    p.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of --clap-ckpt")
    p.add_argument("--bars-hint", type=int, help="bars per loop in this folder; the live daemon's default --bars")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.2, help="held-out share for early stopping and calibration")
    p.add_argument("--quantile", type=float, default=0.95, help="threshold = this quantile of held-out normal scores")
    p.add_argument("--cache-dir", type=Path, help="embedding and checkpoint cache (default ~/.cache/rtloop)")
    p.add_argument("--checkpoint-url", help="base URL of the LAION-CLAP checkpoints (a mirror of the hub's)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="rtloop", description="A real-time variation meter for musical loops.")
    parser.add_argument("--version", action="version", version=f"rtloop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)

    p = sub.add_parser("score", help="score audio files with a bundle (ONNX Runtime only)")
    p.add_argument("bundle", type=Path)
    p.add_argument("files", type=Path, nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per file")

    p = sub.add_parser("eval", help="ROC-AUC / PR-AUC of bundles on normal vs anomalous loops")
    p.add_argument("bundles", type=Path, nargs="+", help="one or more bundles trained on the same loops")
    p.add_argument("--normal", type=Path, required=True)
    p.add_argument("--anomalous", type=Path, required=True)
    p.add_argument("--plot", type=Path, help="write score histograms to this PNG")

    p = sub.add_parser("verify", help="check a bundle's hashes and re-run its ONNX graphs on the self-test signals")
    p.add_argument("bundle", type=Path)

    sub.add_parser("devices", help="list audio inputs and MIDI ports").add_argument(
        "--midi-api", default="default", choices=list(APIS)
    )
    _add_run(sub)
    _add_demo(sub)
    return parser


def _add_osc_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--osc", action="append", metavar="HOST:PORT",
        help=f"OSC destination, repeatable (default {DEFAULT_OSC_HOST}:{DEFAULT_OSC_PORT})",
    )
    p.add_argument(
        "--control", default=f"{DEFAULT_CONTROL_HOST}:{DEFAULT_CONTROL_PORT}", metavar="HOST:PORT",
        help="where to listen for OSC control (default loopback only); 'off' to disable",
    )
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help="OSC address prefix")


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="score live input bar by bar and send OSC")
    p.add_argument("bundle", type=Path)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--input", help="audio input: index or name substring (default: the system's default)")
    source.add_argument("--file", type=Path, help="replay a recording through the live path instead")
    p.add_argument("--channel", type=int, default=1, help="1-based input channel of the interface")
    p.add_argument("--samplerate", type=int, help="stream rate (default: the device's)")
    p.add_argument("--blocksize", type=int, default=0, help="frames per audio callback (0: PortAudio's choice)")
    p.add_argument("--midi", help="MIDI clock input: port index or name substring")
    p.add_argument("--midi-api", default="default", choices=list(APIS))
    p.add_argument("--midi-virtual", action="store_true", help="create a MIDI input port for the clock source")
    p.add_argument("--bpm", type=float, help="internal clock at this tempo (no MIDI clock)")
    p.add_argument("--bars", type=int, help="bars per scored loop (default: the bundle's bars hint, else 2)")
    p.add_argument("--hop", type=int, default=1, help="score every HOP bars (default every bar)")
    p.add_argument("--beats-per-bar", type=int, default=4)
    p.add_argument("--latency-ms", type=float, default=0.0, help="input latency to compensate")
    p.add_argument("--speed", type=float, default=1.0, help="with --file: replay this many times faster")
    p.add_argument("--provider", action="append", help="onnxruntime execution provider (default: CUDA if present, CPU)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for scoring (default 1: leaves cores to audio)")
    _add_osc_options(p)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole live path on a built-in virtual bass player (no hardware)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the demo (default 60)")
    p.add_argument("--forever", action="store_true", help="keep playing until Ctrl-C")
    p.add_argument("--speed", type=float, default=1.0, help="play this many times faster than real time")
    p.add_argument("--cache-dir", type=Path, help="where the demo bundle is kept (default ~/.cache/rtloop)")
    _add_osc_options(p)


def _train(args: argparse.Namespace) -> int:
    from export.embed import default_cache_dir
    from export.train import TrainConfig, train

    manifest = train(
        TrainConfig(
            loops=args.loops,
            output=args.output,
            amodel=args.amodel,
            fusion=not args.no_fusion,
            detector=args.detector,
            features=args.features,
            checkpoint=args.clap_ckpt,
            random_encoder=args.random_encoder,
            trust_checkpoint=args.trust_checkpoint,
            seed=args.seed,
            val_fraction=args.val_fraction,
            quantile=args.quantile,
            bars_hint=args.bars_hint,
            cache_dir=args.cache_dir or default_cache_dir(),
            download_url=args.checkpoint_url,
        )
    )
    cal = manifest["calibration"]
    print(
        f"wrote {args.output}: {manifest['detector']['name']} on {manifest['features']}, "
        f"{manifest['training']['n_fit']} fit + {manifest['training']['n_val']} held-out loops, "
        f"threshold {cal['threshold']:.4g} (q{cal['quantile']:.2f}), "
        f"parity cosine {manifest['parity']['embedding_cosine_min']:.6f}"
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from rtloop.scorer import Scorer

    bundle = load_bundle(args.bundle)
    scorer = Scorer(bundle)
    failed = 0
    for path in args.files:
        try:
            scores = scorer.score([load_audio(path, bundle.frontend.sample_rate)])
        except AudioError as exc:
            failed += 1
            print(f"{path}: {exc}", file=sys.stderr)
            continue
        row = {
            "file": str(path),
            "score": float(scores.raw[0]),
            "variation": float(scores.variation[0]),
            "flagged": bool(scores.flagged[0]),
        }
        if args.json:
            print(json.dumps(row))
        else:
            flag = "  FLAGGED" if row["flagged"] else ""
            print(f"{path}: score {row['score']:.5g}  variation {row['variation']:.3f}{flag}")
    return 1 if failed else 0


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
    print(
        f"{args.bundle}: OK. {len(bundle.manifest['files'])} files match their sha256; self-test scores "
        f"within {rel:.1e} of PyTorch's; {encoder['config']['name']}"
        f"{' with fusion' if encoder['config']['fusion'] else ''}, "
        f"{'pretrained' if encoder['pretrained'] else 'RANDOM (not pretrained)'} encoder; "
        f"providers {', '.join(scorer.providers)}"
    )
    return 0


def _devices(args: argparse.Namespace) -> int:
    from rtloop.audio_input import list_input_devices
    from rtloop.midi_input import list_midi_inputs

    print("audio inputs:")
    for index, name, channels, rate in list_input_devices():
        print(f"  [{index}] {name} ({channels} ch, {rate:.0f} Hz)")
    print(f"MIDI inputs ({args.midi_api}):")
    for index, name in enumerate(list_midi_inputs(args.midi_api)):
        print(f"  [{index}] {name}")
    return 0


def _osc_settings(args: argparse.Namespace) -> tuple[tuple[tuple[str, int], ...], tuple[str, int] | None]:
    try:
        destinations = tuple(parse_host_port(d) for d in (args.osc or [f"{DEFAULT_OSC_HOST}:{DEFAULT_OSC_PORT}"]))
        control = None if args.control == "off" else parse_host_port(args.control, DEFAULT_CONTROL_HOST)
    except ValueError as exc:
        raise RtloopError(str(exc)) from exc
    return destinations, control


def _run(args: argparse.Namespace) -> int:
    from rtloop.live import RunConfig, build_daemon, run_until_signal

    osc, control = _osc_settings(args)
    cfg = RunConfig(
        bundle=args.bundle, osc=osc, control=control, prefix=args.prefix, input=args.input, channel=args.channel,
        sample_rate=args.samplerate, blocksize=args.blocksize, file=args.file, speed=args.speed, midi=args.midi,
        midi_api=args.midi_api, midi_virtual=args.midi_virtual, bpm=args.bpm, bars=args.bars, hop=args.hop,
        beats_per_bar=args.beats_per_bar, latency_ms=args.latency_ms,
        providers=tuple(args.provider) if args.provider else None, threads=args.threads,
    )
    daemon, midi = build_daemon(cfg)
    summary = run_until_signal(daemon, midi)
    print(summary.render())
    return 1 if summary.reason else 0


def _demo(args: argparse.Namespace) -> int:
    from rtloop.demo import run_demo

    osc, control = _osc_settings(args)
    cache = args.cache_dir
    if cache is None:
        from export.embed import default_cache_dir

        cache = default_cache_dir()
    run_demo(cache, args.seconds, args.forever, osc, control, args.speed)
    return 0


COMMANDS = {
    "train": _train, "score": _score, "eval": _eval, "verify": _verify,
    "devices": _devices, "run": _run, "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RtloopError as exc:
        print(f"rtloop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name in ("torch", "sklearn", "onnx", "matplotlib", "tqdm", "skl2onnx"):
            print(f"rtloop {args.command}: needs the training extra: pip install 'rtloop[train]'", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
