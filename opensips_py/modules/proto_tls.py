"""proto_tls: SIP over TLS (sips:, RFC 3261 §26.2); certificates come from tls_mgm."""
from __future__ import annotations

from opensips_py.modules.exports import (
    Dependency, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="proto_tls",
    doc="SIP over TLS. No script functions: listeners are declared in core (`socket=tls:IP:PORT`); which "
        "certificate a connection uses is chosen by tls_mgm's server/client domains.",
    params=(
        ModParam("tls_port", ParamType.INT, 5061, doc="Port of a TLS listener declared without one."),
        ModParam("tls_crlf_pingpong", ParamType.INT, 1, doc="Answer a CRLFCRLF keepalive with CRLF."),
        ModParam("tls_crlf_drop", ParamType.INT, 0, doc="Silently drop CRLF keepalives."),
        ModParam("tls_max_msg_chunks", ParamType.INT, 4,
                 doc="Reads allowed to assemble one message before the connection is dropped."),
        ModParam("tls_send_timeout", ParamType.INT, 100, doc="Milliseconds a blocking send may take."),
        ModParam("tls_handshake_timeout", ParamType.INT, 100, doc="Milliseconds a TLS handshake may take."),
        ModParam("tls_async", ParamType.INT, 0, versions=VersionSpan(until="3.3"),
                 doc="Non-blocking connects and writes (off by default up to 3.2)."),
        ModParam("tls_async", ParamType.INT, 1, versions=VersionSpan(since="3.3"),
                 doc="Non-blocking connects and writes (on by default since 3.3)."),
        ModParam("tls_async_max_postponed_chunks", ParamType.INT, 32,
                 doc="Writes queued on a connection before it is closed."),
        ModParam("tls_async_local_connect_timeout", ParamType.INT, 100, versions=VersionSpan(until="4.0"),
                 doc="Milliseconds a worker waits for a connect before handing it over (dropped in 4.0)."),
        ModParam("tls_async_handshake_timeout", ParamType.INT, 10, versions=VersionSpan(until="4.0"),
                 doc="Milliseconds a worker tries a handshake before handing it over (dropped in 4.0)."),
        ModParam("cert_check_on_conn_reusage", ParamType.INT, 0,
                 doc="Reuse a connection only if its TLS domain matches too, not just IP and port."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace to."),
        ModParam("trace_on", ParamType.INT, 0, doc="Start with tracing on (also switched by MI `trace`)."),
        ModParam("trace_filter_route", ParamType.STR,
                 doc="Route run per new connection; `drop` there skips tracing it."),
    ),
    mi=(
        MICommand("tls_trace", ("trace_mode",), alias_4_0="tls:trace",
                  doc="Without trace_mode: show the state; trace_mode on/off switches it."),
    ),
    deps=(
        Dependency(("tls_mgm",), doc="Declared DEP_ABORT: TLS domains and the TLS library binding."),
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)


from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402


class Module(ModuleBase):
    """SIP over TLS is served by the live host (opensips_py/transport/); this checks the parameters it reads.

    Honoured: tls_port (a `tls:` socket without a port), tls_crlf_pingpong, tls_handshake_timeout (the whole
    handshake, at least 5 s: see docs/runtime.md). The others are accepted without effect."""

    exports = EXPORTS

    def init(self) -> None:
        for name in ("tls_port", "tls_handshake_timeout"):
            if self.int_param(name) <= 0:
                raise ModuleInitError(f"proto_tls: {name} must be positive, not {self.param(name)}")
