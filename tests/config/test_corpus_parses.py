"""Every config of the official corpus parses, except templates and files real OpenSIPS rejects too."""
from __future__ import annotations

import glob
import os

import pytest

from opensips_py.config.parser import parse_file, parse_text
from opensips_py.config.printer import print_config
from tests import shared

CORPUS = str(shared.OFFICIAL)

# Not opensips.cfg syntax as stored: filled in by a template step before OpenSIPS sees them.
TEMPLATES = {
    "opensips-ims-ce/icscf/opensips.cfg": "${VAR} placeholders filled by envsubst",
    "opensips-ims-ce/pcscf/opensips.cfg": "${VAR} placeholders filled by envsubst",
    "opensips-ims-ce/scscf/opensips.cfg": "${VAR} placeholders filled by envsubst",
    "opensips-softswitch-ce-config/opensips.cfg": "${VAR} placeholders and m4 macros (substenv.sh)",
}

# Files that are not valid OpenSIPS 3.x/4.0 syntax at all (stale examples and non-config files); real
# OpenSIPS rejects them with a syntax error too (cfg.y of 3.2–4.0 has no rule for what they contain).
NOT_VALID_OPENSIPS = {
    "opensips/examples/exec_s5.cfg": "missing ';' after route(1) before else",
    "opensips/examples/replicate.cfg": "a transformation {ip.resolve} floating after a string",
    "opensips/modules/jabber/doc/jabber.cfg": "1.x forward(uri:host, uri:port) syntax",
    "opensips/modules/ldap/etc/ldap.cfg": "an ldap.cfg (INI file), not an opensips.cfg",
    "opensips/modules/msilo/samples/msilo.cfg": "unbalanced braces (an extra '{' on line 64)",
    "opensips/modules/osp/etc/sample-osp-opensips.cfg": "unbalanced ')' on line 1008",
    "opensips@3.2/test/12.cfg": "if without parentheses: if !(route(39))",
    "opensips@3.2/test/19.cfg": "unquoted method name: $rm==INVITE",
    "opensips@3.2/test/21.cfg": "unquoted method name: $rm==REGISTER",
    "opensips@3.2/test/35.cfg": "unquoted method name: $rm==INVITE",
    "opensips@3.2/test/carrierroute.cfg": "a carrierroute data file, not an opensips.cfg",
    "opensips@3.2/test/carrierroute-2.cfg": "a carrierroute data file, not an opensips.cfg",
}


def _corpus_files() -> list[str]:
    files = sorted(glob.glob(os.path.join(CORPUS, "**", "*.cfg"), recursive=True))
    return [os.path.relpath(f, CORPUS) for f in files]


FILES = _corpus_files()


def test_corpus_is_there():
    assert len(FILES) > 200


@pytest.mark.parametrize("relpath", FILES)
def test_corpus_config_parses(relpath):
    result = parse_file(os.path.join(CORPUS, relpath))
    syntax = [d for d in result.diagnostics if d.code in ("E001", "E002", "E005")]
    if relpath in TEMPLATES or relpath in NOT_VALID_OPENSIPS:
        assert syntax, f"{relpath} is listed as not parsing, but it parses: take it off the list"
        return
    assert not syntax, "\n".join(f"{d.location.line}:{d.location.column}: {d.message}" for d in syntax)


@pytest.mark.parametrize("relpath", [f for f in FILES if f not in TEMPLATES and f not in NOT_VALID_OPENSIPS])
def test_corpus_config_prints_back_to_the_same_ast(relpath):
    first = parse_file(os.path.join(CORPUS, relpath))
    text = print_config(first.config)
    second = parse_text(text)
    assert not second.diagnostics, second.diagnostics[:3]
    assert second.config == first.config


def test_guide_config_parses_in_dialect_mode():
    result = parse_file(str(shared.GUIDE_CFG))
    assert not result.diagnostics
    dialects = {r.dialect for r in result.config.routes()}
    assert {"request_route", "function"} <= dialects
