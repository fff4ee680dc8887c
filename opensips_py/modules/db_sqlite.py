"""db_sqlite: the SQLite driver behind `sqlite:///path/to.db` database URLs."""
from __future__ import annotations

from opensips_py.modules.exports import ModParam, ModuleExports, ParamType, VersionSpan

EXPORTS = ModuleExports(
    name="db_sqlite",
    doc="SQL driver (no script functions): any module's db_url may be `sqlite:///abs/path/db.sqlite`. "
        "Modules check their table versions in the `version` table at start-up.",
    params=(
        ModParam("alloc_limit", ParamType.INT, 10, doc="Rows allocated at once when fetching results."),
        ModParam("load_extension", ParamType.STR, repeatable=True,
                 doc='Load an SQLite extension per connection: "path.so[;entry_point]".'),
        ModParam("busy_timeout", ParamType.INT, 500, versions=VersionSpan(since="3.6"),
                 doc="Milliseconds to wait on a locked database."),
        ModParam("exec_pragma", ParamType.STR, versions=VersionSpan(since="3.6"), repeatable=True,
                 doc='Run "PRAGMA name=value" on every new connection ("journal_mode=wal").'),
    ),
)
