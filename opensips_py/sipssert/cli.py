"""`opensips-py sipssert [PATH…] [--junit FILE] [--markdown FILE] [-k PATTERN] [--no-netns] [--faketime T]`.

PATH is a SIPssert suite root (run.yml), a test set or one scenario; default: the current directory.
Exit status: 0 when no scenario failed, 1 when one did, 2 for usage errors. SIGTERM stops the run the way
Ctrl-C does: the running scenario's processes, namespace and workspace are cleaned up first.
"""
from __future__ import annotations

import argparse
import datetime
import shlex
import signal
import sys
from pathlib import Path

from opensips_py.sipssert.runner import RunOptions, junit_xml, markdown_table, run_paths, summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="opensips-py sipssert",
                                     description="Run SIPssert scenarios against opensips-py on loopback.")
    parser.add_argument("paths", nargs="*", type=Path, help="suite root, test set or scenario directories")
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN",
                        help="only scenarios whose set/name contains PATTERN (or matches it as a glob)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--logs-dir", type=Path, metavar="DIR", help="keep every task's output under DIR")
    parser.add_argument("--keep", action="store_true", help="keep the scenario workspaces (printed)")
    parser.add_argument("-E", "--extra-var", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra Jinja2 variable, as SIPssert's -E")
    parser.add_argument("--opensips", metavar="COMMAND",
                        help="command run for opensips tasks (default: this opensips-py)")
    parser.add_argument("--sipp", default="sipp", help="the sipp binary (default: sipp)")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="write the result table (Markdown, as in docs/sipssert.md)")
    parser.add_argument("--no-netns", dest="netns", action="store_false", default=None,
                        help="no network namespaces: map the suite's addresses to 127.0.52.x/127.10.52.x "
                             "(automatic when `ip netns` is not permitted)")
    parser.add_argument("--faketime", metavar="'YYYY-MM-DD HH:MM:SS'",
                        help="run the opensips and sipp tasks with their wall clock starting at this UTC time "
                             "(libfaketime, Debian package faketime); PASSporTs the runner signs use it too")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    extra = {}
    for item in args.extra_var:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"opensips-py sipssert: -E needs KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        extra[key] = value
    options = RunOptions(logs_dir=args.logs_dir, keep=args.keep, extra_vars=extra, sipp=args.sipp,
                         netns=args.netns)
    if args.faketime:
        try:
            moment = datetime.datetime.strptime(args.faketime.strip(), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            print(f"opensips-py sipssert: --faketime needs 'YYYY-MM-DD HH:MM:SS', got {args.faketime!r}",
                  file=sys.stderr)
            return 2
        options.faketime = moment.replace(tzinfo=datetime.timezone.utc).timestamp()
    if args.opensips:
        options.opensips_command = shlex.split(args.opensips)
    paths = args.paths or [Path.cwd()]
    for path in paths:
        if not path.is_dir():
            print(f"opensips-py sipssert: {path} is not a directory", file=sys.stderr)
            return 2
    def interrupted(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        results = run_paths(paths, args.patterns, options)
    except KeyboardInterrupt:
        print("opensips-py sipssert: interrupted", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(summary(results))
    if args.junit:
        args.junit.write_bytes(junit_xml(results))
    if args.markdown:
        args.markdown.write_text(markdown_table(results), encoding="utf-8")
    return 1 if any(r.status == "FAIL" for r in results) else 0
