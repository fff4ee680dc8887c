"""domain: the list of domains this proxy is responsible for (is the R-URI/From host local?)."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType,
    VersionSpan,
)

_ROUTES = R | F | B | L

EXPORTS = ModuleExports(
    name="domain",
    doc="Domains come from the `domain` table (domain, attrs; accept_subdomain since 3.6), read per call "
        "(db_mode 0) or cached (db_mode 1, reloaded by MI).",
    functions=(
        Function("is_from_local", (Arg("attrs_var", ArgKind.VAR, optional=True),), routes=_ROUTES,
                 doc="1 if the From URI host is a local domain (attrs into attrs_var)."),
        Function("is_uri_host_local", (Arg("attrs_var", ArgKind.VAR, optional=True),), routes=_ROUTES,
                 doc="1 if the R-URI host is local (request routes) or the To host (replies are not allowed)."),
        Function("is_domain_local", (Arg("domain"), Arg("attrs_var", ArgKind.VAR, optional=True)),
                 routes=_ROUTES, doc="1 if the given domain is local."),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("db_mode", ParamType.INT, 0, doc="0: query the table each time; 1: cache it."),
        ModParam("domain_table", ParamType.STR, "domain"),
        ModParam("domain_col", ParamType.STR, "domain"),
        ModParam("attrs_col", ParamType.STR, "attrs"),
        ModParam("accept_subdomain_col", ParamType.STR, "accept_subdomain", versions=VersionSpan(since="3.6"),
                 doc="Column saying whether subdomains of the row's domain are local too."),
    ),
    mi=(
        MICommand("domain_reload", (), versions=VersionSpan(until="4.0"),
                  doc="Reload the cache (db_mode 1). 4.0 names it domain:reload, without this alias."),
        MICommand("domain_dump", (), versions=VersionSpan(until="4.0"),
                  doc="List the cached domains. 4.0 names it domain:dump, without this alias."),
        MICommand("reload", (), versions=VersionSpan(since="4.0"), alias_4_0="domain:reload"),
        MICommand("dump", (), versions=VersionSpan(since="4.0"), alias_4_0="domain:dump"),
    ),
    deps=(
        Dependency(("db_*",), doc="The domain list is always read from a database."),
    ),
)

# ------------------------------------------------------------------------------------------------ implementation
# Behaviour read in modules/domain/{domain,domain_mod,hash,mi}.c of OpenSIPS 3.4–3.6. A host is local when a
# row's domain equals it (case-insensitively), or — accept_subdomain set on the row — when it ends with
# ".<domain>". The lookup walks the host's parent domains ("a.b.example.com", "b.example.com",
# "example.com"; never the last label alone). db_mode 0 asks the table on every call (WHERE domain = …, with
# the database's own comparison), db_mode 1 reads it at start-up and on domain_reload. The module also
# answers the core's "is this one of our names?" check (register_alias_fct) when the core offers that hook.
# The accept_subdomain column is read when the table has it (3.6 schema, version 4); a table without it
# (3.4's, or a version-4 table created without the column) counts every row as accept_subdomain = 0.

from dataclasses import dataclass as _dataclass  # noqa: E402
from typing import Any as _Any  # noqa: E402

from opensips_py.db import DatabaseError, TableVersionMismatch, open_database  # noqa: E402
from opensips_py.mi import MIError  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402
from opensips_py.sip import SIPParseError, URI  # noqa: E402

DOMAIN_TABLE_VERSION = 4  # 3.6 (3.4: 3)


@_dataclass(frozen=True)
class DomainEntry:
    domain: str
    attrs: str | None
    accept_subdomain: bool


def match_domain(entry: str, host: str, accept_subdomain: bool) -> bool:
    """name_alias.h match_domain()."""
    if accept_subdomain:
        offset = len(host) - len(entry)
        if offset < 0 or (offset > 0 and host[offset - 1] != "."):
            return False
        return host[offset:].lower() == entry.lower()
    return len(host) == len(entry) and host.lower() == entry.lower()


def lookup_names(host: str) -> list[str]:
    """The names is_domain_local_pvar() looks up: the host, then each parent that still has a dot."""
    names = [host]
    current = host
    while True:
        dot = current.find(".")
        if dot < 0:
            break
        current = current[dot + 1:]
        if "." not in current:
            break
        names.append(current)
    return names


class Module(ModuleBase):
    exports = EXPORTS

    def init(self) -> None:
        url = self.db_url()
        if not url:
            raise ModuleInitError("domain: no db_url")
        self.db_mode = self.int_param("db_mode")
        self.table = str(self.param("domain_table"))
        self.col_domain = str(self.param("domain_col"))
        self.col_attrs = str(self.param("attrs_col"))
        self.col_accept = str(self.param("accept_subdomain_col"))
        self.cache: dict[str, list[DomainEntry]] | None = None
        try:
            self.db = open_database(self.core, str(url), "domain")
            if self.db_mode != 0:
                self.db.check_version(self.table, DOMAIN_TABLE_VERSION)
                self.cache = self._load()
        except TableVersionMismatch as exc:
            raise ModuleInitError(f"domain: error during check of domain table version: {exc}") from exc
        except DatabaseError as exc:
            raise ModuleInitError(f"domain: Domain table reload failed: {exc}") from exc
        aliases = getattr(self.core, "alias_functions", None)
        if isinstance(aliases, list):
            aliases.append(self.is_alias)

    def _columns(self) -> list[str]:
        columns = [self.col_domain, self.col_attrs]
        if self._has_accept_column():
            columns.append(self.col_accept)
        return columns

    def _has_accept_column(self) -> bool:
        known = getattr(self, "_accept_known", None)
        if known is None:
            try:
                self.db.query(self.table, [self.col_accept], limit=0)
                known = True
            except DatabaseError:
                self.core.logger.log(1, f"table {self.table} has no {self.col_accept} column: no row accepts "
                                        "subdomains", module="domain")
                known = False
            self._accept_known = known
        return known

    def _entry(self, row: dict[str, _Any]) -> DomainEntry:
        accept = row.get(self.col_accept)
        return DomainEntry(str(row[self.col_domain] or ""), None if row[self.col_attrs] is None
                           else str(row[self.col_attrs]), bool(int(accept)) if isinstance(accept, int) else False)

    def _load(self) -> dict[str, list[DomainEntry]]:
        """reload_domain_table(): the new cache (by lower-cased domain, table order kept)."""
        cache: dict[str, list[DomainEntry]] = {}
        for row in self.db.query(self.table, self._columns()):
            entry = self._entry(row)
            cache.setdefault(entry.domain.lower(), []).insert(0, entry)  # hash_table_install() prepends
        return cache

    # ---------------------------------------------------------------------------------- the check
    def is_local(self, ctx, host: str, attrs_var=None) -> int:
        """is_domain_local_pvar(): 1 local (attrs written when the entry has some), -1 not."""
        for name in lookup_names(host):
            if self.cache is not None:
                candidates = self.cache.get(name.lower(), [])
            else:
                try:
                    candidates = [self._entry(r) for r in
                                  self.db.query(self.table, self._columns(), {self.col_domain: name}, limit=1)]
                except DatabaseError as exc:
                    self.core.logger.log(-1, f"Error while querying database: {exc}", module="domain")
                    return -1
            for entry in candidates:
                if match_domain(entry.domain, host, entry.accept_subdomain):
                    if attrs_var is not None and ctx is not None and entry.attrs is not None:
                        attrs_var.set(ctx, entry.attrs)
                    return 1
        return -1

    def is_alias(self, host: str, port: int | None = None, proto: str | None = None) -> bool:
        """The core's alias check (is_myself): local domains are our names, on any port."""
        return self.is_local(None, host) == 1

    def is_from_local(self, ctx, attrs_var=None) -> int:
        try:
            host = URI(str(ctx.msg.from_.uri)).host or ""
        except (SIPParseError, AttributeError, ValueError):
            self.core.logger.log(-1, "Error while parsing From header", module="domain")
            return -2
        return self.is_local(ctx, host, attrs_var)

    def is_uri_host_local(self, ctx, attrs_var=None) -> int:
        try:
            host = URI(ctx.ruri()).host or ""
        except SIPParseError:
            self.core.logger.log(-1, "Error while parsing R-URI", module="domain")
            return -1
        return self.is_local(ctx, host, attrs_var)

    def is_domain_local(self, ctx, domain: str, attrs_var=None) -> int:
        return self.is_local(ctx, domain, attrs_var)

    # ---------------------------------------------------------------------------------- MI
    def mi_commands(self) -> dict:
        return {"domain_reload": self._mi_reload, "domain_dump": self._mi_dump}

    def _mi_reload(self, params) -> str:
        if self.db_mode == 0:
            raise MIError(500, "DB is disabled (db_mode=0)")
        try:
            self.cache = self._load()
        except DatabaseError as exc:
            raise MIError(500, "Domain table reload failed") from exc
        return "OK"

    def _mi_dump(self, params) -> dict:
        if self.db_mode == 0 or self.cache is None:
            raise MIError(500, "DB is disabled (db_mode=0)")
        domains = []
        for entries in self.cache.values():
            for entry in entries:
                item = {"name": entry.domain}
                if entry.attrs is not None:
                    item["attributes"] = entry.attrs
                domains.append(item)
        return {"Domains": domains}
