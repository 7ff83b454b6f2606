"""The scoring child under supervision: killed or stopped, it is detected and replaced; it runs without
transparent huge pages (real processes)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rtloop.bundle import load_bundle
from rtloop.live import RunConfig, open_daemon, run_daemon
from rtloop.scorer_process import ScorerFailed, ScorerProcess
from rtloop.scores import AspectScores, Scores
from rtloop.synth import bass_loop

pytestmark = pytest.mark.slow


def _wait_ready(scorer: ScorerProcess, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not scorer.ready:
        assert time.monotonic() < deadline, "the restarted scoring process never became ready"
        scorer.poll(time.monotonic())
        time.sleep(0.02)


def _answer(scorer: ScorerProcess, timeout: float = 60.0) -> Scores:
    """The request's scores; the loop's descriptor aspects must have come first, on their own."""
    deadline = time.monotonic() + timeout
    answers: list[Scores | AspectScores] = []
    while not answers or not isinstance(answers[-1], Scores):
        assert time.monotonic() < deadline
        if (answer := scorer.poll(time.monotonic())) is None:
            time.sleep(0.01)
        else:
            answers.append(answer)
    assert [type(a) for a in answers] == [AspectScores, Scores]
    assert all(np.array_equal(answers[0].variation[k], answers[1].aspects[k]) for k in answers[0].variation)
    return answers[1]


def _huge_pages_allowed(pid: int | None) -> bool | None:
    """Whether transparent huge pages are on for a process (Linux 5.0+'s ``THP_enabled``), else None."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("THP_enabled:"):
            return line.split()[1] == "1"
    return None


def test_the_scoring_child_runs_without_transparent_huge_pages(trained_bundle: Path) -> None:
    """Its huge-page faults and khugepaged's copies of its memory stalled JACK's realtime threads."""
    with ScorerProcess(load_bundle(trained_bundle)) as scorer:
        allowed = _huge_pages_allowed(scorer.pid)
    if allowed is None:
        pytest.skip("this kernel's /proc/PID/status has no THP_enabled (Linux < 5.0)")
    assert not allowed


def test_loops_of_any_length_reach_the_child_and_its_shared_memory_goes_with_it(trained_bundle: Path) -> None:
    rng = np.random.default_rng(1)
    bar = bass_loop(120.0, 1, 48000, rng)
    long = bass_loop(120.0, 8, 48000, rng)  # 16 s: more than the first shared memory segment holds
    with ScorerProcess(load_bundle(trained_bundle)) as scorer:
        first = scorer.score([bar])
        both = scorer.score([long, bar])
        segment = scorer._waves._memory.name  # type: ignore[union-attr]
        assert Path("/dev/shm", segment).exists()
    assert np.isfinite(both.raw).all() and both.raw[1] == pytest.approx(first.raw[0], rel=1e-6)
    assert not Path("/dev/shm", segment).exists()


def test_killed_and_stopped_children_are_detected_and_replaced(trained_bundle: Path) -> None:
    loop = bass_loop(120.0, 1, 48000, np.random.default_rng(0))
    with ScorerProcess(load_bundle(trained_bundle)) as scorer:
        expected = float(scorer.score([loop]).raw[0])

        os.kill(scorer.pid, signal.SIGKILL)  # type: ignore[arg-type]
        scorer._process.join(10)
        with pytest.raises(ScorerFailed, match="gone|died \\(killed by SIGKILL\\)"):
            scorer.submit([loop])  # the pipe may already be broken ...
            _answer(scorer)  # ... or the death shows in the answer
        scorer.restart()
        _wait_ready(scorer)
        scorer.submit([loop])
        assert float(_answer(scorer).raw[0]) == pytest.approx(expected, rel=1e-6)

        os.kill(scorer.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        scorer.submit([loop])
        with pytest.raises(ScorerFailed, match="is stopped \\(SIGSTOP"):
            _answer(scorer, timeout=30.0)
        stopped = scorer.pid
        scorer.restart()  # SIGKILL ends a stopped process too
        assert not os.path.exists(f"/proc/{stopped}") or "Z" in Path(f"/proc/{stopped}/stat").read_text().split()[2]
        _wait_ready(scorer)
        assert float(scorer.score([loop]).raw[0]) == pytest.approx(expected, rel=1e-6)


def test_a_live_run_survives_its_scoring_child_being_killed(trained_bundle: Path) -> None:
    rng = np.random.default_rng(3)
    wave = np.concatenate([bass_loop(120.0, 1, 48000, rng) for _ in range(4)])
    cfg = RunConfig(
        bundle=trained_bundle, osc=(("127.0.0.1", 9),), control=None, wave=wave, loop=True, speed=2.0, bpm=120.0, bars=1
    )
    lines: list[str] = []
    stop = threading.Event()
    with open_daemon(cfg, print_line=lines.append) as daemon:
        runner = threading.Thread(target=run_daemon, args=(daemon, stop))
        runner.start()
        try:
            deadline = time.monotonic() + 240
            while daemon.summary.scored < 1:
                assert time.monotonic() < deadline and runner.is_alive()
                time.sleep(0.05)
            os.kill(daemon.scorer.pid, signal.SIGKILL)  # type: ignore[attr-defined]
            while (
                daemon.summary.scorer_restarts < 1
                or daemon.summary.results[-1].bar <= daemon.summary.skipped_bars[0][0]
            ):
                assert time.monotonic() < deadline and runner.is_alive(), lines
                time.sleep(0.05)
        finally:
            stop.set()
            runner.join(timeout=60)
    assert not runner.is_alive()
    summary = daemon.summary
    assert summary.scorer_restarts == 1 and summary.reason is None
    assert (
        any("restarting it" in line for line in lines)
        and "status: running" in lines[lines.index("status: scorer_restarting") :]
    )
    reasons = {reason for _, reason in summary.skipped_bars}
    assert reasons <= {"scoring process restarting"} | {r for r in reasons if r.startswith("scoring process failed")}
