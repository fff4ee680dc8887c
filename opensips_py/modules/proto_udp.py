"""proto_udp: the UDP transport; loading it is what makes `socket=udp:…` listeners work."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="proto_udp",
    doc="SIP over UDP. Lives in net/proto_udp in the sources but is loaded as `proto_udp.so`. No script "
        "functions: listeners are declared in core (`socket=udp:IP:PORT`; `listen=` before 3.x).",
    params=(
        ModParam("udp_port", ParamType.INT, 5060, doc="Port of a UDP listener declared without one."),
    ),
)
