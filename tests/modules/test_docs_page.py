"""docs/modules.md is exactly what the exports tables generate: the docs cannot drift from the tables."""
from __future__ import annotations

from pathlib import Path

from opensips_py.modules import known_modules
from opensips_py.modules._docgen import render_page

DOCS = Path(__file__).resolve().parents[2] / "docs" / "modules.md"


def test_docs_modules_md_is_generated_from_every_table() -> None:
    """Regenerate with: python -m opensips_py.modules._docgen --all > docs/modules.md"""
    assert DOCS.read_text(encoding="utf-8") == render_page(list(known_modules()))


def test_every_table_has_a_section() -> None:
    page = DOCS.read_text(encoding="utf-8")
    for name in known_modules():
        assert f"\n## {name}\n" in page
