"""db_virtual: one `virtual://set` URL over several real databases (failover, round-robin, parallel)."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, MICommand, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="db_virtual",
    doc="SQL driver (no script functions): modules use db_url `virtual://<set>`; each set is declared with "
        'db_urls "define <set> FAILOVER|PARALLEL|ROUND" followed by its real URLs.',
    params=(
        ModParam("db_urls", ParamType.STR, repeatable=True,
                 doc='"define <set> <mode>" opens a set; each following setting adds a real URL to it.'),
        ModParam("db_probe_time", ParamType.INT, 10, doc="Seconds between reconnect probes of failed URLs."),
        ModParam("db_max_consec_retrys", ParamType.INT, 10, doc="Consecutive retries before giving up."),
    ),
    mi=(
        MICommand("db_get", (), alias_4_0="db_virtual:get", doc="Sets, their URLs and states."),
        MICommand("db_set", ("set_index", "db_url_index", "may_use_db_flag", "ingore_retries"),
                  alias_4_0="db_virtual:set",
                  doc="Change a URL's state (ingore_retries, spelled so in OpenSIPS, is optional)."),
    ),
    deps=(
        Dependency(("db_*",), doc="The real databases need their drivers (declared DEP_SILENT)."),
    ),
)
