"""Scanning folders into a library database: find files, read only new or changed ones, score them on
every core (or a Ray cluster), store the results and recompute the map.

A scan is resumable: results are committed every few seconds, and a file's row is written only with its
result, so an interrupted scan's unfinished files are simply read again by the next one.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from rtloop.audio_io import find_audio_files
from rtloop.bundle import MANIFEST, load_bundle
from rtloop.cores import usable_cores
from rtloop.errors import AudioError, RtloopError
from rtloop.library.db import LibraryDB, LibraryError, LoopResult, in_use, in_use_message, write_refused
from rtloop.library.projection import update_map
from rtloop.library.worker import ScanWorker, Task
from rtloop.session_options import flush_denormals_in_this_process
from rtloop.worker_processes import become_worker, sigint_blocked

COMMIT_SECONDS = 2.0


@dataclass(frozen=True)
class ScanConfig:
    """What to scan, into which database, with what.

    Args:
        bundle: the bundle that scores the loops.
        roots: library folders (searched recursively).
        database: the SQLite file (created if absent).
        jobs: worker processes (0: one per core).
        batch: files per worker task (the encoder runs on a batch at once).
        providers: onnxruntime execution providers for the workers (default: CUDA if present, else CPU).
        rescore: forget every stored score and read every file again (needed to switch bundles).
    """

    bundle: Path
    roots: tuple[Path, ...]
    database: Path
    jobs: int = 0
    batch: int = 8
    providers: tuple[str, ...] | None = None
    rescore: bool = False


@dataclass
class ScanSummary:
    """Counts of one scan."""

    found: int = 0
    read: int = 0
    scored: int = 0
    unchanged: int = 0
    unreadable: int = 0
    missing: int = 0
    seconds: float = 0.0
    workers: int = 0
    reasons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def loops_per_s(self) -> float:
        """Files read per second of the scoring phase (0 if none)."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def render(self) -> str:
        return (
            f"{self.found} files: {self.scored} scored, {self.unchanged} unchanged, {self.unreadable} unreadable, "
            f"{self.missing} gone; read {self.read} in {self.seconds:.1f} s ({self.loops_per_s:.1f} loops/s, "
            f"{self.workers} workers)"
        )


class Runner(Protocol):
    """Runs batches of tasks somewhere (local processes, a Ray cluster); results come back in any order."""

    workers: int

    def map(self, batches: Iterable[list[Task]]) -> Iterator[list[LoopResult]]: ...

    def close(self) -> None: ...


_WORKER: ScanWorker | None = None


def _init_worker(bundle_path: str, providers: list[str] | None) -> None:
    global _WORKER
    become_worker()  # Ctrl-C reaches the whole group: the scan stops us, or we end when it has gone
    flush_denormals_in_this_process()
    _WORKER = ScanWorker(bundle_path, providers, threads=1)


def _run_batch(tasks: list[Task]) -> list[LoopResult]:
    assert _WORKER is not None, "worker process not initialised"
    return _WORKER.run(tasks)


class InlineRunner:
    """Scores in this process (``--jobs 1``): no pool to start."""

    workers = 1

    def __init__(self, bundle: Path, providers: list[str] | None = None) -> None:
        self.worker = ScanWorker(str(bundle), providers, threads=1)

    def map(self, batches: Iterable[list[Task]]) -> Iterator[list[LoopResult]]:
        for tasks in batches:
            yield self.worker.run(tasks)

    def close(self) -> None:
        """Nothing to release."""


class ProcessRunner:
    """A pool of worker processes, each with its own single-threaded ONNX Runtime session.

    At most two batches per worker are in flight, so memory stays flat however large the library. The
    workers ignore Ctrl-C, and end if this process is killed (see :mod:`rtloop.worker_processes`).
    """

    def __init__(self, bundle: Path, jobs: int, providers: list[str] | None = None) -> None:
        self.workers = jobs
        self.pool = ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a process holding threads
            initializer=_init_worker,
            initargs=(str(bundle), providers),
        )

    def map(self, batches: Iterable[list[Task]]) -> Iterator[list[LoopResult]]:
        pending: set[Future] = set()
        try:
            for tasks in batches:
                with sigint_blocked():  # a submit may start a worker
                    pending.add(self.pool.submit(_run_batch, tasks))
                if len(pending) >= 2 * self.workers:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        except BrokenProcessPool as exc:
            raise RtloopError(
                "a scan worker process died (out of memory, or killed); what was scored so far is kept: "
                "run the scan again to go on"
            ) from exc

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def local_runner(cfg: ScanConfig) -> Runner:
    """The default runner: ``cfg.jobs`` processes (every core when 0), or this process for one job."""
    jobs = cfg.jobs or usable_cores()
    providers = list(cfg.providers) if cfg.providers else None
    return InlineRunner(cfg.bundle, providers) if jobs == 1 else ProcessRunner(cfg.bundle, jobs, providers)


class Progress:
    """A one-line progress report with loops/s and the time left (stderr; redrawn in place on a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.printed = 0

    def update(self, done: int, unreadable: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.5 if self.tty else 10.0):
            return
        if final and done == self.printed and not self.tty:
            return  # the last line already says it
        self.printed = done
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        left = (self.total - done) / rate if rate > 0 else 0.0
        line = (
            f"scan: {done}/{self.total} files  {rate:.1f} loops/s  "
            f"{int(left // 60)}m{int(left % 60):02d}s left  {unreadable} unreadable"
        )
        end = "\n" if final or not self.tty else ""
        print(("\r" if self.tty else "") + line, end=end, file=self.stream, flush=True)


def bundle_id(bundle: Path) -> str:
    """sha256 of the bundle's manifest (which holds the sha256 of every graph and the calibration)."""
    return hashlib.sha256((bundle / MANIFEST).read_bytes()).hexdigest()


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


@dataclass(frozen=True)
class _Pending:
    root_id: int
    root: Path
    size: int
    mtime_ns: int


def _batches(tasks: list[Task], size: int) -> Iterator[list[Task]]:
    for start in range(0, len(tasks), size):
        yield tasks[start : start + size]


def scan(
    cfg: ScanConfig,
    make_runner: Callable[[ScanConfig], Runner] = local_runner,
    progress_stream: TextIO | None = None,
) -> ScanSummary:
    """Scan ``cfg.roots`` into ``cfg.database``.

    Args:
        cfg: the scan's settings.
        make_runner: builds the runner that scores the files (default: local processes).
        progress_stream: where the progress line goes (default stderr).

    Returns:
        the counts of this scan (every file found is scored, unchanged or listed unreadable).

    Raises:
        BundleError: a bundle that does not load.
        LibraryError: a database scanned with another bundle (without ``rescore``), of a newer schema, or that
            cannot be written (a full disk).
        AudioError: a library path that is neither a folder nor a file.
    """
    load_bundle(cfg.bundle)  # fail here, not in every worker
    bundle = cfg.bundle.resolve()
    resolved = sorted({Path(r).resolve() for r in cfg.roots})
    roots = [r for r in resolved if not any(r != o and r.is_relative_to(o) for o in resolved)]  # nested: once
    summary = ScanSummary()
    try:
        _scan_into(cfg, bundle, roots, summary, make_runner, progress_stream)
    except sqlite3.OperationalError as exc:
        if in_use(exc):
            raise LibraryError(in_use_message(cfg.database, exc)) from exc
        if not write_refused(exc):
            raise
        raise LibraryError(
            f"cannot write {cfg.database}: {exc}; the results stored before are kept: "
            "run the scan again to go on once it can be written"
        ) from exc
    return summary


def _scan_into(
    cfg: ScanConfig,
    bundle: Path,
    roots: list[Path],
    summary: ScanSummary,
    make_runner: Callable[[ScanConfig], Runner],
    progress_stream: TextIO | None,
) -> None:
    with LibraryDB(cfg.database) as db:
        wanted_id = bundle_id(bundle)
        stored_id = db.meta("bundle_id")
        if stored_id not in (None, wanted_id):
            if not cfg.rescore:
                raise LibraryError(
                    f"{cfg.database} was scanned with another bundle ({db.meta('bundle_path')}); "
                    "use --rescore to score every file again with this one, or another database"
                )
        with db.conn:
            if cfg.rescore:
                db.forget_scores()
            db.set_meta("bundle_path", str(bundle))
            db.set_meta("bundle_id", wanted_id)
            db.set_meta("threshold_variation", "0.5")
        tasks, pending = _plan(db, roots, summary)
        summary.read = len(tasks)
        if tasks:
            _score(db, cfg, tasks, pending, make_runner, summary, progress_stream)
        with db.conn:
            db.set_meta("updated", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            update_map(db)


def _plan(db: LibraryDB, roots: list[Path], summary: ScanSummary) -> tuple[list[Task], dict[str, _Pending]]:
    """Walk the roots: which files must be read; files gone are marked missing, links out listed unreadable."""
    tasks: list[Task] = []
    pending: dict[str, _Pending] = {}
    for root in roots:
        if not root.exists():
            raise AudioError(f"{root} does not exist")
        base = root if root.is_dir() else root.parent  # folders are named relative to this
        with db.conn:
            root_id = db.root_id(root)
            known = db.known(root)
            found = set()
            audio = find_audio_files(root)
            for left_out in audio.skipped:  # folders named *.wav, dangling links, link loops, unreadable folders
                found.add(str(left_out.path))
                summary.found += 1
                try:
                    info = os.lstat(left_out.path)
                    size, mtime = info.st_size, info.st_mtime_ns
                except OSError:
                    size, mtime = 0, 0
                file_id = db.upsert_file(left_out.path, root_id, base, size, mtime)
                db.store(file_id, LoopResult(str(left_out.path), None, reason=left_out.reason))
                summary.unreadable += 1
                summary.reasons.append((str(left_out.path), left_out.reason))
            for path in audio.files:
                found.add(str(path))
                summary.found += 1
                stat = path.stat()
                entry = known.get(str(path))
                if not _inside(path.resolve(), roots):
                    file_id = db.upsert_file(path, root_id, base, stat.st_size, stat.st_mtime_ns)
                    reason = f"links outside the library (to {path.resolve()}): not read"
                    db.store(file_id, LoopResult(str(path), None, reason=reason))
                    summary.unreadable += 1
                    summary.reasons.append((str(path), reason))
                    continue
                fresh = (
                    entry is not None
                    and entry.state != "missing"
                    and entry.sha256 is not None
                    and (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
                )
                if fresh:
                    summary.unchanged += 1
                    continue
                tasks.append(Task(str(path), entry.sha256 if entry else None))
                pending[str(path)] = _Pending(root_id, base, stat.st_size, stat.st_mtime_ns)
            gone = [e.id for p, e in known.items() if p not in found and e.state != "missing"]
            db.mark_missing(gone)
            summary.missing += len(gone)
    return tasks, pending


def _score(
    db: LibraryDB,
    cfg: ScanConfig,
    tasks: list[Task],
    pending: dict[str, _Pending],
    make_runner: Callable[[ScanConfig], Runner],
    summary: ScanSummary,
    progress_stream: TextIO | None,
) -> None:
    runner = make_runner(cfg)
    summary.workers = runner.workers
    progress = Progress(len(tasks), progress_stream)
    start = time.monotonic()
    last_commit = start
    aspect_names: list[str] = json.loads(db.meta("aspects") or "[]")
    done = 0
    try:
        for results in runner.map(_batches(tasks, cfg.batch)):
            for result in results:
                where = pending[result.path]
                file_id = db.upsert_file(Path(result.path), where.root_id, where.root, where.size, where.mtime_ns)
                if result.unchanged:
                    db.restore(file_id)
                    summary.unchanged += 1
                else:
                    db.store(file_id, result)
                    if result.reason is not None:
                        summary.unreadable += 1
                        summary.reasons.append((result.path, result.reason))
                    else:
                        summary.scored += 1
                        names = [a for a, _, _ in result.aspects]
                        if names and names != aspect_names:
                            aspect_names = names
                            db.set_meta("aspects", json.dumps(names))
                done += 1
            if time.monotonic() - last_commit > COMMIT_SECONDS:
                db.conn.commit()
                last_commit = time.monotonic()
            progress.update(done, summary.unreadable)
    finally:
        try:
            db.conn.commit()  # an interrupted scan keeps every result it has: the next one goes on from there
        finally:
            runner.close()
    summary.seconds = time.monotonic() - start
    progress.update(done, summary.unreadable, final=True)
