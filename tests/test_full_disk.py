"""A full disk, for real: each command runs in a private mount namespace (``unshare -rm``) over a small tmpfs.

Training goes on without its embedding cache; a bundle or a library database that does not fit is one
clear error, with nothing half-written left; a scan goes on from what it stored once there is room. Output
to a full device (``/dev/full``) is one line too.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from mount_namespace import mount_namespace_problem
from rtloop_console import RTLOOP_CONSOLE

from rtloop.synth import write_loop_set

ROOT = Path(__file__).resolve().parent.parent
RTLOOP = shlex.join(RTLOOP_CONSOLE)  # as a shell command


@pytest.fixture
def small_disk(tmp_path: Path):
    """Runs a shell script with a tmpfs of the given size mounted at a fresh folder; returns the run."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if problem := mount_namespace_problem(disk):
        pytest.skip(problem)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    def run(size: str, script: str) -> subprocess.CompletedProcess:
        mount = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(disk))}"
        return subprocess.run(
            ["unshare", "-rm", "sh", "-c", f"{mount} && {script}"], capture_output=True, text=True, env=env, timeout=300
        )

    run.disk = disk  # type: ignore[attr-defined]
    return run


def _train(loops: Path, output: Path, cache: Path) -> str:
    argv = ["train", str(loops), "-o", str(output), "--random-encoder", "--bars-hint", "1", "--jobs", "1"]
    return f"{RTLOOP} {shlex.join([*argv, '--cache-dir', str(cache)])}"


def test_training_goes_on_without_its_cache_when_the_disk_is_full(small_disk, tmp_path: Path) -> None:
    loops = tmp_path / "loops"
    write_loop_set(loops, 8, seed=5)
    cache, bundle = small_disk.disk, tmp_path / "b.rtloop"
    # Room for about three cache entries of the eight; then the listing of what is left in the cache.
    run = small_disk("24k", f"{_train(loops, bundle, cache)} && find {shlex.quote(str(cache))} -type f")
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    assert said.count("cannot write the embedding cache: No space left on device") == 1, said
    assert "8 used" in said and "embeddings not cached: No space left on device" in said
    assert (bundle / "manifest.json").is_file()
    left = [Path(line) for line in run.stdout.splitlines() if line.startswith(str(cache))]
    assert left and all(p.suffix == ".npz" and not p.name.endswith(".partial.npz") for p in left), left


def test_a_bundle_that_does_not_fit_is_one_error_and_nothing_is_left(small_disk, tmp_path: Path) -> None:
    loops = tmp_path / "loops"
    write_loop_set(loops, 4, seed=6)
    out = small_disk.disk
    run = small_disk("2m", f"{_train(loops, out / 'b.rtloop', tmp_path / 'cache')}; echo status $?; ls -A {out}")
    assert "status 2" in run.stdout, run.stdout + run.stderr
    assert f"rtloop train: error: cannot write the bundle {out / 'b.rtloop'}: No space left on device" in run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stdout.rstrip().endswith("status 2"), run.stdout  # ls found nothing: no bundle, no work folder


def test_an_int8_bundle_that_does_not_fit_is_one_error_too(small_disk, tmp_path: Path) -> None:
    loops = tmp_path / "loops"
    write_loop_set(loops, 4, seed=9)
    out = small_disk.disk
    train = _train(loops, out / "b.rtloop", tmp_path / "cache") + " --encoder-precision int8"
    # Room for the fp32 graph (115 MB), not for the copy of it the quantiser writes beside it.
    run = small_disk("180m", f"{train}; echo status $?; ls -A {out}")
    assert "status 2" in run.stdout and "Traceback" not in run.stderr, run.stderr
    assert "cannot write the bundle" in run.stderr and "No space left on device" in run.stderr
    assert run.stdout.rstrip().endswith("status 2"), run.stdout


def test_a_scan_that_fills_the_disk_is_one_error_and_goes_on_once_there_is_room(
    small_disk, trained_bundle: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    write_loop_set(library, 24, seed=7)
    database = small_disk.disk / "library.sqlite"
    scan = f"{RTLOOP} scan {shlex.quote(str(trained_bundle))} {shlex.quote(str(library))} -o {database} --jobs 2"
    grow = f"mount -o remount,size=4m {small_disk.disk}"
    # The database outgrows 96 kB within the 24 files; then the disk is given room and the scan run again.
    run = small_disk("96k", f"{scan}; echo status $?; {grow} && {scan}")
    assert "status 2" in run.stdout, run.stdout + run.stderr
    assert f"rtloop scan: error: cannot write {database}: database or disk is full" in run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 0, run.stderr
    final = run.stdout[run.stdout.index("status 2") :]
    assert "24 files:" in final and "0 unreadable" in final, final
    # Every file either scored now or kept from the first scan (committed before the disk filled).
    scored, unchanged = (int(final.split(f" {word}")[0].rsplit(" ", 1)[1]) for word in ("scored,", "unchanged,"))
    assert scored + unchanged == 24, final


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_to_a_full_device_is_one_line(trained_bundle: Path, tmp_path: Path) -> None:
    loop = write_loop_set(tmp_path, 1, seed=8)[0]
    argv = ["score", str(trained_bundle), str(loop), "--json"]
    with open("/dev/full", "w") as full:  # every write: No space left on device
        run = subprocess.run(
            [*RTLOOP_CONSOLE, *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert run.returncode == 1, run.stderr
    assert run.stderr == "rtloop score: error: cannot write: No space left on device\n", run.stderr
