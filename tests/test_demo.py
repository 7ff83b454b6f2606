"""`rtloop demo`: trains through the real train path, plays through the live path, planted deviations stand out."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
from rtloop.cli import _train_demo_bundle  # noqa: E402
from rtloop.demo import EXPECTED_ASPECT, PLANTED, run_demo  # noqa: E402

pytestmark = pytest.mark.slow


def test_demo_planted_deviations_are_flagged_and_light_their_aspect(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    summary = run_demo(tmp_path, 60, False, (("127.0.0.1", 9),), None, _train_demo_bundle, speed=8.0)
    by_bar = {r.bar: r for r in summary.results}
    assert set(by_bar) == set(range(1, 31))
    normal = [r.variation for bar, r in by_bar.items() if bar not in PLANTED]
    for bar, kind in PLANTED.items():  # the subtle ones (wrong notes, broken rhythm) too
        assert by_bar[bar].variation > max(normal) and by_bar[bar].flagged, (bar, kind, by_bar[bar])
        assert by_bar[bar].top_aspect in EXPECTED_ASPECT[kind], (bar, kind, by_bar[bar].aspects)
    out = capsys.readouterr().out
    assert "training the demo bundle" in out and "planted deviations:" in out
    assert f"{len(PLANTED)} of {len(PLANTED)} planted deviations flagged" in out
    assert "'sound' is the HTS-AT encoder,\nrandom here" in out  # says plainly what the random encoder is
    assert (tmp_path / "demo" / "bass.rtloop" / "manifest.json").is_file()
    run_demo(tmp_path, 8, False, (("127.0.0.1", 9),), None, _train_demo_bundle, speed=8.0)
    assert "training the demo bundle" not in capsys.readouterr().out  # cached after the first run
