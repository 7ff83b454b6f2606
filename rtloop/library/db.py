"""The library database: one SQLite file holding every file seen, its scores and the 2-D map.

The schema is documented in docs/library.md; ``SCHEMA_VERSION`` grows with every incompatible change.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtloop.errors import RtloopError
from rtloop.library.exports import SelectedLoop

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    root_id INTEGER NOT NULL REFERENCES roots(id),
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    state TEXT NOT NULL CHECK (state IN ('scored', 'unreadable', 'missing')),
    reason TEXT,
    seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_state ON files(state);
CREATE TABLE IF NOT EXISTS scores (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    duration REAL NOT NULL,
    raw REAL NOT NULL,
    variation REAL NOT NULL,
    flagged INTEGER NOT NULL,
    grid_source TEXT,
    embedding BLOB NOT NULL,
    map_x REAL,
    map_y REAL
);
CREATE TABLE IF NOT EXISTS aspects (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    aspect TEXT NOT NULL,
    variation REAL NOT NULL,
    raw REAL,
    PRIMARY KEY (file_id, aspect)
);
CREATE VIEW IF NOT EXISTS unreadable_files AS
    SELECT path, reason, seen_at FROM files WHERE state = 'unreadable';
"""


_REFUSED_WRITES = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")  # and their subcodes
_REFUSED_MESSAGES = ("database or disk is full", "readonly database", "disk I/O error", "unable to open database")
_IN_USE = ("SQLITE_BUSY", "SQLITE_LOCKED")
_IN_USE_MESSAGES = ("database is locked", "database table is locked")


def write_refused(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because the storage refused it (full, read-only, I/O), not for another reason."""
    return _failed_with(exc, _REFUSED_WRITES, _REFUSED_MESSAGES)


def in_use(exc: sqlite3.Error) -> bool:
    """Whether SQLite gave up waiting (5 s) for another connection's lock: another scan, an open editor."""
    return _failed_with(exc, _IN_USE, _IN_USE_MESSAGES)


def _failed_with(exc: sqlite3.Error, codes: tuple[str, ...], messages: tuple[str, ...]) -> bool:
    name = getattr(exc, "sqlite_errorname", None)  # Python 3.11+; before, the message says it
    if name is not None:
        return any(name == code or name.startswith(f"{code}_") for code in codes)
    return any(text in str(exc) for text in messages)


def in_use_message(path: Path, exc: sqlite3.Error) -> str:
    """What to tell the user of a database another program holds locked."""
    return f"{path} is in use by another program (another scan?): {exc}"


def sql_text(text: str | None) -> str | bytes | None:
    """``text`` as it is bound where the SQL says ``CAST(? AS TEXT)``: a name that Linux allows but that is not
    UTF-8 (Python holds its bytes as lone surrogates) goes as those bytes, which SQLite stores unchanged, so every
    path is stored and read back as the file system spells it."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text


def shown(text: str) -> str:
    """``text`` fit to be shown or sent as UTF-8: a byte of a name that is not UTF-8 becomes U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_READ_TEXT = functools.partial(str, encoding="utf-8", errors="surrogateescape")  # the reverse of sql_text


class LibraryError(RtloopError, ValueError):
    """A library database that cannot be used: not one, a newer schema, or scanned with another bundle."""


@dataclass(frozen=True)
class KnownFile:
    """What the database remembers of a path, to decide whether a re-scan must read it."""

    id: int
    size: int
    mtime_ns: int
    sha256: str | None
    state: str


@dataclass(frozen=True)
class LoopResult:
    """The outcome of reading and scoring one file (sent back by a worker, local or on Ray).

    ``reason`` is set for an unreadable file; ``unchanged`` for a file whose content hash equals the
    one already stored (nothing was decoded).
    """

    path: str
    sha256: str | None
    reason: str | None = None
    unchanged: bool = False
    duration: float = 0.0
    raw: float = 0.0
    variation: float = 0.0
    flagged: bool = False
    grid_source: str | None = None
    aspects: tuple[tuple[str, float, float | None], ...] = ()  # (aspect, variation, raw if known)
    embedding: bytes = b""  # float32


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class LibraryDB:
    """An open library database (a context manager; whoever opens closes).

    Args:
        path: the SQLite file; created with the current schema if absent (and its folder with it).
        readonly: open read-only (the explorer); the file must exist.

    Raises:
        LibraryError: not an rtloop library, one of a newer schema version, or a path that cannot be
            opened or created (a folder, a full disk).
    """

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise LibraryError(f"{self.path}: no such library database")
        try:
            self.conn = self._connect(readonly)
        except (sqlite3.OperationalError, OSError) as exc:  # a folder; a parent that cannot be made
            raise LibraryError(f"{self.path}: cannot open it: {exc}") from exc
        try:
            self._check_or_create(readonly)
        except sqlite3.OperationalError as exc:  # a full disk, a read-only file or folder, another writer
            self.conn.close()
            raise LibraryError(
                in_use_message(self.path, exc) if in_use(exc) else f"{self.path}: cannot use it: {exc}"
            ) from exc
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise LibraryError(f"{self.path}: not an SQLite database: {exc}") from exc
        except LibraryError:
            self.conn.close()
            raise
        self.conn.execute("PRAGMA foreign_keys = ON")

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path)
        conn.text_factory = _READ_TEXT
        return conn

    def _check_or_create(self, readonly: bool) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            if readonly or tables:
                raise LibraryError(f"{self.path} is not an rtloop library database")
            with self.conn:
                self.conn.executescript(SCHEMA)
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("created", _now())
            return
        version = int(self.meta("schema_version") or 0)
        if version > SCHEMA_VERSION:
            raise LibraryError(
                f"{self.path} has library schema {version}; this rtloop reads {SCHEMA_VERSION}: upgrade rtloop"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LibraryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta and roots ---------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, CAST(? AS TEXT))", (key, sql_text(value))
        )

    def root_id(self, root: Path) -> int:
        """Id of a scanned folder (resolved path), added if new."""
        path = sql_text(str(root))
        self.conn.execute("INSERT OR IGNORE INTO roots (path) VALUES (CAST(? AS TEXT))", (path,))
        return int(self.conn.execute("SELECT id FROM roots WHERE path = CAST(? AS TEXT)", (path,)).fetchone()[0])

    def roots(self) -> list[Path]:
        """Every folder ever scanned into this library: the only places the explorer serves files from."""
        return [Path(r[0]) for r in self.conn.execute("SELECT path FROM roots ORDER BY id")]

    # -- scanning ---------------------------------------------------------------------------------
    def known(self, root: Path) -> dict[str, KnownFile]:
        """Path -> what is stored, for ``root`` and every file under it, whichever scan stored it (a folder
        scanned before or after its parent is not read again, and its deleted files are seen as gone)."""
        under = os.path.join(str(root), "")  # the root and a separator: a prefix no sibling shares
        after = under[:-1] + chr(ord(under[-1]) + 1)  # every path with that prefix sorts in [under, after)
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, sha256, state FROM files WHERE path = CAST(? AS TEXT) "
            "OR (path >= CAST(? AS TEXT) AND path < CAST(? AS TEXT))",
            (sql_text(str(root)), sql_text(under), sql_text(after)),
        )
        return {r[0]: KnownFile(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def upsert_file(self, path: Path, root_id: int, root: Path, size: int, mtime_ns: int) -> int:
        """Record a file found on disk (state set by :meth:`store`); returns its id."""
        inside = path != root and path.is_relative_to(root)  # not a folder given to scan that cannot be listed
        folder = str(path.parent.relative_to(root)) if inside and path.parent != root else "."
        stored = sql_text(str(path))
        self.conn.execute(
            "INSERT INTO files (path, root_id, folder, name, size, mtime_ns, state, seen_at) "
            "VALUES (CAST(? AS TEXT), ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, 'missing', ?) ON CONFLICT(path) "
            "DO UPDATE SET root_id = excluded.root_id, folder = excluded.folder, size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, seen_at = excluded.seen_at",
            (stored, root_id, sql_text(folder), sql_text(path.name), size, mtime_ns, _now()),
        )
        return int(self.conn.execute("SELECT id FROM files WHERE path = CAST(? AS TEXT)", (stored,)).fetchone()[0])

    def restore(self, file_id: int) -> None:
        """A file read again whose content hash did not change: it keeps its scores (or its reason)."""
        self.conn.execute(
            "UPDATE files SET state = CASE WHEN EXISTS (SELECT 1 FROM scores WHERE file_id = ?) "
            "THEN 'scored' ELSE 'unreadable' END WHERE id = ?",
            (file_id, file_id),
        )

    def mark_missing(self, file_ids: list[int]) -> None:
        """Files gone from disk keep their scores (a file that comes back unchanged is not re-scored)."""
        self.conn.executemany("UPDATE files SET state = 'missing' WHERE id = ?", [(i,) for i in file_ids])

    def store(self, file_id: int, result: LoopResult) -> None:
        """Write one worker result: scores and aspects, or the reason the file is unreadable."""
        if result.reason is not None:
            self.conn.execute(
                "UPDATE files SET state = 'unreadable', reason = CAST(? AS TEXT), sha256 = ? WHERE id = ?",
                (sql_text(result.reason), result.sha256, file_id),
            )
            self.conn.execute("DELETE FROM scores WHERE file_id = ?", (file_id,))
            self.conn.execute("DELETE FROM aspects WHERE file_id = ?", (file_id,))
            return
        self.conn.execute(
            "UPDATE files SET state = 'scored', reason = NULL, sha256 = ? WHERE id = ?", (result.sha256, file_id)
        )
        self.conn.execute(
            "INSERT OR REPLACE INTO scores (file_id, duration, raw, variation, flagged, grid_source, embedding) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                file_id,
                result.duration,
                result.raw,
                result.variation,
                int(result.flagged),
                result.grid_source,
                result.embedding,
            ),
        )
        self.conn.execute("DELETE FROM aspects WHERE file_id = ?", (file_id,))
        self.conn.executemany(
            "INSERT INTO aspects (file_id, aspect, variation, raw) VALUES (?, ?, ?, ?)",
            [(file_id, a, v, r) for a, v, r in result.aspects],
        )

    def forget_scores(self) -> None:
        """Drop every score (a rescan with another bundle reads every file again)."""
        self.conn.execute("DELETE FROM aspects")
        self.conn.execute("DELETE FROM scores")
        self.conn.execute("UPDATE files SET sha256 = NULL")

    def embeddings(self, chunk: int = 4096) -> Iterator[tuple[list[int], np.ndarray]]:
        """(file ids, embeddings float64) of the scored files present on disk, in chunks."""
        cursor = self.conn.execute(
            "SELECT s.file_id, s.embedding FROM scores s JOIN files f ON f.id = s.file_id "
            "WHERE f.state = 'scored' ORDER BY s.file_id"
        )
        while rows := cursor.fetchmany(chunk):
            ids = [r[0] for r in rows]
            yield ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]).astype(np.float64)

    def set_map(self, ids: list[int], xy: np.ndarray) -> None:
        self.conn.executemany(
            "UPDATE scores SET map_x = ?, map_y = ? WHERE file_id = ?",
            [(float(x), float(y), i) for i, (x, y) in zip(ids, xy, strict=True)],
        )

    def counts(self) -> dict[str, int]:
        """Number of files per state."""
        return {s: n for s, n in self.conn.execute("SELECT state, COUNT(*) FROM files GROUP BY state")}

    # -- exploring --------------------------------------------------------------------------------
    def loops(self) -> dict[str, list]:
        """Every scored loop present on disk, column by column (compact JSON for the explorer)."""
        rows = self.conn.execute(
            "SELECT f.id, f.folder, f.name, s.duration, s.raw, s.variation, s.flagged, s.grid_source, "
            "s.map_x, s.map_y, r.path FROM files f JOIN scores s ON s.file_id = f.id JOIN roots r ON r.id = f.root_id "
            "WHERE f.state = 'scored' ORDER BY f.id"
        ).fetchall()
        names = ("id", "folder", "name", "duration", "raw", "variation", "flagged", "grid_source", "x", "y", "root")
        columns: dict[str, list] = {n: [r[k] for r in rows] for k, n in enumerate(names)}
        columns["root"] = [Path(r).name for r in columns["root"]]
        position = {file_id: k for k, file_id in enumerate(columns["id"])}
        aspects: dict[str, list] = {}
        for file_id, aspect, variation in self.conn.execute("SELECT file_id, aspect, variation FROM aspects"):
            if file_id in position:
                aspects.setdefault(aspect, [None] * len(rows))[position[file_id]] = variation
        columns["aspects"] = aspects  # type: ignore[assignment]
        return columns

    def file_path(self, file_id: int) -> Path | None:
        """Stored path of a file id (any state), or None."""
        row = self.conn.execute("SELECT path FROM files WHERE id = ?", (file_id,)).fetchone()
        return None if row is None else Path(row[0])

    def selection(self, ids: list[int]) -> list[SelectedLoop]:
        """The given scored loops with their scores and aspects, in the given order (unknown ids skipped)."""
        out = []
        for file_id in ids:
            row = self.conn.execute(
                "SELECT f.path, f.folder, s.duration, s.raw, s.variation, s.flagged FROM files f JOIN scores s "
                "ON s.file_id = f.id WHERE f.id = ?",
                (file_id,),
            ).fetchone()
            if row is None:
                continue
            aspects = dict(self.conn.execute("SELECT aspect, variation FROM aspects WHERE file_id = ?", (file_id,)))
            out.append(SelectedLoop(file_id, Path(row[0]), row[1], row[2], row[3], row[4], bool(row[5]), aspects))
        return out

    def summary(self) -> dict[str, object]:
        """What the explorer's header shows: counts, bundle, scan time, unreadable files."""
        unreadable = self.conn.execute("SELECT path, reason FROM unreadable_files ORDER BY path").fetchall()
        return {
            "counts": self.counts(),
            "bundle": self.meta("bundle_path"),
            "scanned": self.meta("updated"),
            "aspects": json.loads(self.meta("aspects") or "[]"),
            "unreadable": [{"path": p, "reason": r} for p, r in unreadable],
        }
