"""Every rule of the catalogue: its bad example triggers it, its fixed example does not, docs/check.md lists it."""
from __future__ import annotations

import os

import pytest

from opensips_py.config.check import check_text
from opensips_py.config.check.catalog import RULES, RULES_BY_CODE, markdown
from opensips_py.config.check.context import CheckOptions

EXECUTABLE = [rule for rule in RULES if not rule.prose and rule.code not in ("E002",)]
DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "check.md")


def codes(text: str, target: str | None) -> set[str]:
    result = check_text(text, CheckOptions(target=target), name="example.cfg")
    return {d.code for d in result.diagnostics}


@pytest.mark.parametrize("rule", EXECUTABLE, ids=lambda r: r.code)
def test_bad_example_triggers_the_rule(rule):
    assert rule.code in codes(rule.bad, rule.target)


@pytest.mark.parametrize("rule", EXECUTABLE, ids=lambda r: r.code)
def test_fixed_example_does_not_trigger_the_rule(rule):
    assert rule.code not in codes(rule.good, rule.target)


def test_codes_are_unique_and_well_formed():
    assert len(RULES_BY_CODE) == len(RULES)
    for rule in RULES:
        assert rule.code[0] in "EWNVP" and rule.code[1:].isdigit() and len(rule.code) == 4


def test_docs_check_md_is_generated_from_the_catalogue():
    with open(DOCS, encoding="utf-8") as handle:
        assert handle.read() == markdown(), "regenerate: python -m opensips_py.config.check.catalog > docs/check.md"
