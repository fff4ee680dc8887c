"""db_text: a plain-text file database (one file per table), for tests and small setups."""
from __future__ import annotations

from opensips_py.modules.exports import MICommand, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="db_text",
    doc="SQL driver (no script functions): db_url `text:///path/to/dir`, each table a file in that directory "
        "with a typed header line; tables are cached in memory.",
    params=(
        ModParam("db_mode", ParamType.INT, 0,
                 doc="0: keep changes in memory only (cache); 1: write every change back to the files."),
        ModParam("buffer_size", ParamType.INT, 4096, versions=VersionSpan(since="3.5"),
                 doc="Read buffer for table files."),
    ),
    mi=(
        MICommand("dbt_dump", (), alias_4_0="db_text:dump", doc="Dump the cached tables."),
        MICommand("dbt_reload", ("db_name", "table_name"), alias_4_0="db_text:reload",
                  doc="Reload from the files: all, one database, or one table (both params optional)."),
    ),
)
