"""Log lines the way OpenSIPS writes them to stderr: `Mon DD HH:MM:SS [pid] LEVEL:module:message`.

Levels are OpenSIPS's numbers (-3 alert … 4 debug); a line is written when its level is at most `log_level`.
Script output (xlog, xdbg, log) carries no `LEVEL:module:` prefix, as OpenSIPS's LM_GEN1 prints it.

`RateLimit` keeps a flood of bad packets from becoming a flood of log lines: the first few per second are
written, the rest are counted and summed up in one line.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, TextIO

L_ALERT, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO, L_DBG = -3, -2, -1, 1, 2, 3, 4
LEVEL_NAMES = {L_ALERT: "ALERT", L_CRIT: "CRITICAL", L_ERR: "ERROR", L_WARN: "WARNING", L_NOTICE: "NOTICE",
               L_INFO: "INFO", L_DBG: "DBG"}


class Logger:
    """Writes formatted lines to a sink (stderr by default); tests pass a list's append."""

    def __init__(self, log_level: int = L_NOTICE, sink: Callable[[str], None] | None = None,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.log_level = log_level
        self.clock = clock
        self.pid = os.getpid()
        self._stream = stream
        self._sink = sink

    def _write(self, line: str) -> None:
        if self._sink is not None:
            self._sink(line)
            return
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    def _stamp(self) -> str:
        return time.strftime("%b %d %H:%M:%S", time.localtime(self.clock()))

    def log(self, level: int, text: str, module: str = "core") -> None:
        """A core or module line: `… [pid] LEVEL:module:text`."""
        if level > self.log_level:
            return
        self._write(f"{self._stamp()} [{self.pid}] {LEVEL_NAMES.get(level, 'DBG')}:{module}:{text}")

    def script(self, level: int, text: str) -> None:
        """A script line (xlog & co.): the text as the script built it, after the time and pid. The
        interpreter already compared its level with the process's `$log_level` (which the script may change),
        so it is not filtered again here."""
        self._write(f"{self._stamp()} [{self.pid}] {text.rstrip(chr(10))}")

    def error(self, text: str, module: str = "core") -> None:
        self.log(L_ERR, text, module)

    def warning(self, text: str, module: str = "core") -> None:
        self.log(L_WARN, text, module)

    def notice(self, text: str, module: str = "core") -> None:
        self.log(L_NOTICE, text, module)

    def info(self, text: str, module: str = "core") -> None:
        self.log(L_INFO, text, module)

    def debug(self, text: str, module: str = "core") -> None:
        self.log(L_DBG, text, module)


class RateLimit:
    """At most `per_second` lines per second for one kind of event; the rest are counted and reported."""

    def __init__(self, logger: Logger, per_second: int = 10) -> None:
        self.logger = logger
        self.per_second = per_second
        self._window = -1
        self._count = 0
        self._suppressed = 0

    def log(self, now: float, level: int, text: str, module: str = "core") -> None:
        window = int(now)
        if window != self._window:
            if self._suppressed:
                self.logger.log(level, f"{self._suppressed} more similar message(s) not logged", module)
            self._window, self._count, self._suppressed = window, 0, 0
        self._count += 1
        if self._count <= self.per_second:
            self.logger.log(level, text, module)
        else:
            self._suppressed += 1
