"""httpd: the embedded HTTP server (libmicrohttpd) that mi_http, mi_html and prometheus hang their pages on."""
from __future__ import annotations

from opensips_py.modules.exports import MICommand, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="httpd",
    doc="One HTTP server process; other modules register a root path on it (mi_http `/mi`, prometheus "
        "`/metrics`, mi_html, pi_http). No script functions.",
    params=(
        ModParam("ip", ParamType.STR, versions=VersionSpan(until="4.0"),
                 doc='Address to listen on; unset: every interface ("*" also means every interface '
                     "since 3.3)."),
        ModParam("ip", ParamType.STR, "127.0.0.1", versions=VersionSpan(since="4.0"),
                 doc='Address to listen on; "*" for every interface. 4.0 listens on loopback by default.'),
        ModParam("port", ParamType.INT, 8888, doc="TCP port to listen on."),
        ModParam("buf_size", ParamType.INT, 0, doc="Reply buffer size in bytes; 0: a quarter of pkg memory."),
        ModParam("post_buf_size", ParamType.INT, 1024, doc="Buffer for POST data (at least 256)."),
        ModParam("receive_buf_size", ParamType.INT, 1024, versions=VersionSpan(since="3.6"),
                 doc="Buffer for a request body read in chunks."),
        ModParam("conn_timeout", ParamType.INT, 30, versions=VersionSpan(since="3.5"),
                 doc="Seconds an idle HTTP connection is kept."),
        ModParam("tls_cert_file", ParamType.STR, doc="Serve HTTPS with this certificate (with tls_key_file)."),
        ModParam("tls_key_file", ParamType.STR, doc="Private key for HTTPS."),
        ModParam("tls_ciphers", ParamType.STR, "SECURE256:+SECURE192:-VERS-ALL:+VERS-TLS1.2",
                 doc="GnuTLS priority string for HTTPS."),
        ModParam("auth_realm", ParamType.STR, "OpenSIPS MI", versions=VersionSpan(since="4.0"),
                 doc="Realm of HTTP basic authentication."),
        ModParam("auth_username", ParamType.STR, versions=VersionSpan(since="4.0"),
                 doc="With auth_password: require HTTP basic authentication."),
        ModParam("auth_password", ParamType.STR, versions=VersionSpan(since="4.0"),
                 doc="With auth_username: require HTTP basic authentication."),
    ),
    mi=(
        MICommand("httpd_list_root_path", (), alias_4_0="httpd:list_root_path",
                  doc="The root paths registered by other modules."),
    ),
)
