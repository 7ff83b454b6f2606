"""``rtloop scan``: every file scored or listed with its reason, incremental and resumable re-scans, the
schema, the map; and the same scan on a real local Ray instance giving the same results."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtloop.audio_io import load_audio
from rtloop.bundle import load_bundle
from rtloop.cli import main
from rtloop.library.db import SCHEMA_VERSION, LibraryDB, LibraryError, LoopResult
from rtloop.library.projection import pca_axes
from rtloop.library.scan import Runner, ScanConfig, local_runner, scan
from rtloop.library.worker import ScanWorker, Task
from rtloop.scorer import Scorer
from rtloop.synth import write_loop_set


def test_pca_axes_match_numpy_svd() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.2, 0.1]) + 7.0
    mean, axes = pca_axes([x[:100], x[100:]])
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    assert np.allclose(mean, x.mean(axis=0))
    for k in range(2):
        assert abs(abs(float(axes[:, k] @ vt[k])) - 1.0) < 1e-9, f"axis {k} is not principal component {k}"
    assert pca_axes([])[0].shape == (0,)


def test_newer_schema_and_foreign_files_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "lib.db"
    with LibraryDB(database) as db:
        assert db.meta("schema_version") == str(SCHEMA_VERSION)
        with db.conn:
            db.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(LibraryError, match="upgrade rtloop"):
        LibraryDB(database)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(LibraryError, match="not an rtloop library"):
        LibraryDB(other)
    (tmp_path / "text.db").write_text("hello, not sqlite at all" * 100)
    with pytest.raises(LibraryError, match="not an SQLite database"):
        LibraryDB(tmp_path / "text.db")
    with pytest.raises(LibraryError, match="cannot open it: unable to open database file"):
        LibraryDB(tmp_path)  # a folder
    (tmp_path / "a file").touch()
    with pytest.raises(LibraryError, match="cannot open it: .*File exists"):
        LibraryDB(tmp_path / "a file" / "lib.db")
    with LibraryDB(tmp_path / "new" / "folder" / "lib.db") as db:  # missing folders are made
        assert db.meta("schema_version") == str(SCHEMA_VERSION)


def test_a_folder_given_to_scan_is_recorded_even_when_it_is_what_was_left_out(tmp_path: Path) -> None:
    """A library folder that cannot be listed is itself the path left out (a traceback before)."""
    root = tmp_path / "locked"
    with LibraryDB(tmp_path / "lib.db") as db, db.conn:
        file_id = db.upsert_file(root, db.root_id(root), root, 0, 0)
        assert db.conn.execute("SELECT folder, name FROM files WHERE id = ?", (file_id,)).fetchone() == (".", "locked")


@pytest.fixture
def library(
    tmp_path: Path, bad_files: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A folder of loops (two sub-folders), bad files, and a link out of the library; reason per bad file."""
    lib = tmp_path  # bad_files wrote tmp_path / "bad"
    write_loop_set(lib / "bass", 4, seed=11)
    write_loop_set(lib / "odd", 2, seed=12, deviation="noise")
    reasons = dict(bad_files[1])
    outside = tmp_path_factory.mktemp("outside") / "outside.wav"
    sf.write(outside, 0.1 * np.ones(48000, dtype=np.float32), 48000)
    (bad_files[0] / "link_out.wav").symlink_to(outside)
    reasons["link_out.wav"] = "links outside the library"
    # 4.8 kB whose header says 1 Hz: 40 minutes of audio, 460 MB once resampled, if it were believed
    one_hertz = bad_files[0] / "one_hertz.wav"
    sf.write(one_hertz, 0.1 * np.ones(2400, dtype=np.float32), 48000, subtype="PCM_16")
    header = bytearray(one_hertz.read_bytes())
    header[24:32] = struct.pack("<II", 1, 2)  # the fmt chunk's sample rate and byte rate
    one_hertz.write_bytes(bytes(header))
    reasons["one_hertz.wav"] = "sample rate 1 Hz in its header"
    return lib, reasons


class CountingRunner:
    """The real local runner, recording which files it was asked to read (and optionally dying midway)."""

    def __init__(self, cfg: ScanConfig, seen: list[str], fail_after: int | None = None) -> None:
        self.inner = local_runner(cfg)
        self.workers = self.inner.workers
        self.seen = seen
        self.fail_after = fail_after

    def map(self, batches: Iterable[list[Task]]) -> Iterator[list[LoopResult]]:
        for n, results in enumerate(self.inner.map(batches)):
            if self.fail_after is not None and n >= self.fail_after:
                raise KeyboardInterrupt
            self.seen.extend(r.path for r in results)
            yield results

    def close(self) -> None:
        self.inner.close()


def counting(seen: list[str], fail_after: int | None = None) -> Callable[[ScanConfig], Runner]:
    def make(cfg: ScanConfig) -> Runner:
        return CountingRunner(cfg, seen, fail_after)

    return make


def stored(database: Path) -> dict[str, tuple]:
    """name -> (state, reason, raw, variation, flagged, map_x)"""
    with LibraryDB(database, readonly=True) as db:
        rows = db.conn.execute(
            "SELECT f.name, f.state, f.reason, s.raw, s.variation, s.flagged, s.map_x FROM files f "
            "LEFT JOIN scores s ON s.file_id = f.id"
        )
        return {r[0]: r[1:] for r in rows}


@pytest.mark.slow
def test_scan_scores_every_loop_and_lists_every_unreadable_file(
    trained_bundle: Path, library: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    lib, reasons = library
    database = tmp_path / "library.db"
    assert main(["scan", str(trained_bundle), str(lib), "-o", str(database), "--jobs", "2", "--batch", "3"]) == 0
    out = capsys.readouterr()
    assert "6 scored" in out.out and f"{len(reasons)} unreadable" in out.out
    rows = stored(database)
    assert len(rows) == 6 + len(reasons), "every file found has a row"
    for name, fragment in reasons.items():
        state, reason = rows[name][:2]
        assert state == "unreadable" and fragment in reason, f"{name}: {state} {reason}"
        assert name in out.err, "unreadable files are printed too"
    scorer = Scorer(load_bundle(trained_bundle))
    for path in sorted((lib / "bass").glob("*.wav")) + sorted((lib / "odd").glob("*.wav")):
        state, _, raw, variation, flagged, map_x = rows[path.name]
        expected = scorer.score([load_audio(path, scorer.bundle.frontend.sample_rate)])
        assert state == "scored" and map_x is not None
        # batches of 3 here, of 1 there: onnxruntime's sums differ in the last digits
        assert raw == pytest.approx(float(expected.raw[0]), rel=1e-4), path.name
        assert variation == pytest.approx(float(expected.variation[0]), abs=1e-4), path.name
        assert flagged == int(expected.flagged[0])
    with LibraryDB(database, readonly=True) as db:
        assert db.meta("schema_version") == str(SCHEMA_VERSION)
        assert db.meta("bundle_path") == str(trained_bundle.resolve())
        folders = {r[0] for r in db.conn.execute("SELECT folder FROM files WHERE state = 'scored'")}
        assert folders == {"bass", "odd"}
        durations = {r[0] for r in db.conn.execute("SELECT duration FROM scores")}
        assert durations == {2.0}
        embedding = db.conn.execute("SELECT embedding FROM scores LIMIT 1").fetchone()[0]
        assert len(embedding) == 4 * len(np.asarray(expected.embedding[0]))
        unreadable = dict(db.conn.execute("SELECT path, reason FROM unreadable_files"))
        assert {Path(p).name for p in unreadable} == set(reasons)


@pytest.mark.slow
def test_rescan_reads_only_new_or_changed_files_and_marks_files_gone(
    trained_bundle: Path, library: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    lib, reasons = library
    database = tmp_path / "library.db"
    cfg = ScanConfig(trained_bundle, (lib,), database, jobs=1)
    first: list[str] = []
    scan(cfg, counting(first))
    assert len(first) == 6 + len(reasons) - 1, "all but the link out are read once"
    before = stored(database)

    bass = sorted((lib / "bass").glob("*.wav"))
    changed, touched, gone = bass[0], bass[1], bass[2]
    wave, rate = sf.read(changed)
    sf.write(changed, wave[::-1].copy(), rate, subtype="FLOAT")  # other content
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))  # same content
    gone.unlink()
    added = write_loop_set(lib / "new", 1, seed=13)[0]

    second: list[str] = []
    summary = scan(cfg, counting(second))
    assert sorted(Path(p).name for p in second) == sorted([changed.name, touched.name, added.name])
    # The loops and bad files skipped by size and mtime, 1 read but unchanged by hash, 2 scored, the link out
    unchanged = 4 + len(reasons) - 1  # 6 loops less the changed and the gone one, and the bad files but the link
    assert (summary.scored, summary.unchanged, summary.missing, summary.unreadable) == (2, unchanged, 1, 1)
    after = stored(database)
    assert after[gone.name][0] == "missing" and after[gone.name][2] == before[gone.name][2], "scores kept"
    assert after[touched.name][:5] == before[touched.name][:5]
    assert after[changed.name][2] != before[changed.name][2]
    assert after[added.name][0] == "scored"

    third: list[str] = []
    scan(cfg, counting(third))
    assert third == [], "nothing changed: nothing read"


@pytest.mark.slow
def test_a_folder_scanned_before_or_after_its_parent_is_not_read_again(trained_bundle: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    bass = write_loop_set(lib / "bass", 3, seed=14)
    write_loop_set(lib / "odd", 1, seed=15, deviation="noise")
    database = tmp_path / "library.db"
    read: list[str] = []
    scan(ScanConfig(trained_bundle, (lib / "bass",), database, jobs=1), counting(read))
    assert len(read) == 3
    read.clear()
    summary = scan(ScanConfig(trained_bundle, (lib,), database, jobs=1), counting(read))
    assert [Path(p).parent.name for p in read] == ["odd"], "the parent's scan knows what the folder's stored"
    assert (summary.scored, summary.unchanged) == (1, 3)
    bass[0].unlink()
    read.clear()
    summary = scan(ScanConfig(trained_bundle, (lib / "bass",), database, jobs=1), counting(read))
    assert read == [] and (summary.unchanged, summary.missing) == (2, 1), "the folder's scan sees its file gone"
    assert stored(database)[bass[0].name][0] == "missing"
    summary = scan(ScanConfig(trained_bundle, (lib,), database, jobs=1), counting(read))
    assert read == [] and (summary.unchanged, summary.missing) == (3, 0), "gone once, not again"
    lib_sibling = tmp_path / "lib-more"  # shares the name's start, not the folder
    write_loop_set(lib_sibling, 1, seed=16)
    summary = scan(ScanConfig(trained_bundle, (lib_sibling,), database, jobs=1), counting(read))
    assert (summary.scored, summary.missing) == (1, 0), "a sibling's scan knows nothing of lib"


def not_utf8(folder: Path, name: bytes) -> Path:
    """A path in ``folder`` whose last part is ``name``'s bytes (Linux allows any; Python holds them escaped)."""
    return folder / os.fsdecode(name)


@pytest.mark.slow
def test_file_names_that_are_not_utf8_are_scored_and_stored_as_the_file_system_spells_them(
    trained_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Latin-1 names from an old archive: a UnicodeEncodeError lost the scan's batch, at every rerun, before."""
    lib = tmp_path / "lib"
    written = write_loop_set(lib / "written", 1, seed=17)[0]  # soundfile cannot name such a file itself
    folder = (lib / "written").rename(not_utf8(lib, b"D\xfcsseldorf"))
    loop = (folder / written.name).rename(not_utf8(folder, b"caf\xe9 120bpm.wav"))
    junk = not_utf8(lib, b"bad\xff.wav")
    junk.write_bytes(b"not audio" * 100)
    database = tmp_path / "library.db"
    assert main(["scan", str(trained_bundle), str(lib), "-o", str(database), "--jobs", "1"]) == 0
    out = capsys.readouterr()
    assert "1 scored" in out.out and "1 unreadable" in out.out
    assert "bad\\udcff.wav: cannot read" in out.err, "the unreadable file is named (stderr escapes the odd byte)"
    conn = sqlite3.connect(database)
    conn.text_factory = bytes
    rows = dict(conn.execute("SELECT path, state FROM files").fetchall())
    conn.close()
    assert rows == {os.fsencode(loop): b"scored", os.fsencode(junk): b"unreadable"}, "stored as the bytes they are"
    with LibraryDB(database, readonly=True) as db:
        assert db.file_path(1) == loop and db.roots() == [lib.resolve()]
    read: list[str] = []
    summary = scan(ScanConfig(trained_bundle, (lib,), database, jobs=1), counting(read))
    assert read == [] and summary.unchanged == 2, "known again by their own names: nothing read"


@pytest.mark.slow
def test_a_scan_worker_never_holds_a_whole_file(trained_bundle: Path, tmp_path: Path) -> None:
    """Hashing and decoding stream the file: a 64 MB file costs its blocks, not 64 MB (it did before)."""
    big = tmp_path / "big.wav"
    big.write_bytes(os.urandom(64 << 20))
    worker = ScanWorker(str(trained_bundle))
    tracemalloc.start()
    try:
        result = worker.run([Task(str(big), None)])[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.reason is not None and result.reason.startswith("cannot read")
    assert result.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB held to read a 64 MiB file"


@pytest.mark.slow
def test_an_interrupted_scan_goes_on_where_it_stopped(
    trained_bundle: Path, library: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    lib, _ = library
    database = tmp_path / "library.db"
    cfg = ScanConfig(trained_bundle, (lib / "bass", lib / "odd"), database, jobs=1, batch=2)
    first: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        scan(cfg, counting(first, fail_after=1))
    assert len(first) == 2
    rest: list[str] = []
    scan(cfg, counting(rest))
    assert not set(first) & set(rest), "what was stored before the interruption is not read again"
    assert sorted(first + rest) == sorted(str(p) for d in ("bass", "odd") for p in (lib / d).glob("*.wav"))


@pytest.mark.slow
def test_a_database_another_program_writes_is_one_clear_error(
    trained_bundle: Path, library: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """Another scan holding SQLite's write lock: after SQLite's 5 s wait, the scan says so and stores nothing."""
    lib, _ = library
    database = tmp_path / "library.db"
    scan(ScanConfig(trained_bundle, (lib / "odd",), database, jobs=1))
    before = stored(database)
    other = sqlite3.connect(database)
    try:
        other.execute("BEGIN IMMEDIATE")  # a writer's lock: reading stays allowed, writing waits
        with pytest.raises(LibraryError, match="is in use by another program"):
            scan(ScanConfig(trained_bundle, (lib / "bass",), database, jobs=1))
    finally:
        other.close()
    assert stored(database) == before
    scan(ScanConfig(trained_bundle, (lib / "bass",), database, jobs=1))  # once it is free, the scan goes on
    assert len(stored(database)) == len(before) + 4


@pytest.mark.slow
def test_another_bundle_needs_rescore(
    trained_bundle: Path, library: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    lib, _ = library
    database = tmp_path / "library.db"
    scan(ScanConfig(trained_bundle, (lib / "odd",), database, jobs=1))
    with LibraryDB(database) as db, db.conn:
        db.set_meta("bundle_id", "0" * 64)
    with pytest.raises(LibraryError, match="--rescore"):
        scan(ScanConfig(trained_bundle, (lib / "odd",), database, jobs=1))
    seen: list[str] = []
    scan(ScanConfig(trained_bundle, (lib / "odd",), database, jobs=1, rescore=True), counting(seen))
    assert len(seen) == 2, "--rescore reads every file again"


@pytest.mark.slow
def test_ray_scan_equals_the_local_scan(
    trained_bundle: Path, bad_files: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rtloop[ray]'")
    lib = bad_files[0].parent
    write_loop_set(lib / "bass", 4, seed=21)
    write_loop_set(lib / "odd", 2, seed=22, deviation="instrument")
    out = tmp_path_factory.mktemp("databases")
    local_db, ray_db = out / "local.db", out / "ray.db"
    assert main(["scan", str(trained_bundle), str(lib), "-o", str(local_db), "--jobs", "1"]) == 0
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        address = ray.get_runtime_context().gcs_address
        assert main(["scan", str(trained_bundle), str(lib), "-o", str(ray_db), "--ray", address]) == 0
    finally:
        ray.shutdown()
    local, remote = stored(local_db), stored(ray_db)
    assert local.keys() == remote.keys()
    for name, row in local.items():
        assert remote[name][:2] == row[:2], name  # state and reason
        if row[0] == "scored":
            assert remote[name][2] == pytest.approx(row[2], rel=1e-4), name
            assert remote[name][3] == pytest.approx(row[3], abs=1e-4), name
            assert remote[name][4] == row[4]
            assert remote[name][5] == pytest.approx(row[5], rel=1e-4, abs=1e-6), name
