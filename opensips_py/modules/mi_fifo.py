"""mi_fifo: the management interface over a named pipe (what opensips-cli uses by default)."""
from __future__ import annotations

import trio

from opensips_py.mi.fifo import FifoServer
from opensips_py.mi.host import host_of, registry_of
from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="mi_fifo",
    doc='A request is one line, ":<reply fifo name>:<JSON-RPC request>", written to fifo_name; the reply '
        "goes to reply_dir/<reply fifo name> (none without a reply fifo or a request id). The FIFO is "
        "re-created if it is deleted. No script functions.",
    params=(
        ModParam("fifo_name", ParamType.STR, "/tmp/opensips_fifo", doc="Path of the request FIFO."),
        ModParam("fifo_mode", ParamType.INT, 0o660, doc="Permissions of the FIFO (octal 0660)."),
        ModParam("fifo_group", ParamType.STR_OR_INT, doc="Group owning the FIFO: a name or a gid."),
        ModParam("fifo_user", ParamType.STR_OR_INT, doc="User owning the FIFO: a name or a uid."),
        ModParam("reply_dir", ParamType.STR, "/tmp/", doc="Directory where reply FIFOs are created."),
        ModParam("pretty_printing", ParamType.INT, 0, doc="Indent the JSON replies."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace MI calls to."),
        ModParam("trace_bwlist", ParamType.STR,
                 doc='Which commands to trace: "w: cmd1, cmd2" (whitelist) or "b: …" (blacklist).'),
    ),
    deps=(
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)


class Module(ModuleBase):
    """The FIFO listener (opensips_py.mi.fifo); serve() runs it in the live host's nursery."""

    exports = EXPORTS

    def init(self) -> None:
        uid, gid = _owner(self.param("fifo_user"), self.param("fifo_group"))
        self.server = FifoServer(lambda: registry_of(self.core), str(self.param("fifo_name")),
                                 fifo_mode=self.int_param("fifo_mode"), reply_dir=str(self.param("reply_dir")),
                                 uid=uid, gid=gid, pretty=bool(self.int_param("pretty_printing")))
        try:
            self.server.prepare()
        except (OSError, ValueError) as exc:
            raise ModuleInitError(str(exc)) from exc

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        entry = host_of(registry_of(self.core)).add_process("MI FIFO")
        try:
            await self.server.serve(task_status=task_status)
        finally:
            host_of(registry_of(self.core)).remove_process(entry)


def _owner(user, group) -> tuple[int, int]:
    """fifo_user / fifo_group: a name or a number, -1 when unset (the user's group when only the user)."""
    import grp
    import pwd

    uid = gid = -1
    try:
        if user is not None:
            if isinstance(user, int) or str(user).isdigit():
                uid = int(user)
            else:
                entry = pwd.getpwnam(str(user))
                uid, gid = entry.pw_uid, entry.pw_gid
        if group is not None:
            gid = int(group) if isinstance(group, int) or str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
    except KeyError as exc:
        raise ModuleInitError(f"mi_fifo: unknown user or group {exc}") from None
    return uid, gid
