"""mi_http: the management interface as JSON-RPC 2.0 over HTTP POST (what people mean by "MI REST")."""
from __future__ import annotations

from opensips_py.mi.host import find_module, registry_of
from opensips_py.mi.mi_http import mi_http_handler
from opensips_py.modules.base import ModuleBase, ModuleInitError
from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="mi_http",
    doc="POST a JSON-RPC 2.0 request to http://<httpd ip>:<httpd port>/<root> (default /mi) with "
        "Content-Type: application/json; the reply is a JSON-RPC result or error. No script functions.",
    params=(
        ModParam("root", ParamType.STR, "mi", doc="Path under httpd's server where MI is served."),
        ModParam("pretty_printing", ParamType.INT, 0, doc="Indent the JSON replies."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace MI calls to."),
        ModParam("trace_bwlist", ParamType.STR,
                 doc='Which commands to trace: "w: cmd1, cmd2" (whitelist) or "b: …" (blacklist).'),
    ),
    deps=(
        Dependency(("httpd",), doc="Declared DEP_ABORT: the HTTP server itself."),
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)


class Module(ModuleBase):
    """Hangs the JSON-RPC endpoint on httpd's server under `root` (default "mi"); serving is httpd's."""

    exports = EXPORTS

    def init(self) -> None:
        httpd = find_module(self.core, "httpd")
        if httpd is None or not hasattr(httpd, "register_root"):
            raise ModuleInitError("mi_http needs the httpd module loaded")
        handler = mi_http_handler(lambda: registry_of(self.core), bool(self.int_param("pretty_printing")))
        handler.module_name = "mi_http"
        httpd.register_root(str(self.param("root") or "mi"), handler)
