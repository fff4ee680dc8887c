"""mi_fifo: the management interface over a named pipe (what opensips-cli uses by default)."""
from __future__ import annotations

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
