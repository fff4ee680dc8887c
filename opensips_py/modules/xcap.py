"""xcap: storage of XCAP documents (pres-rules, resource lists) in a database for the presence modules."""
from __future__ import annotations

from opensips_py.modules.exports import Dependency, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="xcap",
    doc="No script functions: an API over the `xcap` table used by presence_xml, rls and xcap_client.",
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("xcap_table", ParamType.STR, "xcap"),
        ModParam("integrated_xcap_server", ParamType.INT, 0,
                 doc="The documents are written by an XCAP server sharing the database."),
    ),
    deps=(
        Dependency(("db_*",), doc="Declared DEP_ABORT."),
    ),
)
