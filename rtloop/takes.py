"""Keeping takes: WAV files of interesting loops and a session log, written off the real-time path.

The worker hands each scored loop to :class:`TakeKeeper` (a bounded queue, never blocking); a writer
thread decides what to keep, writes WAV files named so they sort by time, appends one CSV row and one
JSON line per loop (and per manual mark), rotates the logs and keeps the folder under a size cap by
deleting the oldest unflagged, unmarked takes first.
"""

from __future__ import annotations

import csv
import json
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from rtloop.resources import Closing

log = logging.getLogger(__name__)
LOG_FIELDS = ("event", "wall_time", "bar", "bpm", "score", "variation", "flagged", "marked", "file")
JSONL = "session.jsonl"
CSV = "session.csv"


@dataclass(frozen=True)
class TakesConfig:
    """Where and what to keep."""

    folder: Path
    keep_all: bool = False
    max_bytes: int = 2 * 1024**3
    log_max_bytes: int = 50 * 1024**2


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


def take_name(when: float, bar: int, bpm: float, score: float) -> str:
    """File name that sorts by time and says what the take is."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"
    return f"{stamp}_bar{bar:05d}_{bpm:.1f}bpm_score{score:.4g}.wav"


class TakeKeeper(Closing):
    """Writes takes and the session log on its own thread.

    Args:
        cfg: folder, keep-all, size caps.
        sample_rate: of the audio handed in.
    """

    def __init__(self, cfg: TakesConfig, sample_rate: int) -> None:
        self.cfg = cfg
        self.sample_rate = sample_rate
        cfg.folder.mkdir(parents=True, exist_ok=True)
        self.dropped = 0
        self.problem: str | None = None  # why writing fails right now, or None
        self._queue: queue.Queue[tuple | None] = queue.Queue(maxsize=64)
        self._last: tuple[np.ndarray, LoopRecord] | None = None
        self._thread = threading.Thread(target=self._run, name="takes", daemon=True)
        self._thread.start()

    def add(self, audio: np.ndarray, bar: int, bpm: float, score: float, variation: float, flagged: bool) -> None:
        """Hand over a scored loop (worker thread; never blocks: a full queue drops and counts)."""
        self._offer(("loop", audio, time.time(), bar, bpm, score, variation, flagged))

    def mark(self) -> None:
        """Mark the last scored loop as interesting: it is kept, and the mark is logged."""
        self._offer(("mark", time.time()))

    def _offer(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if item[0] == "loop":
                    self._loop(*item[1:])
                else:
                    self._mark(item[1])
            except OSError as exc:  # disk full, folder removed: report, keep running
                log.error("could not write to %s: %s", self.cfg.folder, exc)
                self.problem = f"cannot write to {self.cfg.folder}: {exc}"
            else:
                self.problem = None

    def _loop(
        self, audio: np.ndarray, when: float, bar: int, bpm: float, score: float, variation: float, flagged: bool
    ) -> None:
        file = ""
        if flagged or self.cfg.keep_all:
            file = self._write(audio, when, bar, bpm, score)
        record = LoopRecord("loop", _iso(when), bar, bpm, score, variation, flagged, False, file)
        self._last = (audio, record)
        self._log(record)

    def _mark(self, when: float) -> None:
        if self._last is None:
            log.warning("mark ignored: no loop scored yet")
            return
        audio, loop = self._last
        file = loop.file or self._write(audio, when, loop.bar, loop.bpm, loop.score)
        self._last = (audio, LoopRecord(**{**asdict(loop), "file": file}))
        self._log(
            LoopRecord("mark", _iso(when), loop.bar, loop.bpm, loop.score, loop.variation, loop.flagged, True, file)
        )

    def _write(self, audio: np.ndarray, when: float, bar: int, bpm: float, score: float) -> str:
        name = take_name(when, bar, bpm, score)
        sf.write(self.cfg.folder / name, audio, self.sample_rate, subtype="FLOAT")
        self._enforce_cap()
        return name

    def _log(self, record: LoopRecord) -> None:
        for name in (JSONL, CSV):
            path = self.cfg.folder / name
            if path.exists() and path.stat().st_size > self.cfg.log_max_bytes:
                path.replace(path.with_name(f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}"))
        with (self.cfg.folder / JSONL).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record)) + "\n")
        csv_path = self.cfg.folder / CSV
        new = not csv_path.exists()
        with csv_path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(asdict(record))

    def _enforce_cap(self) -> None:
        """Delete takes, oldest unflagged and unmarked first, until the folder fits its cap."""
        takes = sorted(self.cfg.folder.glob("*.wav"))
        total = sum(p.stat().st_size for p in takes)
        if total <= self.cfg.max_bytes:
            return
        keep = self._precious()
        for path in [p for p in takes if p.name not in keep] + [p for p in takes if p.name in keep]:
            if total <= self.cfg.max_bytes:
                break
            total -= path.stat().st_size
            path.unlink()

    def _precious(self) -> set[str]:
        """Takes that were flagged or marked, from the current log."""
        names: set[str] = set()
        path = self.cfg.folder / JSONL
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row["file"] and (row["flagged"] or row["marked"]):
                    names.add(row["file"])
        return names


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"


def read_session(folder: Path) -> list[LoopRecord]:
    """Every record of a takes folder's current session log."""
    path = folder / JSONL
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {JSONL}: not an rtloop takes folder")
    return [LoopRecord(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_session(records: list[LoopRecord], threshold: float, path: Path) -> None:
    """PNG of the session: bar on x, variation on y, threshold line, marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loops = [r for r in records if r.event == "loop"]
    marks = [r for r in records if r.event == "mark"]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot([r.bar for r in loops], [r.variation for r in loops], ".-", lw=0.8, label="variation")
    flagged = [r for r in loops if r.flagged]
    ax.scatter(
        [r.bar for r in flagged], [r.variation for r in flagged], color="tab:red", zorder=3, label="over threshold"
    )
    ax.axhline(threshold, color="gray", ls="--", lw=1, label="threshold")
    for r in marks:
        ax.axvline(r.bar, color="tab:green", lw=1.2)
    if marks:
        ax.plot([], [], color="tab:green", label="marked")
    ax.set_xlabel("bar")
    ax.set_ylabel("variation")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
