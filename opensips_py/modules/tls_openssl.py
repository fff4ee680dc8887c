"""tls_openssl: the OpenSSL binding tls_mgm uses for TLS connections."""
from __future__ import annotations

from opensips_py.modules.exports import ModuleExports

EXPORTS = ModuleExports(
    name="tls_openssl",
    doc="No script functions or parameters; it gives tls_mgm (and so proto_tls, proto_wss, db_mysql with "
        "use_tls…) an OpenSSL implementation. Load exactly one of tls_openssl and tls_wolfssl.",
)


from opensips_py.modules.base import ModuleBase  # noqa: E402


class Module(ModuleBase):
    """Nothing to do: opensips-py's TLS is Python's ssl module, itself built on OpenSSL. Loading tls_openssl
    is what tls_mgm (tls_library "auto") looks for, as in OpenSIPS."""

    exports = EXPORTS
