"""proto_wss: SIP over secure WebSocket (RFC 7118 over TLS), what a browser on https:// must use."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, MICommand, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="proto_wss",
    doc="SIP over WebSocket over TLS. No script functions: listeners are declared in core "
        "(`socket=wss:IP:PORT`); certificates come from tls_mgm. There is no keepalive parameter "
        "(no `wss_keepalive`).",
    params=(
        ModParam("wss_port", ParamType.INT, 443, doc="Port of a WSS listener declared without one."),
        ModParam("wss_max_msg_chunks", ParamType.INT, 4,
                 doc="Reads allowed to assemble one message before the connection is dropped."),
        ModParam("wss_resource", ParamType.STR, "/",
                 doc="Path our upgrade request asks for on connections we open (accepted connections "
                     "may ask for any path)."),
        ModParam("wss_send_timeout", ParamType.INT, 100, doc="Milliseconds a blocking send may take."),
        ModParam("require_origin", ParamType.INT, 1,
                 doc="Reject an upgrade request without an Origin header."),
        ModParam("wss_handshake_timeout", ParamType.INT, 100,
                 doc="Milliseconds the WebSocket handshake may take."),
        ModParam("wss_tls_handshake_timeout", ParamType.INT, 100,
                 doc="Milliseconds the TLS handshake may take."),
        ModParam("cert_check_on_conn_reusage", ParamType.INT, 0,
                 doc="Reuse a connection only if its TLS domain matches too, not just IP and port."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace to."),
        ModParam("trace_on", ParamType.INT, 0, doc="Start with tracing on (also switched by MI `trace`)."),
        ModParam("trace_filter_route", ParamType.STR,
                 doc="Route run per new connection; `drop` there skips tracing it."),
    ),
    mi=(
        MICommand("wss_trace", ("trace_mode",), alias_4_0="wss:trace",
                  doc="Without trace_mode: show the state; trace_mode on/off switches it."),
    ),
    deps=(
        Dependency(("tls_mgm",), doc="Not declared in its dep_export_t, but mod_init fails without the "
                                     "tls_mgm API."),
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)


from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402


class Module(ModuleBase):
    """SIP over secure WebSocket is served by the live host (opensips_py/transport/ws.py) with tls_mgm's
    domains; this checks the parameters it reads: wss_port, wss_resource, require_origin,
    wss_handshake_timeout, wss_tls_handshake_timeout. The others are accepted without effect."""

    exports = EXPORTS

    def init(self) -> None:
        for name in ("wss_port", "wss_handshake_timeout", "wss_tls_handshake_timeout"):
            if self.int_param(name) <= 0:
                raise ModuleInitError(f"proto_wss: {name} must be positive, not {self.param(name)}")
        if not str(self.param("wss_resource")).startswith("/"):
            raise ModuleInitError(f'proto_wss: wss_resource must be a path starting with "/", not '
                                  f'{self.param("wss_resource")!r}')
