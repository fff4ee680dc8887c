"""mi_html: a browser page (HTML forms) for running MI commands, served by httpd."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="mi_html",
    doc="Lists the MI commands by module at http://<httpd ip>:<httpd port>/<root> and runs them from a form. "
        "No script functions.",
    params=(
        ModParam("root", ParamType.STR, "mi", doc="Path under httpd's server (clashes with mi_http's default)."),
        ModParam("http_method", ParamType.INT, 0, doc="0: forms use GET; 1: POST."),
        ModParam("trace_destination", ParamType.STR, doc="A proto_hep `hep_id` name to trace MI calls to."),
        ModParam("trace_bwlist", ParamType.STR,
                 doc='Which commands to trace: "w: cmd1, cmd2" (whitelist) or "b: …" (blacklist).'),
    ),
    deps=(
        Dependency(("httpd",), doc="Declared DEP_ABORT: the HTTP server itself."),
        Dependency(("proto_hep",), when_param="trace_destination", doc="Tracing goes through proto_hep."),
    ),
)
