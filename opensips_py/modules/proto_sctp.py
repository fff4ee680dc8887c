"""proto_sctp: SIP over SCTP (RFC 4168)."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="proto_sctp",
    doc="SIP over SCTP; needs SCTP support in the kernel. No script functions: listeners are declared in "
        "core (`socket=sctp:IP:PORT`).",
    params=(
        ModParam("sctp_port", ParamType.INT, 5060, doc="Port of an SCTP listener declared without one."),
    ),
)
