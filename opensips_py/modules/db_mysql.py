"""db_mysql: the MySQL/MariaDB driver behind `mysql://user:pass@host[:port]/db` database URLs."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="db_mysql",
    doc="SQL driver (no script functions): any module's db_url may be `mysql://user:pass@host[:port]/db`, "
        "with `?tls_domain=name` for TLS when use_tls is on.",
    params=(
        ModParam("timeout_interval", ParamType.INT, 2,
                 doc="Seconds for connect/read/write (the client library applies it up to 3 times)."),
        ModParam("exec_query_threshold", ParamType.INT, 0,
                 doc="Log queries slower than this many microseconds (0: off)."),
        ModParam("max_db_retries", ParamType.INT, 3, doc="Reconnect attempts after a lost connection."),
        ModParam("max_db_queries", ParamType.INT, 2, doc="Attempts of one query before giving up."),
        ModParam("ps_max_col_size", ParamType.INT, 1024,
                 doc="Buffer for one column of a prepared-statement result."),
        ModParam("use_tls", ParamType.INT, 0, doc="Allow `tls_domain=` in URLs (needs tls_mgm)."),
    ),
    deps=(
        Dependency(("tls_mgm",), when_param="use_tls", unless_values=(0,)),
    ),
)
