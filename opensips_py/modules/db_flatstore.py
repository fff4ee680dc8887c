"""db_flatstore: an insert-only driver appending rows to flat files (fast accounting logs)."""
from __future__ import annotations

from opensips_py.modules.exports import MICommand, ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="db_flatstore",
    doc="SQL driver that only supports INSERT (no script functions): db_url `flatstore:/path/to/dir`; every "
        "insert becomes a delimited line in <dir>/<prefix><table>_<process><suffix>. Rotate with MI.",
    params=(
        ModParam("flush", ParamType.INT, 1, doc="Flush the file after every line."),
        ModParam("delimiter", ParamType.STR, "|", doc="Column separator (one character)."),
        ModParam("suffix", ParamType.STR, ".log", doc="File name suffix (may hold pseudo-variables)."),
        ModParam("prefix", ParamType.STR, doc="File name prefix (may hold pseudo-variables)."),
        ModParam("single_file", ParamType.INT, 0, doc="One file per table for all processes."),
    ),
    mi=(
        MICommand("flat_rotate", (), versions=VersionSpan(until="4.0"),
                  doc="Reopen the files (after logrotate). 4.0 has db_flatstore:rotate and no alias."),
        MICommand("rotate", (), versions=VersionSpan(since="4.0"), alias_4_0="db_flatstore:rotate",
                  doc="Reopen the files."),
    ),
)
