"""proto_tcp: the TCP transport (connection-oriented SIP, RFC 3261 §18.3 framing by Content-Length)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Dependency, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="proto_tcp",
    doc="SIP over TCP. Lives in net/proto_tcp in the sources but is loaded as `proto_tcp.so`. No script "
        "functions: listeners are declared in core (`socket=tcp:IP:PORT`). The trace_* params send the "
        "traffic to a proto_hep destination.",
    params=(
        ModParam("tcp_port", ParamType.INT, 5060, doc="Port of a TCP listener declared without one."),
        ModParam("tcp_send_timeout", ParamType.INT, 100, doc="Milliseconds a blocking send may take."),
        ModParam("tcp_max_msg_chunks", ParamType.INT, 4,
                 doc="Reads allowed to assemble one message before the connection is dropped (0: no limit)."),
        ModParam("tcp_crlf_pingpong", ParamType.INT, 1,
                 doc="Answer a CRLFCRLF keepalive with CRLF (RFC 5626 §4.4.1)."),
        ModParam("tcp_crlf_drop", ParamType.INT, 0, doc="Silently drop CRLF keepalives."),
        ModParam("tcp_async", ParamType.INT, 1,
                 doc="Non-blocking connects and writes (queued by the TCP main process)."),
        ModParam("tcp_async_max_postponed_chunks", ParamType.INT, 32,
                 doc="Writes queued on a connection before it is closed."),
        ModParam("tcp_async_local_connect_timeout", ParamType.INT, 100, versions=VersionSpan(until="4.0"),
                 doc="Milliseconds a worker waits for a connect before handing it over (dropped in 4.0)."),
        ModParam("tcp_async_local_write_timeout", ParamType.INT, 10,
                 doc="Milliseconds a worker tries a write before queueing it."),
        ModParam("tcp_parallel_handling", ParamType.INT, 0, versions=VersionSpan(since="3.3", until="4.0"),
                 doc="Process messages of one connection in parallel (dropped in 4.0)."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace to."),
        ModParam("trace_on", ParamType.INT, 0, doc="Start with tracing on (also switched by MI `trace`)."),
        ModParam("trace_filter_route", ParamType.STR,
                 doc="Route run per new connection; `drop` there skips tracing it."),
    ),
    mi=(
        MICommand("tcp_trace", ("trace_mode",), alias_4_0="tcp:trace",
                  doc="Without trace_mode: show the state; trace_mode on/off switches it."),
    ),
    deps=(
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)
