"""docs/osc.md is generated from rtloop.osc_spec, the one place every address is defined."""

from __future__ import annotations

from pathlib import Path

from rtloop.aspects import ASPECTS
from rtloop.osc_spec import CONTROL, OUTPUT, render_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_docs_osc_md_is_current() -> None:
    assert (ROOT / "docs" / "osc.md").read_text() == render_markdown(), "run: python -m rtloop.osc_spec > docs/osc.md"


def test_addresses_are_lower_case_with_at_most_one_value_and_aspects_under_variation() -> None:
    for a in OUTPUT + CONTROL:
        assert a.name == a.name.lower() and a.types in ("", "f", "i", "s")
        parts = a.name.split("/")[1:]
        assert len(parts) == 1 or (parts[0] == "variation" and parts[1] in ASPECTS and a.types == "f"), a.name
    assert {f"/variation/{aspect}" for aspect in ASPECTS} <= {a.name for a in OUTPUT}
