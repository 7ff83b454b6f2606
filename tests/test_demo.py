"""`rtloop demo`: trains through the real train path, plays through the live path, planted deviations stand out."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
from rtloop.cli import _train_demo_bundle  # noqa: E402
from rtloop.demo import PLANTED, run_demo  # noqa: E402

pytestmark = pytest.mark.slow
GROSS = [bar for bar, kind in PLANTED.items() if kind != "wrong_notes"]


def test_demo_planted_gross_deviations_score_above_every_normal_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    summary = run_demo(tmp_path, 60, False, (("127.0.0.1", 9),), None, _train_demo_bundle, speed=8.0)
    by_bar = {r.bar: r for r in summary.results}
    assert set(by_bar) == set(range(1, 31))
    normal = [r.variation for bar, r in by_bar.items() if bar not in PLANTED]
    assert all(by_bar[bar].variation > max(normal) for bar in GROSS)
    assert all(by_bar[bar].flagged for bar in GROSS)
    out = capsys.readouterr().out
    assert "training the demo bundle" in out and "planted deviations:" in out
    assert "not subtle ones such as wrong notes" in out  # says plainly what the random encoder misses
    assert (tmp_path / "demo" / "bass.rtloop" / "manifest.json").is_file()
    run_demo(tmp_path, 8, False, (("127.0.0.1", 9),), None, _train_demo_bundle, speed=8.0)
    assert "training the demo bundle" not in capsys.readouterr().out  # cached after the first run
