"""tls_openssl: the OpenSSL binding tls_mgm uses for TLS connections."""
from __future__ import annotations

from opensips_py.modules.exports import ModuleExports

EXPORTS = ModuleExports(
    name="tls_openssl",
    doc="No script functions or parameters; it gives tls_mgm (and so proto_tls, proto_wss, db_mysql with "
        "use_tls…) an OpenSSL implementation. Load exactly one of tls_openssl and tls_wolfssl.",
)
