"""Library scan throughput: loops/s of ``rtloop scan`` on synthesised loops, first scan and re-scan.

    python bench/scan_speed.py --bundle bass.rtloop [--loops 200] [--bars 1] [--jobs 0] [--batch 8]

Without ``--bundle`` a bundle with a random HTS-AT-tiny encoder is trained first (needs rtloop[train]);
scoring costs the same whatever the weights. The first scan reads, hashes, decodes and scores every
file (pool start-up included); the re-scan finds nothing changed and reads nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

from rtloop.cli import main as rtloop_main
from rtloop.library.db import LibraryDB
from rtloop.library.scan import ScanConfig, scan
from rtloop.synth import write_loop_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="bundle to score with (default: train a random-encoder one)")
    parser.add_argument("--loops", type=int, default=200)
    parser.add_argument("--bars", type=int, default=1, help="bars per loop at 120 BPM (1 bar = 2 s)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtloop-scan-bench-") as tmp:
        root = Path(tmp)
        bundle = args.bundle
        if bundle is None:
            write_loop_set(root / "train", 12, seed=1)
            bundle = root / "bench.rtloop"
            argv = ["train", str(root / "train"), "-o", str(bundle), "--random-encoder", "--cache-dir", str(root)]
            assert rtloop_main(argv) == 0
        write_loop_set(root / "library", args.loops, bars=args.bars, seed=2)
        cfg = ScanConfig(bundle, (root / "library",), root / "library.db", jobs=args.jobs, batch=args.batch)
        quiet = io.StringIO()
        start = time.perf_counter()
        first = scan(cfg, progress_stream=quiet)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = scan(cfg, progress_stream=quiet)
        again_s = time.perf_counter() - start
        with LibraryDB(cfg.database, readonly=True) as db:
            assert db.counts().get("scored") == args.loops, db.counts()
    print(
        f"command: python bench/scan_speed.py --loops {args.loops} --bars {args.bars} --jobs {args.jobs} "
        f"--batch {args.batch}{' --bundle ' + str(args.bundle) if args.bundle else ''}"
    )
    print(f"machine: {os.cpu_count()} cores; {first.workers} worker processes, {2 * args.bars} s loops")
    print(
        f"first scan: {args.loops} loops in {first_s:.1f} s = {args.loops / first_s:.1f} loops/s overall "
        f"({first.loops_per_s:.1f} loops/s in the scoring phase, pool start-up included)"
    )
    print(f"re-scan, nothing changed: {again_s:.2f} s ({again.read} files read)")


if __name__ == "__main__":
    main()
