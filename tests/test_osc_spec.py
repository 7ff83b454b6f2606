"""docs/osc.md is generated from rtloop.osc_spec, the one place every address is defined."""

from __future__ import annotations

from pathlib import Path

from rtloop.osc_spec import CONTROL, OUTPUT, render_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_docs_osc_md_is_current() -> None:
    assert (ROOT / "docs" / "osc.md").read_text() == render_markdown(), "run: python -m rtloop.osc_spec > docs/osc.md"


def test_addresses_are_flat_lower_case_with_at_most_one_value() -> None:
    for a in OUTPUT + CONTROL:
        assert a.name == a.name.lower() and a.name.count("/") == 1
        assert a.types in ("", "f", "i", "s")
