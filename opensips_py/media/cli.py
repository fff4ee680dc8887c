"""`opensips-py rtpengine`: the relay as a standalone daemon, with rtpengine's option names.

    opensips-py rtpengine --interface=127.0.0.1 --listen-ng=127.0.0.1:22222 --port-min=30000 \
        --port-max=39999 --foreground

Options a userspace rtpengine is commonly started with are accepted: ``--table=-1`` (no kernel
forwarding; we never have any), ``--config-file=none``, ``--log-stderr``, ``--no-fallback``.
Without ``--foreground`` the process detaches like rtpengine does.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from opensips_py.media.control import RelayConfig
from opensips_py.media.interfaces import InterfaceError, parse_interface
from opensips_py.media.session import EndpointLearning

# syslog levels (rtpengine --log-level) → logging levels
_LOG_LEVELS = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR,
               4: logging.WARNING, 5: logging.INFO, 6: logging.INFO, 7: logging.DEBUG}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opensips-py rtpengine",
        description="rtpengine-compatible media relay (ng control protocol, RTP/RTCP relaying)")
    add = parser.add_argument
    add("-n", "--listen-ng", action="append", default=[], metavar="[ADDR:]PORT",
        help="UDP address for ng commands (repeatable); e.g. 127.0.0.1:22222")
    add("-i", "--interface", action="append", default=[], metavar="[NAME/]IP[!ADVERTISED]",
        help="local media address (repeatable); the first is the default interface")
    add("-m", "--port-min", type=int, default=30000, help="lowest media port (default 30000)")
    add("-M", "--port-max", type=int, default=39999, help="highest media port (default 39999)")
    add("-o", "--timeout", type=int, default=60, help="seconds without media before a call is closed")
    add("-a", "--silent-timeout", type=int, default=3600,
        help="the same for held/muted streams (default 3600)")
    add("--offer-timeout", type=int, default=3600,
        help="the same for offers never answered (default 3600)")
    add("--final-timeout", type=int, default=0, help="hard limit on call duration, 0 = none")
    add("--delete-delay", type=int, default=30, help="seconds a deleted call lingers (default 30)")
    add("--endpoint-learning", choices=[mode.value for mode in EndpointLearning], default="delayed",
        help="how peers' real addresses are learned from their packets (default delayed)")
    add("-L", "--log-level", type=int, default=6, help="syslog level 0-7 (default 6)")
    add("--log-stderr", action="store_true", help="log to stderr (always the case in foreground)")
    add("-f", "--foreground", action="store_true", help="do not detach")
    add("-p", "--pidfile", help="write the process id to this file")
    add("--config-file", help="only 'none' is accepted: rtpengine config files are not read")
    add("--table", type=int, default=-1, help="kernel forwarding table; ignored (userspace only)")
    add("--no-fallback", action="store_true", help="accepted for compatibility; no effect")
    return parser


def config_from_args(args: argparse.Namespace) -> RelayConfig:
    return RelayConfig(
        interfaces=list(args.interface),
        port_min=args.port_min,
        port_max=args.port_max,
        timeout=args.timeout,
        silent_timeout=args.silent_timeout,
        offer_timeout=args.offer_timeout,
        final_timeout=args.final_timeout,
        delete_delay=args.delete_delay,
        endpoint_learning=EndpointLearning(args.endpoint_learning),
    )


def _check(args: argparse.Namespace) -> str | None:
    from opensips_py.media.server import parse_listen

    if not args.listen_ng:
        return "no --listen-ng given: nothing to control the relay with"
    if not args.interface:
        return "no --interface given"
    for spec in args.interface:
        try:
            parse_interface(spec)
        except InterfaceError as error:
            return str(error)
    for spec in args.listen_ng:
        try:
            parse_listen(spec)
        except ValueError as error:
            return str(error)
    if not 1 <= args.port_min <= args.port_max <= 65535:
        return f"bad port range {args.port_min}-{args.port_max}"
    if args.config_file not in (None, "none"):
        return "--config-file: rtpengine config files are not supported; give options instead"
    return None


def _detach() -> None:
    """Double fork into the background, as a daemon started without --foreground does."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def main(argv: list[str]) -> int:
    """Run the relay; returns the exit status (2 for bad options)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    problem = _check(args)
    if problem:
        print(f"opensips-py rtpengine: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=_LOG_LEVELS.get(max(0, min(7, args.log_level)), logging.INFO),
                        format="%(asctime)s %(levelname)s [rtpengine] %(message)s", stream=sys.stderr)
    from opensips_py.media.server import parse_listen, run

    listen = [parse_listen(spec) for spec in args.listen_ng]
    if not args.foreground:
        _detach()
    if args.pidfile:
        with open(args.pidfile, "w") as handle:
            handle.write(f"{os.getpid()}\n")
    try:
        run(config_from_args(args), listen)
    except OSError as error:
        logging.getLogger("opensips_py.media").error("cannot start: %s", error)
        return 1
    finally:
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0
