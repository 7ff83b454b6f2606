"""The scoring child under supervision: killed or stopped, it is detected and replaced (real processes)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from rtloop.bundle import load_bundle
from rtloop.scorer_process import ScorerFailed, ScorerProcess
from rtloop.synth import bass_loop

pytestmark = pytest.mark.slow


def _wait_ready(scorer: ScorerProcess, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not scorer.ready:
        assert time.monotonic() < deadline, "the restarted scoring process never became ready"
        scorer.poll(time.monotonic())
        time.sleep(0.02)


def _answer(scorer: ScorerProcess, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (scores := scorer.poll(time.monotonic())) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return scores


def test_killed_and_stopped_children_are_detected_and_replaced(trained_bundle: Path) -> None:
    loop = bass_loop(120.0, 1, 48000, np.random.default_rng(0))
    with ScorerProcess(load_bundle(trained_bundle)) as scorer:
        expected = float(scorer.score([loop]).raw[0])

        os.kill(scorer.pid, signal.SIGKILL)  # type: ignore[arg-type]
        scorer._process.join(10)
        scorer.submit([loop])
        with pytest.raises(ScorerFailed, match="died \\(killed by SIGKILL\\)"):
            _answer(scorer)
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
