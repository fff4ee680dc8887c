"""proto_ws: SIP over WebSocket (RFC 7118), the transport browsers use, without TLS."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, MICommand, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="proto_ws",
    doc="SIP over plain WebSocket. No script functions: listeners are declared in core (`socket=ws:IP:PORT`). "
        "The HTTP upgrade must offer the `sip` subprotocol; one SIP message per WebSocket text/binary message.",
    params=(
        ModParam("ws_port", ParamType.INT, 80, doc="Port of a WS listener declared without one."),
        ModParam("ws_max_msg_chunks", ParamType.INT, 4,
                 doc="Reads allowed to assemble one message before the connection is dropped."),
        ModParam("ws_send_timeout", ParamType.INT, 100, doc="Milliseconds a blocking send may take."),
        ModParam("ws_resource", ParamType.STR, "/",
                 doc="Path our upgrade request asks for on connections we open (accepted connections "
                     "may ask for any path)."),
        ModParam("require_origin", ParamType.INT, 1,
                 doc="Reject an upgrade request without an Origin header (browsers always send one)."),
        ModParam("ws_handshake_timeout", ParamType.INT, 100,
                 doc="Milliseconds the WebSocket handshake may take."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace to."),
        ModParam("trace_on", ParamType.INT, 0, doc="Start with tracing on (also switched by MI `trace`)."),
        ModParam("trace_filter_route", ParamType.STR,
                 doc="Route run per new connection; `drop` there skips tracing it."),
    ),
    mi=(
        MICommand("ws_trace", ("trace_mode",), alias_4_0="ws:trace",
                  doc="Without trace_mode: show the state; trace_mode on/off switches it."),
    ),
    deps=(
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)


from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402


class Module(ModuleBase):
    """SIP over WebSocket is served by the live host (opensips_py/transport/ws.py); this checks the parameters
    it reads: ws_port, ws_resource (the path of the connections we open), require_origin,
    ws_handshake_timeout. The others are accepted without effect."""

    exports = EXPORTS

    def init(self) -> None:
        for name in ("ws_port", "ws_handshake_timeout"):
            if self.int_param(name) <= 0:
                raise ModuleInitError(f"proto_ws: {name} must be positive, not {self.param(name)}")
        if not str(self.param("ws_resource")).startswith("/"):
            raise ModuleInitError(f'proto_ws: ws_resource must be a path starting with "/", not '
                                  f'{self.param("ws_resource")!r}')
