"""mi_datagram: the management interface over UDP or a unix datagram socket."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="mi_datagram",
    doc='One JSON-RPC request per datagram on socket_name ("udp:IP:PORT" or a unix socket path); the reply '
        "goes back to the sender. No script functions.",
    params=(
        ModParam("socket_name", ParamType.STR, doc='"udp:127.0.0.1:8080" or a unix socket path; required.'),
        ModParam("children_count", ParamType.INT, 1, doc="Processes reading the socket."),
        ModParam("socket_timeout", ParamType.INT, 2000, doc="Milliseconds to wait when sending a reply."),
        ModParam("socket_buf_size", ParamType.INT, 65457, versions=VersionSpan(since="4.0"),
                 doc="Largest datagram read or written."),
        ModParam("unix_socket_mode", ParamType.INT, 0o660, doc="Permissions of a unix socket (octal 0660)."),
        ModParam("unix_socket_group", ParamType.STR_OR_INT, doc="Group owning a unix socket: name or gid."),
        ModParam("unix_socket_user", ParamType.STR_OR_INT, doc="User owning a unix socket: name or uid."),
        ModParam("pretty_printing", ParamType.INT, 0, doc="Indent the JSON replies."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace MI calls to."),
        ModParam("trace_bwlist", ParamType.STR,
                 doc='Which commands to trace: "w: cmd1, cmd2" (whitelist) or "b: …" (blacklist).'),
    ),
    deps=(
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)
