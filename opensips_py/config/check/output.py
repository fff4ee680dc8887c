"""Findings as text (compiler style), JSON (documented in docs/check.md) or SARIF 2.1.0."""
from __future__ import annotations

import json
import os

from opensips_py import __version__
from opensips_py.config.check.catalog import RULES_BY_CODE
from opensips_py.config.diagnostics import Diagnostic, Severity
from opensips_py.config.preprocess import Source

JSON_SCHEMA_VERSION = 1


def _source_line(source: Source | None, diagnostic: Diagnostic) -> str | None:
    if source is None:
        return None
    line = source.source_line(diagnostic.location.file, diagnostic.location.line)
    if not line and diagnostic.location.file not in source.files:
        return None
    return line


def format_text(results: list[tuple[str, "object"]], color: bool = False) -> str:
    """`FILE:LINE:COL: severity CODE: message`, the source line, a caret under the column, then the hint."""
    out: list[str] = []
    totals = {Severity.ERROR: 0, Severity.WARNING: 0, Severity.NOTE: 0}
    for _, result in results:
        for d in result.diagnostics:
            totals[d.severity] += 1
            loc = d.location
            out.append(f"{loc.file}:{loc.line}:{loc.column}: {d.severity.label} {d.code}: {d.message}")
            line = _source_line(result.source, d)
            if line is not None:
                expanded = line.replace("\t", " ")
                out.append(f"  {expanded}")
                width = 1
                if loc.end_line == loc.line and loc.end_column and loc.end_column > loc.column:
                    width = loc.end_column - loc.column
                out.append("  " + " " * (loc.column - 1) + "^" + "~" * (width - 1))
            if d.hint:
                out.append(f"  hint: {d.hint}")
            if d.fix:
                out.append(f"  fix: {d.fix.description} (--fix)")
    summary = (f"{totals[Severity.ERROR]} error(s), {totals[Severity.WARNING]} warning(s), "
               f"{totals[Severity.NOTE]} note(s)")
    out.append(summary)
    return "\n".join(out) + "\n"


def _diagnostic_json(d: Diagnostic) -> dict:
    loc = d.location
    return {
        "code": d.code,
        "severity": d.severity.label,
        "file": loc.file,
        "line": loc.line,
        "column": loc.column,
        "end_line": loc.end_line if loc.end_line is not None else loc.line,
        "end_column": loc.end_column if loc.end_column is not None else loc.column,
        "message": d.message,
        "hint": d.hint,
        "fix": None if d.fix is None else {
            "description": d.fix.description,
            "edits": [{"file": e.file, "start_line": e.start[0], "start_column": e.start[1],
                       "end_line": e.end[0], "end_column": e.end[1], "text": e.text} for e in d.fix.edits],
        },
    }


def format_json(results: list[tuple[str, "object"]], target: str | None) -> str:
    diagnostics = [_diagnostic_json(d) for _, r in results for d in r.diagnostics]
    document = {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "opensips-py check", "version": __version__},
        "target": target,
        "files": [path for path, _ in results],
        "diagnostics": diagnostics,
        "summary": {
            "errors": sum(1 for d in diagnostics if d["severity"] == "error"),
            "warnings": sum(1 for d in diagnostics if d["severity"] == "warning"),
            "notes": sum(1 for d in diagnostics if d["severity"] == "note"),
        },
    }
    return json.dumps(document, indent=2) + "\n"


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _uri(path: str) -> str:
    return path if os.path.isabs(path) is False else "file://" + path


def format_sarif(results: list[tuple[str, "object"]]) -> str:
    used = sorted({d.code for _, r in results for d in r.diagnostics})
    rules = []
    for code in used:
        rule = RULES_BY_CODE[code]
        rules.append({
            "id": code,
            "name": rule.title,
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.catches},
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        })
    index = {code: i for i, code in enumerate(used)}
    sarif_results = []
    for _, result in results:
        for d in result.diagnostics:
            loc = d.location
            region = {"startLine": loc.line, "startColumn": loc.column}
            if loc.end_line is not None and loc.end_column is not None and (
                    loc.end_line, loc.end_column) >= (loc.line, loc.column):
                region["endLine"] = loc.end_line
                region["endColumn"] = loc.end_column
            text = d.message + (f" (hint: {d.hint})" if d.hint else "")
            entry = {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": _SARIF_LEVEL[d.severity],
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(loc.file)},
                                                    "region": region}}],
            }
            if d.fix is not None:
                entry["fixes"] = [{
                    "description": {"text": d.fix.description},
                    "artifactChanges": [{
                        "artifactLocation": {"uri": _uri(e.file)},
                        "replacements": [{
                            "deletedRegion": {"startLine": e.start[0], "startColumn": e.start[1],
                                              "endLine": e.end[0], "endColumn": e.end[1]},
                            "insertedContent": {"text": e.text},
                        }],
                    } for e in d.fix.edits],
                }]
            sarif_results.append(entry)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "opensips-py check", "version": __version__, "rules": rules}},
            "results": sarif_results,
        }],
    }
    return json.dumps(document, indent=2) + "\n"
