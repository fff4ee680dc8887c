"""The `opensips-py` command line.

    opensips-py -f opensips.cfg [-c|-C] [-F] [-D] [-l SOCKET]… [--no-embedded-relay]
                                                      run a config (or only check it with -c/-C)
    opensips-py check FILE… [options]                 lint configs (docs/check.md)
    opensips-py rtpengine [options]                   the embedded rtpengine-compatible media relay
    opensips-py -V                                    version

Exit status of check: 0 clean, 1 errors (or warnings with --strict), 2 usage or I/O error.
"""
from __future__ import annotations

import argparse
import os
import sys

from opensips_py import __version__
from opensips_py.modules.exports import VERSIONS

SUBCOMMANDS = ("check", "rtpengine", "mi", "sipssert")


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opensips-py check",
        description="Lint opensips.cfg files: syntax, modules, parameters, functions, routes, variables.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="config files to check")
    parser.add_argument("--target", choices=VERSIONS,
                        help="check against a real OpenSIPS version (guide-dialect constructs become errors)")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("--fix", action="store_true", help="apply the mechanical rewrites in place")
    parser.add_argument("--diff", action="store_true", help="with --fix: print a unified diff, change nothing")
    parser.add_argument("--strict", action="store_true", help="warnings make the exit status 1")
    parser.add_argument("--syntax-only", action="store_true", help="only the grammar (like a quick parse)")
    parser.add_argument("--max-size", type=int, default=None, metavar="BYTES",
                        help="largest config accepted (default 2 MiB)")
    return parser


def check_main(argv: list[str]) -> int:
    parser = _check_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if args.diff and not args.fix:
        parser.print_usage(sys.stderr)
        print("opensips-py check: --diff needs --fix", file=sys.stderr)
        return 2
    from opensips_py.config.check import check_file
    from opensips_py.config.check.context import CheckOptions
    from opensips_py.config.check.output import format_json, format_sarif, format_text

    options = CheckOptions(target=args.target, strict=args.strict, syntax_only=args.syntax_only)
    if args.fix:
        return _fix(args, options)
    results = []
    io_error = False
    for path in args.files:
        result = check_file(path, options, max_bytes=args.max_size)
        results.append((path, result))
        if result.source is None and any(d.code in ("E002",) for d in result.diagnostics):
            io_error = True
    if args.format == "json":
        sys.stdout.write(format_json(results, args.target))
    elif args.format == "sarif":
        sys.stdout.write(format_sarif(results))
    else:
        sys.stdout.write(format_text(results))
    if io_error:
        return 2
    return max(result.exit_status() for _, result in results)


def _fix(args, options) -> int:
    """--fix: edit in memory until nothing fixable is left, then write the files (or print a diff)."""
    from opensips_py.config.check import check_file
    from opensips_py.config.check.fix import fix_files, unified_diff
    from opensips_py.config.check.output import format_text

    status = 0
    for path in args.files:
        originals: dict[str, str] = {}
        edited: dict[str, str] = {}

        def read(p: str) -> str:
            if p not in edited:
                with open(p, encoding="utf-8") as handle:
                    originals[p] = edited[p] = handle.read()
            return edited[p]

        def write(p: str, text: str) -> None:
            edited[p] = text

        def run_check():
            return check_file(path, options, max_bytes=args.max_size, overlay=edited).diagnostics

        try:
            applied = fix_files(run_check, read, write)
            changed = {p: t for p, t in edited.items() if t != originals[p]}
            if args.diff:
                for p in sorted(changed):
                    sys.stdout.write(unified_diff(p, originals[p], changed[p]))
            else:
                for p, text in changed.items():
                    with open(p, "w", encoding="utf-8") as handle:
                        handle.write(text)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"opensips-py check: cannot fix {path}: {exc}", file=sys.stderr)
            return 2
        result = check_file(path, options, max_bytes=args.max_size, overlay=edited)
        print(f"{path}: {applied} fix(es) applied" + (" (diff only, nothing written)" if args.diff else ""),
              file=sys.stderr)
        if not args.diff:
            sys.stdout.write(format_text([(path, result)]))
        status = max(status, result.exit_status())
    return status


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opensips-py",
        description="A drop-in OpenSIPS in Python. Subcommands: " + ", ".join(SUBCOMMANDS) + ".",
        epilog="opensips-py check --help lists the linter's options.")
    parser.add_argument("-f", dest="config", metavar="FILE", default="/etc/opensips/opensips.cfg",
                        help="configuration file (default /etc/opensips/opensips.cfg)")
    parser.add_argument("-c", dest="check", action="store_true", help="check the config and exit")
    parser.add_argument("-C", dest="check_full", action="store_true", help="check the config (full) and exit")
    parser.add_argument("-F", dest="foreground", action="store_true",
                        help="stay in the foreground (always the case: accepted for OpenSIPS compatibility)")
    parser.add_argument("-D", dest="debug", action="store_true", help="debug mode: log at debug level (4)")
    parser.add_argument("-l", dest="listen", action="append", metavar="SOCKET", help="extra socket")
    parser.add_argument("-m", dest="shm", metavar="MB", help="shared memory (accepted and ignored)")
    parser.add_argument("-M", dest="pkg", metavar="MB", help="private memory (accepted and ignored)")
    parser.add_argument("-V", dest="version", action="store_true", help="print the version and exit")
    parser.add_argument("--target", choices=VERSIONS, help="with -c/-C: the OpenSIPS version to check against")
    parser.add_argument("--no-embedded-relay", dest="embedded_relay", action="store_false",
                        help="do not start our media relay where a local rtpengine_sock has nothing listening")
    return parser


def run_main(argv: list[str]) -> int:
    parser = _run_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if args.version:
        print(f"version: opensips-py {__version__} (OpenSIPS script language 3.2-4.0)")
        return 0
    from opensips_py.config.check import check_file
    from opensips_py.config.check.context import CheckOptions
    from opensips_py.config.check.output import format_text

    result = check_file(args.config, CheckOptions(target=args.target))
    if args.check or args.check_full:
        if result.diagnostics:
            sys.stderr.write(format_text([(args.config, result)]))
        if result.exit_status() == 0:
            print("config file ok, exiting...", file=sys.stderr)
        return 2 if result.source is None else result.exit_status()
    if result.source is None:
        sys.stderr.write(format_text([(args.config, result)]))
        print(f"opensips-py: cannot read config file {args.config}, refusing to start", file=sys.stderr)
        return 2
    return _run(args, result)


def _run(args, result) -> int:
    """Run mode: build the proxy core from the checked config and serve it until SIGTERM/SIGINT."""
    from opensips_py.runtime import ProxyCore, StartupFailure
    from opensips_py.runtime.log import L_DBG

    if args.shm or args.pkg:
        print("opensips-py: -m/-M accepted and ignored (Python manages its own memory)", file=sys.stderr)
    try:
        core = ProxyCore.from_check(result, args.config, extra_sockets=args.listen or (),
                                    log_level=L_DBG if args.debug else None)
    except StartupFailure as failure:
        sys.stderr.write(failure.report)
        print(f"opensips-py: bad config file {args.config}, refusing to start", file=sys.stderr)
        return 1
    core.logger.notice(f"opensips-py {__version__} starting with {args.config} (pid {os.getpid()})")
    relays: list = []
    if args.embedded_relay:  # docs/media.md "The rtpengine module": the embedded relay
        from opensips_py.modules._rtpengine.embedded import start_embedded_relays
        relays = start_embedded_relays(core)
    try:
        return serve(core)
    finally:
        for relay in relays:
            relay.stop()


def serve(core) -> int:
    """Serve on the real network until SIGTERM or SIGINT; 0 after a clean stop, 1 if sockets fail."""
    import signal

    import trio

    from opensips_py.transport.server import LiveServer

    async def main() -> None:
        server = LiveServer(core)
        await server.open()  # a socket that cannot be bound is an OSError here, outside any nursery
        async with trio.open_nursery() as nursery:
            async def stop_on_signal() -> None:
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        core.logger.notice(f"{signal.Signals(signum).name} received: shutting down")
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(stop_on_signal)
            await server.run()
            nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    except OSError as exc:
        core.logger.error(f"cannot open the sockets: {exc}")
        return 1
    core.logger.notice("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        return check_main(argv[1:])
    if argv and argv[0] == "mi":
        from opensips_py.mi.client import main as mi_main
        return mi_main(argv[1:])
    if argv and argv[0] == "sipssert":
        from opensips_py.sipssert.cli import main as sipssert_main
        return sipssert_main(argv[1:])
    if argv and argv[0] == "rtpengine":
        try:
            from opensips_py.media.cli import main as relay_main
        except ImportError:
            print("opensips-py rtpengine: the media relay is not part of this build", file=sys.stderr)
            return 2
        return relay_main(argv[1:])
    return run_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
