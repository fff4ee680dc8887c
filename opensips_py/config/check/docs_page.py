"""Renders docs/check.md from the rule catalogue, so the page can never list a rule that does not exist."""
from __future__ import annotations

_INTRO = """\
# `opensips-py check`: the config linter

```
opensips-py check FILE… [--target 3.2|3.4|3.6|4.0] [--format text|json|sarif] [--fix [--diff]]
                        [--strict] [--syntax-only] [--max-size BYTES]
opensips-py -c -f FILE        # the same checks, spelled as OpenSIPS spells them (also -C)
```

`check` reads the config and everything it includes, parses it with the grammar of `grammar/opensips.lark`, and
runs every rule below over the syntax tree. It never runs module code, never opens the network and needs no
database. The facts it checks against are the exports tables of `opensips_py/modules/` (functions with their
argument kinds and allowed route types, module parameters with their types, pseudo-variables, dependencies),
taken from the OpenSIPS sources of 3.2, 3.4, 3.6 and 4.0.

## Targets

- No `--target` (the default): opensips-py's own dialect. Anything valid in any of 3.2–4.0 is accepted, and the
  guide-dialect constructs opensips-py runs (`request_route`, `function` blocks, `$msg:len`, `.` concatenation,
  `modparam("core", …)`, `advertise`) are portability **warnings** (P7xx).
- `--target 3.2|3.4|3.6|4.0`: real OpenSIPS of that version. Version drift is reported (V6xx: a name that exists
  in another version, a deprecated one, flags written the way another version wants them), and the guide-dialect
  constructs become **errors**, because that OpenSIPS rejects them.

## Output

Text (the default) is one finding per line, as compilers write it, so editors and CI jump to it:

```
opensips.cfg:162:35: error E303: argument 1 (max) of mf_process_maxfwd_header() is an integer, not the string "10"
      if (!mf_process_maxfwd_header("10")) {
                                    ^~~~
  hint: write 10 without quotes
  fix: unquote the number (--fix)
```

then a summary line. Lines and columns are those of the file the text is in (an included file names itself);
a tab counts as one column, as in OpenSIPS.

`--format json` prints one document (schema: `tests/data/check-json.schema.json`):

```
{
  "schema_version": 1,
  "tool": {"name": "opensips-py check", "version": "…"},
  "target": "3.6" | null,
  "files": ["opensips.cfg"],
  "diagnostics": [
    {"code": "E303", "severity": "error" | "warning" | "note", "file": "…", "line": 162, "column": 35,
     "end_line": 162, "end_column": 39, "message": "…", "hint": "…" | null,
     "fix": null | {"description": "…", "edits": [{"file": "…", "start_line": 162, "start_column": 35,
                                                   "end_line": 162, "end_column": 39, "text": "10"}]}}
  ],
  "summary": {"errors": 1, "warnings": 0, "notes": 0}
}
```

An edit replaces the text from (start_line, start_column) up to, not including, (end_line, end_column).

`--format sarif` prints SARIF 2.1.0 (validated in the test suite against the official schema): one run, the
rules that fired with their descriptions, one result per finding with its region, and the fix as a SARIF fix.

## --fix

`--fix` applies the mechanical rewrites (the rules marked *fixable* below) in place, keeping every other byte of
the files (comments, layout). It repeats until nothing fixable is left, so a second run changes nothing.
`--fix --diff` prints a unified diff instead of writing. What cannot be decided by a machine (an unknown
parameter, a Kamailio function with no exact equivalent, a tls_mgm domain to choose) is left in place and
listed with a hint. Renames and syntax changes are fixed; a `loadmodule` is only added for modules that work
without settings (not for drouting, a database, dispatcher…).

## Exit status

0: no error (warnings and notes allowed); 1: at least one error, or a warning under `--strict`;
2: usage error, or the config file itself cannot be read.

## Rules

Codes: E0xx files and syntax, E1xx global parameters, E2xx modules and modparams, E3xx function calls,
E4xx/W4xx routes and flow, E5xx/W5xx pseudo-variables, V6xx version drift (only with `--target`), P7xx guide
dialect. Severity is the default one; P7xx become errors with `--target`.
"""


def _block(text: str) -> str:
    return "```\n" + text.rstrip("\n") + "\n```"


def render(rules) -> str:
    out = [_INTRO]
    out.append("| code | severity | rule | fixable |")
    out.append("|---|---|---|---|")
    for rule in rules:
        out.append(f"| [{rule.code}](#{rule.code.lower()}) | {rule.severity.label} | {rule.title} | "
                   f"{'yes' if rule.fixable else ''} |")
    out.append("")
    for rule in rules:
        out.append(f"### {rule.code}")
        out.append("")
        target = f" (checked with `--target {rule.target}`)" if rule.target else ""
        out.append(f"**{rule.title}** — {rule.severity.label}{', fixable' if rule.fixable else ''}{target}")
        out.append("")
        out.append(rule.catches)
        out.append("")
        if rule.prose:
            out.append(f"Bad: {rule.bad}. Fixed: {rule.good}.")
        else:
            out.append("Bad:")
            out.append("")
            out.append(_block(rule.bad))
            out.append("")
            out.append("Fixed:")
            out.append("")
            out.append(_block(rule.good))
        out.append("")
    return "\n".join(out)
