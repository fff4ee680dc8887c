"""alias_db: rewrite the R-URI from an alias table (dbaliases) looked up in the database on every call."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType,
)

EXPORTS = ModuleExports(
    name="alias_db",
    doc="Like usrloc aliases but straight from a table, no caching. Flags: d ignore the domain, r reverse "
        "lookup (from canonical to alias).",
    functions=(
        Function("alias_db_lookup", (Arg("table_name"), Arg("flags", optional=True)), routes=R | F,
                 doc="Replace the R-URI with the canonical URI of its alias; 1 found, -1 not."),
        Function(
            "alias_db_find",
            (Arg("table_name"), Arg("input_uri"), Arg("output_var", ArgKind.VAR), Arg("flags", optional=True)),
            routes=R | F | O | B | L | S, doc="Look up input_uri and write the result into output_var.",
        ),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("user_column", ParamType.STR, "username"),
        ModParam("domain_column", ParamType.STR, "domain"),
        ModParam("alias_user_column", ParamType.STR, "alias_username"),
        ModParam("alias_domain_column", ParamType.STR, "alias_domain"),
        ModParam("domain_prefix", ParamType.STR, doc='Strip this prefix from the domain ("sip.") first.'),
        ModParam("append_branches", ParamType.INT, 0, doc="Add every match as a branch, not just the first."),
    ),
    deps=(
        Dependency(("db_*",), doc="Declared DEP_ABORT."),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/alias_db/{alias_db,alookup}.c of OpenSIPS 3.4–3.6: the table given to the function
# is queried on every call (alias_username[, alias_domain] -> username, domain; with "r" the other way round;
# "d" leaves the domain out; domain_prefix is cut from the host first). A hit builds "sip:user@domain": the
# first row replaces the R-URI (alias_db_lookup) or the output variable (alias_db_find, with :=); with
# append_branches every further row becomes a branch (q=0) or is pushed onto the variable too.

from opensips_py.db import DatabaseError, open_database  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.script.context import Branch  # noqa: E402
from opensips_py.sip import SIPParseError, URI  # noqa: E402

ALIAS_FLAGS = {"r": "revert", "d": "no_domain"}


def alias_flags(text: str | None) -> set[str]:
    """alias_flags_fixup(): r/R reverse lookup, d/D no domain. Raises ValueError on any other letter."""
    flags: set[str] = set()
    for c in text or "":
        if c.lower() not in ALIAS_FLAGS:
            raise ValueError(f"unsupported flag '{c}'")
        flags.add(ALIAS_FLAGS[c.lower()])
    return flags


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        url = self.db_url()
        if not url:
            raise ModuleInitError("alias_db: no db_url")
        try:
            self.db = open_database(self.core, str(url), "alias_db")
        except DatabaseError as exc:
            raise ModuleInitError(f"alias_db: unable to connect database: {exc}") from exc
        self.user_col = str(self.param("user_column"))
        self.domain_col = str(self.param("domain_column"))
        self.alias_user_col = str(self.param("alias_user_column"))
        self.alias_domain_col = str(self.param("alias_domain_column"))
        self.domain_prefix = str(self.param("domain_prefix") or "")
        self.append_branches = bool(self.int_param("append_branches"))

    def _log(self, level: int, text: str) -> None:
        self.core.logger.log(level, text, module="alias_db")

    def query(self, table: str, uri: URI, flags: set[str]) -> list[str] | None:
        """alias_db_query(): the "sip:user@domain" of every matching row; None on a database error."""
        if "revert" in flags:
            keys, columns = (self.user_col, self.domain_col), (self.alias_user_col, self.alias_domain_col)
        else:
            keys, columns = (self.alias_user_col, self.alias_domain_col), (self.user_col, self.domain_col)
        where = {keys[0]: uri.user or ""}
        if "no_domain" not in flags:
            host = uri.host or ""
            prefix = self.domain_prefix
            if prefix and len(prefix) < len(host) and host[:len(prefix)].lower() == prefix.lower():
                host = host[len(prefix):]
            where[keys[1]] = host
        try:
            rows = self.db.query(table, list(columns), where)
        except DatabaseError as exc:
            self._log(-1, f"failed to query database: {exc}")
            return None
        if not rows or rows[0][columns[0]] is None:
            return []
        return [f"sip:{row[columns[0]] or ''}@{row[columns[1]] or ''}" for row in rows]

    def _flags(self, text: str | None) -> set[str] | None:
        try:
            return alias_flags(text)
        except ValueError as exc:
            self._log(-1, str(exc))
            return None

    def alias_db_lookup(self, ctx, table_name: str, flags: str | None = None) -> int:
        letters = self._flags(flags)
        if letters is None:
            return -1
        try:
            uri = URI(ctx.ruri())
        except SIPParseError:
            return -1
        found = self.query(table_name, uri, letters)
        if not found:
            if found is not None:
                self._log(4, "no alias found for R-URI")
            return -1
        ctx.new_uri = found[0]
        if self.append_branches:
            for alias in found[1:]:
                ctx.branches.append(Branch(uri=alias, q=0))
        return 1

    def alias_db_find(self, ctx, table_name: str, input_uri: str, output_var, flags: str | None = None) -> int:
        letters = self._flags(flags)
        if letters is None:
            return -1
        try:
            uri = URI(input_uri)
        except SIPParseError:
            self._log(-1, f"failed to parse uri {input_uri}")
            return -1
        found = self.query(table_name, uri, letters)
        if not found:
            return -1
        output_var.set(ctx, found[0], ":=")
        if self.append_branches:
            for alias in found[1:]:
                output_var.set(ctx, alias, "=")
        return 1
