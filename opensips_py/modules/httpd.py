"""httpd: the embedded HTTP server (libmicrohttpd) that mi_http, mi_html and prometheus hang their pages on."""
from __future__ import annotations

from typing import Callable

import trio

from opensips_py.mi.host import host_of, registry_of
from opensips_py.mi.httpd import HTTPServer, RootHandler
from opensips_py.mi.params import recipes
from opensips_py.modules.base import ModuleBase
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


class Module(ModuleBase):
    """The HTTP server (opensips_py.mi.httpd) that mi_http (and later prometheus) register roots on.

    `ip` unset listens on 127.0.0.1 (4.0's default; 3.x listened everywhere), "*" on every interface.
    A request body over `receive_buf_size` bytes (64 KiB when the config leaves it unset) is refused with
    413. serve() runs the listener in the live host's nursery.
    """

    exports = EXPORTS

    def __init__(self, core, params):
        super().__init__(core, params)
        ip = self.param("ip") or "127.0.0.1"
        body_limit = self.int_param("receive_buf_size") if self.params.get("receive_buf_size") else 64 * 1024
        self.server = HTTPServer(str(ip), self.int_param("port"), max_body=body_limit,
                                 conn_timeout=float(self.int_param("conn_timeout") or 30))

    def register_root(self, root: str, handler: RootHandler) -> None:
        """Serve `handler` under http://ip:port/<root> (httpd's register_httpdcb)."""
        self.server.add_root(root, handler)

    def mi_commands(self) -> dict[str, Callable]:
        @recipes(())
        def httpd_list_root_path(_: dict) -> list:
            return [{"http_root": root, "module": owner} for root, owner in self._owners().items()]
        return {"httpd_list_root_path": httpd_list_root_path}

    def _owners(self) -> dict[str, str]:
        return {root: getattr(handler, "module_name", "") for root, handler in self.server.roots.items()}

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        entry = host_of(registry_of(self.core)).add_process(f"HTTPD {self.server.ip}:{self.server.port}")
        try:
            await self.server.serve(task_status=task_status)
        finally:
            host_of(registry_of(self.core)).remove_process(entry)
