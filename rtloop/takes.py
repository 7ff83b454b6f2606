"""Keeping takes: WAV files of interesting loops and a session log, written off the real-time path.

The worker hands each scored loop to :class:`TakeKeeper` (a bounded queue, never blocking); a writer
thread decides what to keep, writes WAV files named so they sort by time, appends one CSV row and one
JSON line per loop (and per manual mark), rotates the logs and keeps the folder under a size cap by
deleting the oldest unflagged, unmarked takes first.

The writer survives every failure of the folder (read-only, full, removed, a stuck file system): a
WAV is written under a temporary name and renamed, so no partial take carries a take's name; a take
that cannot be written is counted as lost; log lines the disk refuses wait in a bounded backlog and
are written when the disk takes them again. :attr:`TakeKeeper.problem` says what is failing while it
fails, and :meth:`TakeKeeper.close` returns within a bound and says what was not written.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import errno
import io
import json
import logging
import math
import os
import queue
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import soundfile as sf

from rtloop.aspects import ASPECTS
from rtloop.errors import TakesError
from rtloop.resources import Closing

log = logging.getLogger(__name__)
LOG_FIELDS = ("event", "wall_time", "bar", "bpm", "score", "variation", "flagged", "marked", "file")
CSV_FIELDS = (*LOG_FIELDS, *ASPECTS)
JSONL = "session.jsonl"
CSV = "session.csv"
PART_SUFFIX = ".part"  # a take being written is ".<name>.part" until it is renamed to <name>
_STOP = ("stop",)


class Failure(str, Enum):
    """What the writer failed at; each kind is cleared by its own next success."""

    TAKE = "take"  # a WAV could not be written
    LOG = "log"  # a session log line could not be written (or the disk was full at start)
    CAP = "cap"  # old takes could not be deleted to keep the size cap
    UNEXPECTED = "unexpected"  # anything else (a bug): cleared by the next item handled without one


@dataclass(frozen=True)
class TakesConfig:
    """Where and what to keep, and how much the writer may hold back while the disk fails.

    Attributes:
        folder: the takes folder (created if missing).
        keep_all: keep every loop as a take, not only flagged ones.
        max_bytes: size cap of the takes; the oldest unflagged, unmarked ones go first.
        log_max_bytes: a session log over this size is renamed with a time stamp and started afresh.
        queue_items: loops and marks waiting for the writer; more are dropped and counted.
        backlog_lines: log lines per log file kept in memory while the disk refuses them; more are lost and counted.
        close_timeout_s: :meth:`TakeKeeper.close` waits this long for the writer, then gives up on what is left.
        stuck_after_s: a writer busy with one item this long is reported as stuck.
        retry_s: an idle writer with log lines waiting tries the disk again this often.
    """

    folder: Path
    keep_all: bool = False
    max_bytes: int = 2 * 1024**3
    log_max_bytes: int = 50 * 1024**2
    queue_items: int = 64
    backlog_lines: int = 10_000
    close_timeout_s: float = 10.0
    stuck_after_s: float = 10.0
    retry_s: float = 2.0


@dataclass(frozen=True)
class LoopRecord:
    """One row of the session log."""

    event: str  # "loop" or "mark"
    wall_time: str
    bar: int
    bpm: float
    score: float
    variation: float
    flagged: bool
    marked: bool
    file: str
    aspects: dict[str, float] = field(default_factory=dict)  # per-aspect variation (format-2 bundles)

    def csv_row(self) -> dict[str, object]:
        """The record as a CSV row: the fields, then one column per aspect (empty where absent)."""
        row: dict[str, object] = {k: v for k, v in asdict(self).items() if k != "aspects"}
        return row | {aspect: self.aspects.get(aspect, "") for aspect in ASPECTS}


@dataclass(frozen=True)
class TakesHealth:
    """What the takes writer failed to do so far (a snapshot; :meth:`TakeKeeper.health`).

    Attributes:
        problem: what is failing now (None while writing works).
        handled: loops and marks the writer has dealt with, written or not.
        dropped: loops and marks handed in while the queue was full (the writer fell behind).
        lost_takes: takes whose WAV could not be written.
        lost_records: log records that did not fit the in-memory backlog and are missing from a log.
        backlog_records: log records waiting in memory for the disk (at close: never written).
        abandoned: loops and marks still queued when :meth:`TakeKeeper.close` gave up on a stuck writer.
    """

    problem: str | None
    handled: int
    dropped: int
    lost_takes: int
    lost_records: int
    backlog_records: int
    abandoned: int

    def describe(self) -> str | None:
        """One line naming what was not written, or None when nothing was lost."""
        parts = []
        if self.lost_takes:
            parts.append(f"{self.lost_takes} take(s) not written")
        if self.lost_records + self.backlog_records:
            parts.append(f"{self.lost_records + self.backlog_records} log record(s) not written")
        if self.dropped:
            parts.append(f"{self.dropped} loop(s) or mark(s) dropped because the writer fell behind")
        if self.abandoned:
            parts.append(f"{self.abandoned} queued loop(s) or mark(s) abandoned because the writer was stuck")
        if not parts:
            return None
        return "takes: " + "; ".join(parts) + (f" (last problem: {self.problem})" if self.problem else "")


@dataclass(frozen=True)
class Session:
    """A takes folder's current session log as read back."""

    records: list[LoopRecord]
    corrupt_lines: int  # lines that are not a valid record (a crash mid-write, an edited file): skipped


def take_name(when: float, bar: int, bpm: float, score: float) -> str:
    """File name that sorts by time and says what the take is."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"
    return f"{stamp}_bar{bar:05d}_{bpm:.1f}bpm_score{score:.4g}.wav"


_TAKE_NAME = re.compile(r"\d{8}-\d{6}\.\d{3}_bar-?\d+_.+bpm_score.+\.wav")


def is_take_name(name: str) -> bool:
    """Whether a file name is one that :func:`take_name` gives (the size cap touches no other file)."""
    return _TAKE_NAME.fullmatch(name) is not None


class _AppendLog:
    """One append-only log file with a bounded backlog of the lines the disk has not taken yet.

    A short write keeps the unwritten rest of the line, so a full disk never leaves half a line that
    later lines are glued to; a file that ends inside a line (a crash) gets a newline first.
    """

    def __init__(self, path: Path, header: bytes, max_lines: int, max_bytes: int) -> None:
        self.path = path
        self.header = header
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.pending: collections.deque[bytes] = collections.deque()
        self._lead = b""  # header or newline owed before the pending lines
        self._midline = False  # the file ends inside something we are writing: no rotation, no new lead

    def offer(self, line: bytes) -> bool:
        """Queue a line; False when the backlog is full and the line is lost."""
        if len(self.pending) >= self.max_lines:
            return False
        self.pending.append(line)
        return True

    def flush(self) -> None:
        """Write the backlog; raises OSError with the unwritten rest kept for the next try."""
        if not self.pending and not self._lead:
            return
        if not self._midline:
            self._rotate_if_big()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not self._midline:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise OSError(errno.EINVAL, "not a regular file", str(self.path))
                if info.st_size == 0:
                    self._lead = self.header
                elif _last_byte(self.path, info.st_size) != b"\n":
                    self._lead = b"\n"
                self._midline = bool(self._lead)
            if self._lead:
                while self._lead:
                    self._lead = self._lead[os.write(fd, self._lead) :]
                self._midline = False
            while self.pending:
                line = self.pending[0]
                written = os.write(fd, line)
                if written < len(line):
                    self.pending[0] = line[written:]
                    self._midline = True
                else:
                    self.pending.popleft()
                    self._midline = False
        finally:
            os.close(fd)

    def _rotate_if_big(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_size <= self.max_bytes:
                return
            stamp = time.strftime("%Y%m%d-%H%M%S")
            target = self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}")
            n = 1
            while target.exists():
                target = self.path.with_name(f"{self.path.stem}.{stamp}-{n}{self.path.suffix}")
                n += 1
            self.path.rename(target)


class TakeKeeper(Closing):
    """Writes takes and the session log on its own thread; nothing it meets stops that thread.

    Args:
        cfg: folder, keep-all, size caps, bounds of the queue and the backlog.
        sample_rate: of the audio handed in.

    Raises:
        TakesError: the folder is a file, cannot be created, is not writable (read-only file system,
            no permission) or its log files are not regular files. A full disk is not an error:
            the keeper starts with :attr:`problem` set and writes once space returns.
    """

    def __init__(self, cfg: TakesConfig, sample_rate: int) -> None:
        self.cfg = cfg
        self.sample_rate = sample_rate
        self._lock = threading.Lock()
        # What is failing, by kind: each kind is cleared only by its own success (a log line that
        # fits while takes do not is no sign that takes work again), so a nearly full disk is said once.
        self._failing: dict[Failure, str] = {}
        self._problem: str | None = None
        if (full := _prepare_folder(cfg.folder)) is not None:
            self._fail(Failure.LOG, full)
        self._handled = self._dropped = self._lost_takes = self._lost_records = self._abandoned = 0
        self._busy: tuple[float, str] | None = None  # since when, and what, the writer is doing
        self._last: tuple[np.ndarray, LoopRecord] | None = None
        self._kept_before: set[str] | None = None  # flagged or marked takes in the log at start, read on first need
        self._kept_now: set[str] = set()  # flagged or marked takes of this run
        header = io.StringIO()
        csv.DictWriter(header, fieldnames=CSV_FIELDS).writeheader()
        self._logs = (
            _AppendLog(cfg.folder / JSONL, b"", cfg.backlog_lines, cfg.log_max_bytes),
            _AppendLog(cfg.folder / CSV, header.getvalue().encode(), cfg.backlog_lines, cfg.log_max_bytes),
        )
        self._queue: queue.Queue[tuple] = queue.Queue(maxsize=cfg.queue_items)
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name="takes", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Loops and marks dropped because the queue was full."""
        return self._dropped

    @property
    def problem(self) -> str | None:
        """What keeps the takes from being written right now, or None while writing works.

        Set at the first failure (logged once, at ERROR); names the latest failure while several kinds
        fail; cleared when each kind has worked again (a take written, the log backlog flushed), which
        is logged once at WARNING. A writer stuck on one item (a hung file system) for ``stuck_after_s``
        is a problem too. Cheap: the daemon may poll it every loop.
        """
        busy = self._busy
        if busy is not None and time.monotonic() - busy[0] > self.cfg.stuck_after_s:
            return f"takes writer stuck for {time.monotonic() - busy[0]:.0f} s {busy[1]} in {self.cfg.folder}"
        return self._problem

    def health(self) -> TakesHealth:
        """Counts of what was not written so far, and the current problem."""
        with self._lock:
            return TakesHealth(
                problem=self.problem,
                handled=self._handled,
                dropped=self._dropped,
                lost_takes=self._lost_takes,
                lost_records=self._lost_records,
                backlog_records=max(len(lg.pending) for lg in self._logs),
                abandoned=self._abandoned,
            )

    def add(
        self,
        audio: np.ndarray,
        bar: int,
        bpm: float,
        score: float,
        variation: float,
        flagged: bool,
        aspects: dict[str, float] | None = None,
    ) -> None:
        """Hand over a scored loop (worker thread; never blocks: a full queue drops and counts)."""
        # Plain Python numbers: numpy scalars (np.float32) would make the JSON log line fail later.
        per_aspect = {str(k): float(v) for k, v in (aspects or {}).items()}
        self._offer(
            (
                "loop",
                audio,
                time.time(),
                int(bar),
                float(bpm),
                float(score),
                float(variation),
                bool(flagged),
                per_aspect,
            )
        )

    def mark(self) -> None:
        """Mark the last scored loop as interesting: it is kept, and the mark is logged."""
        self._offer(("mark", time.time()))

    def _offer(self, item: tuple) -> None:
        try:
            if self._closing.is_set():  # the writer is gone or going: count, do not queue
                raise queue.Full
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self._dropped += 1
                dropped = self._dropped
            if math.log10(dropped).is_integer():  # 1, 10, 100, ...: said, not repeated per loop
                log.warning("takes: writer behind, %d loop(s) or mark(s) dropped so far", dropped)

    def close(self) -> TakesHealth:
        """Write what is queued, stop the writer and say what was not written.

        Waits at most ``close_timeout_s`` for the writer; a stuck writer is left behind (a daemon
        thread) and what is still queued is counted as abandoned. What was lost is logged once.

        Returns:
            The final counts; ``describe()`` is None when everything was written.
        """
        self._closing.set()
        with contextlib.suppress(queue.Full):  # a full queue: the writer stops once it is empty
            self._queue.put_nowait(_STOP)
        self._thread.join(self.cfg.close_timeout_s)
        if self._thread.is_alive():
            self._abandon.set()
            left = 0
            with contextlib.suppress(queue.Empty):
                while True:
                    left += self._queue.get_nowait() is not _STOP
            with self._lock:
                self._abandoned += left
            log.error("takes: writer did not finish within %.1f s, %s", self.cfg.close_timeout_s, self.problem)
        health = self.health()
        if (lost := health.describe()) is not None:
            log.error("%s", lost)
        return health

    # --- writer thread ---

    def _run(self) -> None:
        while not self._abandon.is_set():
            try:
                item = self._queue.get(block=not self._closing.is_set(), timeout=self.cfg.retry_s)
            except queue.Empty:
                if self._closing.is_set():
                    break
                if any(lg.pending for lg in self._logs):
                    self._guarded("retrying the session log", self._flush_logs)
                continue
            if item is _STOP:
                break
            what = f"with bar {item[3]}" if item[0] == "loop" else "with a mark"
            self._guarded(what, self._loop if item[0] == "loop" else self._mark, *item[1:])
            with self._lock:
                self._handled += 1
        if not self._abandon.is_set():
            self._guarded("writing the session log at close", self._flush_logs)

    def _guarded(self, what: str, step: Callable[..., None], *args: object) -> None:
        """Run one unit of work; whatever it raises is reported, never kills the thread."""
        self._busy = (time.monotonic(), what)
        try:
            step(*args)
        except Exception as exc:  # a bug or an error nobody foresaw: report it, keep writing later items
            log.exception("takes: unexpected error %s", what)
            self._fail(Failure.UNEXPECTED, f"unexpected error {what}: {exc!r}")
        else:
            self._recovered(Failure.UNEXPECTED)
        finally:
            self._busy = None

    def _fail(self, kind: Failure, reason: str) -> None:
        if not self._failing:
            log.error("takes: %s; scoring goes on, log lines wait in memory until the disk takes them", reason)
        self._failing.pop(kind, None)
        self._failing[kind] = reason  # the latest failure is the one :attr:`problem` names
        self._problem = reason

    def _recovered(self, kind: Failure) -> None:
        if self._failing.pop(kind, None) is None:
            return
        if self._failing:
            self._problem = next(reversed(self._failing.values()))
        else:
            log.warning("takes: writing to %s works again (was: %s)", self.cfg.folder, self._problem)
            self._problem = None

    def _loop(
        self,
        audio: np.ndarray,
        when: float,
        bar: int,
        bpm: float,
        score: float,
        variation: float,
        flagged: bool,
        aspects: dict[str, float],
    ) -> None:
        file = self._keep(audio, when, bar, bpm, score) if flagged or self.cfg.keep_all else ""
        record = LoopRecord("loop", _iso(when), bar, bpm, score, variation, flagged, False, file, aspects)
        self._last = (audio, record)
        self._append(record)

    def _mark(self, when: float) -> None:
        if self._last is None:
            log.warning("mark ignored: no loop scored yet")
            return
        audio, loop = self._last
        file = loop.file or self._keep(audio, when, loop.bar, loop.bpm, loop.score)
        self._last = (audio, LoopRecord(**{**asdict(loop), "file": file}))
        self._append(
            LoopRecord(
                "mark",
                _iso(when),
                loop.bar,
                loop.bpm,
                loop.score,
                loop.variation,
                loop.flagged,
                True,
                file,
                loop.aspects,
            )
        )

    def _keep(self, audio: np.ndarray, when: float, bar: int, bpm: float, score: float) -> str:
        """Write one take; returns its file name, or "" when it could not be written (counted, reported)."""
        name = take_name(when, bar, bpm, score)
        try:
            data = _wav_bytes(audio, self.sample_rate)
            _write_atomically(self.cfg.folder / name, data)
        except Exception as exc:  # OSError from the disk; libsndfile's own errors are RuntimeErrors
            with self._lock:
                self._lost_takes += 1
            self._fail(Failure.TAKE, f"cannot write take of bar {bar} in {self.cfg.folder}: {_reason(exc)}")
            return ""
        self._recovered(Failure.TAKE)
        try:
            self._enforce_cap()
        except OSError as exc:
            self._fail(Failure.CAP, f"cannot trim {self.cfg.folder} to its size cap: {_reason(exc)}")
        else:
            self._recovered(Failure.CAP)
        return name

    def _append(self, record: LoopRecord) -> None:
        if record.file and (record.flagged or record.marked):
            self._kept_now.add(record.file)
        row = io.StringIO()
        csv.DictWriter(row, fieldnames=CSV_FIELDS).writerow(record.csv_row())
        jsonl, csv_log = self._logs
        taken = [jsonl.offer((json.dumps(asdict(record)) + "\n").encode()), csv_log.offer(row.getvalue().encode())]
        if not all(taken):
            with self._lock:
                self._lost_records += 1
        self._flush_logs()

    def _flush_logs(self) -> None:
        for lg in self._logs:
            try:
                lg.flush()
            except OSError as exc:
                self._fail(Failure.LOG, f"cannot write {lg.path.name} in {self.cfg.folder}: {_reason(exc)}")
        if not any(lg.pending for lg in self._logs):
            self._recovered(Failure.LOG)

    def _enforce_cap(self) -> None:
        """Delete takes, oldest unflagged and unmarked first, until they fit the cap. Other WAV files in
        the folder (a user's own) are neither counted nor touched."""
        sizes = {}
        for path in sorted(p for p in self.cfg.folder.glob("*.wav") if is_take_name(p.name)):
            with contextlib.suppress(FileNotFoundError):  # removed by someone else meanwhile
                sizes[path] = path.stat().st_size
        takes = list(sizes)
        total = sum(sizes.values())
        if total <= self.cfg.max_bytes:
            return
        keep = self._precious()  # raises OSError when the log cannot be read: then nothing is deleted
        for path in [p for p in takes if p.name not in keep] + [p for p in takes if p.name in keep]:
            if total <= self.cfg.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= sizes[path]

    def _precious(self) -> set[str]:
        """Takes that were flagged or marked: those of earlier runs from the log (read once, corrupt lines
        skipped and counted), those of this run from memory (their log lines may still be in the backlog)."""
        if self._kept_before is None:
            kept: set[str] = set()
            if (self.cfg.folder / JSONL).is_file():
                session = load_session(self.cfg.folder)
                kept = {r.file for r in session.records if r.file and (r.flagged or r.marked)}
                if session.corrupt_lines:
                    log.warning(
                        "takes: %s has %d corrupt line(s), skipped", self.cfg.folder / JSONL, session.corrupt_lines
                    )
            self._kept_before = kept
        return self._kept_before | self._kept_now


def _prepare_folder(folder: Path) -> str | None:
    """Create the folder and check it takes writes; returns the problem of a full disk, raises on the rest."""
    try:
        if folder.exists() and not folder.is_dir():
            raise TakesError(f"takes folder {folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        for name in (JSONL, CSV):
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISREG((folder / name).lstat().st_mode):
                    raise TakesError(f"{folder / name} is not a regular file")
        for leftover in folder.glob(f".*.wav{PART_SUFFIX}"):  # a take being written when rtloop was killed
            leftover.unlink(missing_ok=True)
    except TakesError:
        raise
    except OSError as exc:
        raise TakesError(f"cannot use takes folder {folder}: {_reason(exc)}") from None
    probe = folder / f".rtloop-probe-{os.getpid()}"
    try:
        _write_atomically(probe, b"rtloop")
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"cannot write in {folder}: {_reason(exc)}"
        raise TakesError(f"takes folder {folder} is not writable: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return None


def _wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A float WAV in memory: writing it to disk then fails with plain OSErrors, never halfway inside libsndfile."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``.<name>.part`` and rename it to ``path``; the partial file is removed on failure."""
    part = path.with_name(f".{path.name}{PART_SUFFIX}")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(size - 1)
        return fh.read(1)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"


def _parse_record(line: bytes) -> LoopRecord | None:
    """A log line as a record, or None when it is not one (truncated, edited, a foreign file name)."""
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(row, dict) or set(row) - {"aspects"} != set(LOG_FIELDS):
        return None
    aspects = row.get("aspects", {})
    if not isinstance(aspects, dict) or not all(a in ASPECTS and _finite(v) for a, v in aspects.items()):
        return None
    kinds_ok = (
        row["event"] in ("loop", "mark")
        and isinstance(row["wall_time"], str)
        and isinstance(row["bar"], int)
        and all(_finite(row[k]) for k in ("bar", "bpm", "score", "variation"))
        and isinstance(row["flagged"], bool)
        and isinstance(row["marked"], bool)
        and isinstance(row["file"], str)
    )
    if not kinds_ok or not _is_plain_wav_name(row["file"]):
        return None
    return LoopRecord(**row)


def _finite(value: object) -> bool:
    """A JSON number that is one (Python's json reads NaN and Infinity, which rtloop never writes)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_plain_wav_name(file: str) -> bool:
    """Empty, or a plain WAV name inside the folder: a log never sends a reader elsewhere."""
    return file == "" or (file.endswith(".wav") and not file.startswith(".") and "/" not in file and "\\" not in file)


def load_session(folder: Path) -> Session:
    """The records of a takes folder's current session log, skipping and counting lines that are not records.

    Args:
        folder: a takes folder.

    Returns:
        The valid records in log order and the number of corrupt lines skipped.

    Raises:
        TakesError: the folder has no session log, or it cannot be read.
    """
    path = folder / JSONL
    if not path.is_file():
        raise TakesError(f"{folder} has no {JSONL}: not an rtloop takes folder")
    records: list[LoopRecord] = []
    corrupt = 0
    try:
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                record = _parse_record(line)
                if record is None:
                    corrupt += 1
                else:
                    records.append(record)
    except OSError as exc:
        raise TakesError(f"cannot read {path}: {_reason(exc)}") from None
    return Session(records, corrupt)


def read_session(folder: Path) -> list[LoopRecord]:
    """Every valid record of a takes folder's current session log (corrupt lines are skipped, see :func:`load_session`).

    Raises:
        TakesError: the folder has no session log, or it cannot be read.
    """
    return load_session(folder).records


def _marked_loops(records: list[LoopRecord]) -> set[int]:
    """``id()`` of each loop record a mark names: the last loop of the mark's bar logged before it (runs that
    share a folder count their bars from 1 each, so a bar number alone names one loop of every run)."""
    last_of_bar: dict[int, LoopRecord] = {}
    marked: set[int] = set()
    for record in records:
        if record.event == "loop":
            last_of_bar[record.bar] = record
        elif record.bar in last_of_bar:
            marked.add(id(last_of_bar[record.bar]))
    return marked


def summarise_session(folder: Path, top: int = 10) -> str:
    """The ``rtloop takes`` listing: counts, then the ``top`` loops by score, takes whose WAV is gone marked.

    Raises:
        TakesError: the folder has no session log, or it cannot be read.
    """
    session = load_session(folder)
    loops = [r for r in session.records if r.event == "loop"]
    marked = _marked_loops(session.records)
    missing = {r.file for r in session.records if r.file and not (folder / r.file).is_file()}
    head = f"{folder}: {len(loops)} loops, {sum(r.flagged for r in loops)} over threshold, {len(marked)} marked"
    if missing:
        head += f", {len(missing)} take(s) missing"
    if session.corrupt_lines:
        head += f", {session.corrupt_lines} corrupt log line(s) skipped"
    lines = [head]
    for r in sorted(loops, key=lambda r: r.score, reverse=True)[:top]:
        tags = ("  FLAG" if r.flagged else "") + ("  MARKED" if id(r) in marked else "")
        if r.aspects:
            tags += f"  most: {max(r.aspects, key=r.aspects.__getitem__)}"
        file = f"{r.file} (missing)" if r.file in missing else r.file
        lines.append(
            f"  bar {r.bar:>5}  {r.wall_time}  score {r.score:10.4g}  variation {r.variation:.2f}{tags}  {file}"
        )
    return "\n".join(lines)


def plot_session(records: list[LoopRecord], threshold: float, path: Path) -> None:
    """PNG of the session: bar on x, variation on y (overall, and each aspect below it), threshold line, marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loops = [r for r in records if r.event == "loop"]
    marks = [r for r in records if r.event == "mark"]
    aspects = [a for a in ASPECTS if any(a in r.aspects for r in loops)]
    fig, axes = plt.subplots(1 + len(aspects), 1, figsize=(10, 3.0 + 1.1 * len(aspects)), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot([r.bar for r in loops], [r.variation for r in loops], ".-", lw=0.8, label="variation")
    for row, aspect in enumerate(aspects, start=1):
        sub = axes[row, 0]
        with_aspect = [r for r in loops if aspect in r.aspects]
        sub.plot([r.bar for r in with_aspect], [r.aspects[aspect] for r in with_aspect], ".-", lw=0.6, ms=2)
        sub.axhline(threshold, color="gray", ls="--", lw=0.8)
        sub.set_ylim(-0.02, 1.02)
        sub.set_ylabel(aspect, fontsize=8)
    flagged = [r for r in loops if r.flagged]
    ax.scatter(
        [r.bar for r in flagged], [r.variation for r in flagged], color="tab:red", zorder=3, label="over threshold"
    )
    ax.axhline(threshold, color="gray", ls="--", lw=1, label="threshold")
    for r in marks:
        ax.axvline(r.bar, color="tab:green", lw=1.2)
    if marks:
        ax.plot([], [], color="tab:green", label="marked")
    axes[-1, 0].set_xlabel("bar")
    ax.set_ylabel("variation")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
