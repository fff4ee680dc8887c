"""prometheus: OpenSIPS statistics as a Prometheus text exposition at /metrics (served by httpd)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="prometheus",
    doc="GET http://<httpd ip>:<httpd port>/<root> returns the selected statistics, each as `# TYPE <prefix>"
        "<delimiter><name> counter|gauge` plus its value (gauge for non-resetting or computed statistics).",
    functions=(
        Function(
            "prometheus_declare_stat",
            (Arg("name"), Arg("type", optional=True, choices=("counter", "gauge")), Arg("help", optional=True)),
            routes=R, versions=VersionSpan(since="3.6"),
            doc="Only inside the script_route: declare a custom metric (gauge unless type says counter).",
        ),
        Function(
            "prometheus_push_stat",
            (Arg("value", ArgKind.INT), Arg("label_name", optional=True), Arg("label_value", optional=True)),
            routes=R, versions=VersionSpan(since="3.6"),
            doc="Only inside the script_route: a value for the last declared metric, with optional labels.",
        ),
    ),
    params=(
        ModParam("root", ParamType.STR, "metrics", doc="Path under httpd's server."),
        ModParam("prefix", ParamType.STR, "opensips", doc="Prefix of every metric name."),
        ModParam("delimiter", ParamType.STR, "_", doc="Between prefix, group and statistic name."),
        ModParam("group_prefix", ParamType.STR, "", doc="Prefix of the group part when group_mode is 1."),
        ModParam("group_label", ParamType.STR, "group", doc="Label name holding the group when group_mode is 2."),
        ModParam("group_mode", ParamType.INT, 0, doc="0: no group; 1: group in the name; 2: group as a label."),
        ModParam("statistics", ParamType.STR, repeatable=True,
                 doc='Space-separated statistics to export; "group:" for a whole group; "all" for all. '
                     "Default: none."),
        ModParam("labels", ParamType.STR, versions=VersionSpan(since="3.3"), repeatable=True,
                 doc='"group: /regex/subst/flags" turning a statistic name into "name:label=value,…".'),
        ModParam("script_route", ParamType.STR, versions=VersionSpan(since="3.5"),
                 doc="Route run on every scrape to add custom metrics."),
        ModParam("script_route_avp_result", ParamType.STR, versions=VersionSpan(since="3.5", until="3.6"),
                 doc="3.5 only: AVP from which the script_route's custom metrics were read."),
    ),
    deps=(
        Dependency(("httpd",), doc="Declared DEP_ABORT: the HTTP server itself."),
    ),
)
