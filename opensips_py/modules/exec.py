"""exec: run external commands from the script (blocking only when their output is wanted)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    F, L, O, R, S, T, V, Arg, ArgKind, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="exec",
    doc="exec() starts /bin/sh -c command. Without stdout/stderr variables it does not wait; inside "
        "async() it suspends the message instead of blocking the process.",
    functions=(
        Function(
            "exec",
            (Arg("command"), Arg("stdin", optional=True), Arg("stdout", ArgKind.VAR, optional=True),
             Arg("stderr", ArgKind.VAR, optional=True), Arg("envavp", ArgKind.VAR, optional=True)),
            routes=R | F | O | L | S | T | V, is_async=True,
            doc="envavp values become OSIPS_EXEC_0, OSIPS_EXEC_1, … in the command's environment.",
        ),
    ),
    params=(
        ModParam("time_to_kill", ParamType.INT, 0, doc="Seconds before a running command is killed (0: never)."),
        ModParam("setvars", ParamType.INT, 0, doc="Export SIP message fields as environment variables."),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/exec/{exec_mod,exec}.c of OpenSIPS 3.4–4.0. The command runs as /bin/sh -c; the
# return code is 1 once it was started (its exit status is not looked at). Without stdout/stderr variables
# exec() does not wait for it; with them it reads the streams to their end (at most 32 KB each), which
# blocks: in OpenSIPS one worker of many, here the whole proxy — keep such commands short. time_to_kill
# kills a command still running after that many seconds. envavp's values (newest first) become
# OSIPS_EXEC_0, OSIPS_EXEC_1, … Not here: setvars (refused at start-up).

import os as _os  # noqa: E402
import signal as _signal  # noqa: E402
import subprocess as _subprocess  # noqa: E402

from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.script.async_engine import Pending  # noqa: E402
from opensips_py.script.pvars import ALL  # noqa: E402

MAX_OUTPUT = 32 * 1024
POLL_INTERVAL = 0.02  # seconds between two looks at an async command's output


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        if self.int_param("setvars"):
            raise ModuleInitError("exec: setvars is not supported by opensips-py yet")
        self.time_to_kill = self.int_param("time_to_kill")
        self.running: list[_subprocess.Popen] = []

    def destroy(self) -> None:
        for process in self.running:
            if process.poll() is None and self.time_to_kill:
                _kill(process)

    def _reap(self) -> None:
        self.running = [p for p in self.running if p.poll() is None]

    def _environment(self, ctx, envavp) -> dict[str, str] | None:
        if envavp is None:
            return None
        values = envavp.handler.get(ctx, envavp._arg(ctx), ALL) or []
        values = values if isinstance(values, list) else [values]
        env = dict(_os.environ)
        env.update({f"OSIPS_EXEC_{i}": "" if v is None else str(v) for i, v in enumerate(values)})
        return env

    def _kill_later(self, process: _subprocess.Popen) -> None:
        if self.time_to_kill > 0 and hasattr(self.core, "add_timer"):
            def kill(now: float) -> None:
                if process.poll() is None:
                    _kill(process)
            self.core.add_timer(float(getattr(self.core, "now", 0.0)) + self.time_to_kill, kill)

    def exec(self, ctx, command: str, stdin: str | None = None, stdout=None, stderr=None, envavp=None) -> int:
        self._reap()
        env = self._environment(ctx, envavp)
        wait = stdout is not None or stderr is not None
        try:
            process = _subprocess.Popen(
                ["/bin/sh", "-c", command], env=env, close_fds=True, start_new_session=True,
                stdin=_subprocess.PIPE if stdin else _subprocess.DEVNULL,
                stdout=_subprocess.PIPE if stdout is not None else _subprocess.DEVNULL,
                stderr=_subprocess.PIPE if stderr is not None else _subprocess.DEVNULL)
        except OSError as exc:
            self.core.logger.log(-1, f"fork failed: {exc}", module="exec")
            return -1
        self._kill_later(process)
        if not wait:
            if stdin:
                try:
                    process.stdin.write(stdin.encode())
                    process.stdin.close()
                except OSError as exc:
                    self.core.logger.log(-1, f"failed to write to pipe: {exc}", module="exec")
                    return -1
            self.running.append(process)
            return 1
        try:
            out, err = process.communicate(stdin.encode() if stdin else None,
                                           timeout=self.time_to_kill if self.time_to_kill > 0 else None)
        except _subprocess.TimeoutExpired:
            _kill(process)
            out, err = process.communicate()
        self._store(ctx, stdout, out, stderr, err)
        return 1

    def _store(self, ctx, stdout, out: bytes, stderr, err: bytes) -> None:
        for ref, data in ((stdout, out), (stderr, err)):
            if ref is not None and data:
                if len(data) >= MAX_OUTPUT:
                    self.core.logger.log(1, "no more space in output buffer", module="exec")
                    data = data[:MAX_OUTPUT - 1]
                ref.set(ctx, data.decode(errors="replace"))

    def async_exec(self, ctx, command: str, stdin: str | None = None, stdout=None, stderr=None, envavp=None):
        """The async form: the command's output is read while the proxy goes on (a poll on the runtime's
        timers every POLL_INTERVAL), and the script resumes when the command has ended and closed its output.
        Without output variables nothing is waited for, as in the plain form."""
        if stdout is None and stderr is None:
            return self.exec(ctx, command, stdin, stdout, stderr, envavp)
        self._reap()
        try:
            process = _subprocess.Popen(
                ["/bin/sh", "-c", command], env=self._environment(ctx, envavp), close_fds=True,
                start_new_session=True, stdin=_subprocess.PIPE if stdin else _subprocess.DEVNULL,
                stdout=_subprocess.PIPE if stdout is not None else _subprocess.DEVNULL,
                stderr=_subprocess.PIPE if stderr is not None else _subprocess.DEVNULL)
        except OSError as exc:
            self.core.logger.log(-1, f"fork failed: {exc}", module="exec")
            return -1
        if stdin:
            try:
                process.stdin.write(stdin.encode())
                process.stdin.close()
            except OSError:
                pass
        streams = {name: pipe for name, pipe in (("out", process.stdout), ("err", process.stderr)) if pipe}
        for pipe in streams.values():
            _os.set_blocking(pipe.fileno(), False)
        output = {"out": bytearray(), "err": bytearray()}
        pending = Pending(self.core)
        start = float(getattr(self.core, "now", 0.0))

        def poll(now: float) -> None:
            for name, pipe in list(streams.items()):
                try:
                    chunk = _os.read(pipe.fileno(), 65536)
                except BlockingIOError:
                    continue
                if chunk and len(output[name]) < MAX_OUTPUT:
                    output[name] += chunk
                if not chunk:
                    pipe.close()
                    del streams[name]
            if self.time_to_kill > 0 and now - start >= self.time_to_kill and process.poll() is None:
                _kill(process)
            if not streams and process.poll() is not None:
                self._store(ctx, stdout, bytes(output["out"]), stderr, bytes(output["err"]))
                pending.resume(1)
                return
            self.core.add_timer(now + POLL_INTERVAL, poll)

        self.core.add_timer(start + POLL_INTERVAL, poll)
        return pending


def _kill(process: _subprocess.Popen) -> None:
    """The command and what its shell started (its own session: one process group)."""
    try:
        _os.killpg(process.pid, _signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
