"""tls_wolfssl: the wolfSSL binding tls_mgm uses for TLS connections (statically linked wolfSSL)."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="tls_wolfssl",
    doc="No script functions; it gives tls_mgm a wolfSSL implementation. Load exactly one of tls_openssl and "
        "tls_wolfssl.",
    params=(
        ModParam("try_use_ktls", ParamType.INT, 0, versions=VersionSpan(since="4.0"),
                 doc="Hand AES-GCM record encryption to the kernel (kTLS) when it supports it."),
    ),
)
