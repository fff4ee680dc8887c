"""docs/functions.md lists exactly the tm functions that are implemented, and the rest as "Not yet"."""
from __future__ import annotations

import re
from pathlib import Path

from opensips_py.modules.tm import EXPORTS, Module


def test_docs_functions_md_lists_exactly_what_tm_implements():
    page = (Path(__file__).resolve().parents[2] / "docs" / "functions.md").read_text(encoding="utf-8")
    section = page.split("\n## tm ", 1)[1].split("\n## ", 1)[0]
    implemented, _, missing = section.partition("Not yet")
    names = {f.name for f in EXPORTS.functions}
    assert set(re.findall(r"`([a-z_0-9]+)`", implemented)) == {n for n in names if callable(getattr(Module, n, None))}
    assert set(re.findall(r"`([a-z_0-9]+)`", missing)) == {n for n in names if not callable(getattr(Module, n, None))}
