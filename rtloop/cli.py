"""The ``rtloop`` command line: train, score, eval, verify, devices, run, demo and takes."""

from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from rtloop import __version__
from rtloop.audio_io import load_audio
from rtloop.bundle import load_bundle
from rtloop.errors import AudioError, RtloopError
from rtloop.midi_input import APIS
from rtloop.osc_io import parse_host_port
from rtloop.osc_spec import (
    DEFAULT_CONTROL_HOST,
    DEFAULT_CONTROL_PORT,
    DEFAULT_OSC_HOST,
    DEFAULT_OSC_PORT,
    DEFAULT_PREFIX,
)
from rtloop.takes import TakesConfig, plot_session, read_session


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
    parser.add_argument("--config", type=Path, help="TOML file holding a command and its options (see docs/service.md)")
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

    p = sub.add_parser("takes", help="list a takes folder's loops by score; --plot the session")
    p.add_argument("folder", type=Path)
    p.add_argument("--top", type=int, default=20, help="how many loops to list (default 20)")
    p.add_argument("--plot", type=Path, help="write a PNG of variation over the session")
    _add_scan(sub)
    _add_explore(sub)
    return parser


def _seconds(text: str) -> float:
    """``"4s"``, ``"4"`` or ``"0.5s"`` -> seconds."""
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 4s") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("a duration must be positive")
    return value


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
    p.add_argument("--window", type=_seconds, help="no clock at all: score the last WINDOW seconds (e.g. 4s) ...")
    p.add_argument("--bars", type=int, help="bars per scored loop (default: the bundle's bars hint, else 2)")
    p.add_argument("--hop", default="1", help="score every HOP bars (default 1); with --window, every HOP seconds (1s)")
    p.add_argument("--beats-per-bar", type=int, default=4)
    p.add_argument("--latency-ms", type=float, default=0.0, help="input latency to compensate")
    p.add_argument("--speed", type=float, default=1.0, help="with --file: replay this many times faster")
    p.add_argument("--provider", action="append", help="onnxruntime execution provider (default: CUDA if present, CPU)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for scoring (default 1: leaves cores to audio)")
    p.add_argument("--takes", type=Path, help="keep flagged loops as WAV files here, with a session log")
    p.add_argument("--takes-all", action="store_true", help="keep every loop, not only flagged ones")
    p.add_argument(
        "--takes-max-mb", type=float, default=2048.0, help="size cap of the takes folder (oldest unflagged go first)"
    )
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
    try:
        hop_seconds = _seconds(args.hop) if args.window else 1.0
        hop_bars = 1 if args.window else int(args.hop)
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
        bars=args.bars,
        hop=hop_bars,
        beats_per_bar=args.beats_per_bar,
        latency_ms=args.latency_ms,
        window_s=args.window,
        window_hop_s=hop_seconds,
        takes=takes,
        providers=tuple(args.provider) if args.provider else None,
        threads=args.threads,
    )
    daemon, midi = build_daemon(cfg)
    if takes is not None and sys.stdin is not None and sys.stdin.isatty():
        print("press Enter to mark the last loop as a take")
        threading.Thread(target=_marks_from_terminal, args=(daemon.requests,), daemon=True).start()
    summary = run_until_signal(daemon, midi)
    print(summary.render())
    return 1 if summary.reason else 0


def _marks_from_terminal(requests: collections.deque) -> None:
    """Thread: each line typed in the terminal asks the worker to mark the last loop."""
    for _line in sys.stdin:
        requests.append(("/mark", None))


def _takes(args: argparse.Namespace) -> int:
    try:
        records = read_session(args.folder)
    except FileNotFoundError as exc:
        raise RtloopError(str(exc)) from None
    loops = [r for r in records if r.event == "loop"]
    marked = {r.bar for r in records if r.event == "mark"}
    print(f"{args.folder}: {len(loops)} loops, {sum(r.flagged for r in loops)} over threshold, {len(marked)} marked")
    for r in sorted(loops, key=lambda r: r.score, reverse=True)[: args.top]:
        tags = ("  FLAG" if r.flagged else "") + ("  MARKED" if r.bar in marked else "")
        print(f"  bar {r.bar:>5}  {r.wall_time}  score {r.score:10.4g}  variation {r.variation:.2f}{tags}  {r.file}")
    if args.plot:
        plot_session(records, 0.5, args.plot)
        print(f"wrote {args.plot}")
    return 0


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
    "train": _train,
    "score": _score,
    "eval": _eval,
    "verify": _verify,
    "devices": _devices,
    "run": _run,
    "demo": _demo,
    "takes": _takes,
}


# -- library: scan and explore (issue 13; rtloop/library/) ---------------------------------------------


def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="score every loop under folders into a library database (see docs/library.md)")
    p.add_argument("bundle", type=Path)
    p.add_argument("library", type=Path, nargs="+", help="folders of loops (searched recursively)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the SQLite database, e.g. library.db")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: one per core)")
    p.add_argument("--batch", type=int, default=8, help="files per worker task (default 8)")
    p.add_argument("--provider", action="append", help="onnxruntime execution provider (default: CUDA if present)")
    p.add_argument("--rescore", action="store_true", help="score every file again (e.g. with another bundle)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster: auto, HOST:PORT or ray://HOST:10001")


def _add_explore(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explore", help="browse a library database (or a takes session) in the web browser")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("database", type=Path, nargs="?", help="a library database written by rtloop scan")
    source.add_argument("--takes", type=Path, metavar="DIR", help="a takes folder: its session on a timeline")
    p.add_argument("--host", default="127.0.0.1", help="interface to serve on (default: this machine only)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
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


COMMANDS.update(scan=_scan, explore=_explore)


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "--config":
        try:
            argv = config_argv(Path(argv[1])) + argv[2:]
        except RtloopError as exc:
            print(f"rtloop: error: {exc}", file=sys.stderr)
            return 2
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
