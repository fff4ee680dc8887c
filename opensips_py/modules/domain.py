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
