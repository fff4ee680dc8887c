"""How long `opensips-py check` takes, against a plain Lark parse of the same text as the same-run baseline.

    .venv/bin/python -m pytest benchmarks/check --benchmark-enable

Inputs: the largest corpus config that is valid OpenSIPS (opensips@3.2/test/7.cfg, 32 KB) and a 50 KB config
built from examples/opensips.cfg (its routes repeated under new names). Goal: 50 KB in <= 150 ms.
"""
from __future__ import annotations

import os
import re

import pytest

from opensips_py.config.check import check_text
from opensips_py.config.check.context import CheckOptions
from opensips_py.config.parser import lark_parser, parse_text
from opensips_py.config.preprocess import Preprocessor

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus", "official"))
if not os.path.isdir(CORPUS):
    CORPUS = "/work/shared/corpus/official"
LARGEST = os.path.join(CORPUS, "opensips@3.2", "test", "7.cfg")


def fifty_kb_config() -> str:
    """examples/opensips.cfg, then copies of its route blocks under new names until 50 KB."""
    with open(os.path.join(ROOT, "examples", "opensips.cfg")) as handle:
        text = handle.read()
    routes = text[text.index("route {"):]
    copies = []
    n = 0
    while len(text) + sum(map(len, copies)) < 50 * 1024:
        n += 1
        copy = re.sub(r"\broute \{", f"route[copy{n}] {{", routes, count=1)
        copy = re.sub(r"(route|branch_route|onreply_route|failure_route)\[([A-Z_]+)\]", rf"\1[\2_{n}]", copy)
        copy = re.sub(r'(route|t_on_branch|t_on_reply|t_on_failure)\("?([A-Z_]+)"?\)',
                      lambda m: f'{m.group(1)}("{m.group(2)}_{n}")' if m.group(1) != "route"
                      else f"route({m.group(2)}_{n})", copy)
        copies.append(copy)
    return text + "".join(copies)


TEXTS = {"largest-corpus": open(LARGEST).read(), "50kb": fifty_kb_config()}


@pytest.fixture(scope="module", autouse=True)
def warm():
    lark_parser()  # grammar compiled once per process, not per check


@pytest.mark.parametrize("name", TEXTS)
def test_baseline_plain_lark_parse(benchmark, name):
    text = Preprocessor().load_text(TEXTS[name]).text
    benchmark(lark_parser().parse, text)


@pytest.mark.parametrize("name", TEXTS)
def test_parse_to_ast(benchmark, name):
    result = benchmark(parse_text, TEXTS[name])
    assert not result.diagnostics


@pytest.mark.parametrize("name", TEXTS)
def test_full_check(benchmark, name):
    result = benchmark(check_text, TEXTS[name], CheckOptions(target="3.6"))
    assert result is not None


def test_fifty_kb_config_is_fifty_kb_and_clean():
    text = TEXTS["50kb"]
    assert len(text) >= 50 * 1024
    assert check_text(text, CheckOptions(target="3.6")).errors == 0
