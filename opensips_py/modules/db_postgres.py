"""db_postgres: the PostgreSQL driver behind `postgres://user:pass@host[:port]/db` database URLs."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="db_postgres",
    doc="SQL driver (no script functions): any module's db_url may be `postgres://user:pass@host[:port]/db`.",
    params=(
        ModParam("exec_query_threshold", ParamType.INT, 0,
                 doc="Log queries slower than this many microseconds (0: off)."),
        ModParam("max_db_queries", ParamType.INT, 2, doc="Attempts of one query before giving up."),
        ModParam("timeout", ParamType.INT, 5,
                 doc="Seconds to connect and query; negative: block until the server answers."),
        ModParam("use_tls", ParamType.INT, 0, versions=VersionSpan(since="3.3"),
                 doc="Allow `tls_domain=` in URLs (needs tls_mgm)."),
    ),
    deps=(
        Dependency(("tls_mgm",), when_param="use_tls", unless_values=(0,)),
    ),
)
