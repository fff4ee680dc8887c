"""The shape of a module's exports table.

Every OpenSIPS module we know about declares one `EXPORTS = ModuleExports(...)` at the top of its own file
under `opensips_py/modules/`. The linter (`opensips-py check`), the interpreter and the docs all read these
tables, so lint and runtime never disagree about what a module offers.

The facts come from OpenSIPS's own `cmd_export_t` / `param_export_t` / `pv_export_t` / `mi_export_t` /
`stat_export_t` arrays (modules/*/*.c) for the versions we track: 3.2, 3.4, 3.6 and 4.0.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

# The OpenSIPS versions a config may target, oldest first.
VERSIONS: tuple[str, ...] = ("3.2", "3.4", "3.6", "4.0")


def version_key(version: str) -> tuple[int, ...]:
    """'3.6' -> (3, 6): versions compare as tuples of integers."""
    return tuple(int(part) for part in version.split("."))


class RouteType(enum.IntFlag):
    """Route-type bits, with OpenSIPS's values (route.h)."""

    REQUEST = 1
    FAILURE = 2
    ONREPLY = 4
    BRANCH = 8
    ERROR = 16
    LOCAL = 32
    STARTUP = 64
    TIMER = 128
    EVENT = 256
    ALL = 511


# Short names used in tables: R F O B E L S T V, as in the reference documents.
R, F, O, B, E, L, S, T, V = (RouteType.REQUEST, RouteType.FAILURE, RouteType.ONREPLY, RouteType.BRANCH,
                             RouteType.ERROR, RouteType.LOCAL, RouteType.STARTUP, RouteType.TIMER,
                             RouteType.EVENT)
ALL = RouteType.ALL


class ArgKind(enum.Enum):
    """What a function parameter accepts (OpenSIPS's CMD_PARAM_* kinds, mod_fix.c).

    STR:     a string literal (a format: `$pv`s inside are expanded per call) or a `$pv`.
    INT:     an integer literal or a `$pv` holding an integer; a quoted number is rejected.
    VAR:     a writable `$pv` (an output parameter).
    REGEX:   a string compiled once (literal) or per call (`$pv`).
    FLAG:    a flag name, a static string ("NAT"); 3.2 also took numbers for some.
    ROUTE:   the name of a route of the kind the function arms (t_on_failure("x") → failure_route[x]).
    ANY:     string or integer (a few functions take either).
    """

    STR = "str"
    INT = "int"
    VAR = "var"
    REGEX = "regex"
    FLAG = "flag"
    ROUTE = "route"
    ANY = "any"


@dataclass(frozen=True)
class Arg:
    """One function parameter.

    static: the value is fixed at start-up (CMD_PARAM_STATIC): no `$pv`, no format expansion.
    no_expand: a string literal is taken as written (CMD_PARAM_NO_EXPAND: `$` is not a variable there), while a
    `$pv` argument is still read (textops' subst expressions).
    route_kind: for ArgKind.ROUTE, which block the name refers to ("failure_route", "branch_route",
    "onreply_route", "route").
    choices: for string parameters that take a fixed set of words (or a comma list of them), the words.
    """

    name: str
    kind: ArgKind = ArgKind.STR
    optional: bool = False
    static: bool = False
    no_expand: bool = False
    route_kind: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionSpan:
    """The versions in which something exists: since <= v < until (None = open)."""

    since: str | None = None
    until: str | None = None

    def includes(self, version: str) -> bool:
        key = version_key(version)
        if self.since is not None and key < version_key(self.since):
            return False
        if self.until is not None and key >= version_key(self.until):
            return False
        return True


@dataclass(frozen=True)
class Function:
    """A script function a module exports.

    routes: where it may be called (OpenSIPS checks the enclosing block; we follow route() calls).
    renamed_to: the name it has in later versions (with `versions.until`), for version-drift findings.
    is_async: callable inside `async(...)`.
    """

    name: str
    args: tuple[Arg, ...] = ()
    routes: RouteType = ALL
    versions: VersionSpan = VersionSpan()
    renamed_to: str | None = None
    is_async: bool = False
    doc: str = ""

    @property
    def min_args(self) -> int:
        """Arguments that must be present: up to the last mandatory one."""
        mandatory = [i for i, a in enumerate(self.args) if not a.optional]
        return mandatory[-1] + 1 if mandatory else 0

    @property
    def max_args(self) -> int:
        return len(self.args)


class ParamType(enum.Enum):
    """modparam value types (param_export_t: STR_PARAM, INT_PARAM, or both)."""

    STR = "str"
    INT = "int"
    STR_OR_INT = "str|int"


@dataclass(frozen=True)
class ModParam:
    """A module parameter.

    flag_name: the string names a flag ("NAT"); in 3.2 some of these also took a number.
    repeatable: may be set several times (each setting adds, e.g. rtpengine_sock sets, tls_mgm domains).
    renamed_to: its name in later versions.
    """

    name: str
    type: ParamType = ParamType.STR
    default: str | int | None = None
    versions: VersionSpan = VersionSpan()
    renamed_to: str | None = None
    flag_name: bool = False
    repeatable: bool = False
    doc: str = ""


@dataclass(frozen=True)
class PseudoVar:
    """A pseudo-variable: `$name` or `$name(arg)` when takes_arg."""

    name: str
    writable: bool = False
    takes_arg: bool = False
    versions: VersionSpan = VersionSpan()
    renamed_to: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class MICommand:
    """A management command. alias_4_0: the namespaced 4.0 name (`usrloc:dump` for `ul_dump`)."""

    name: str
    params: tuple[str, ...] = ()
    versions: VersionSpan = VersionSpan()
    alias_4_0: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class Dependency:
    """A module this one needs loaded.

    any_of: one of these modules satisfies it (("tm", "sl") for signaling; db_* prefixes allowed with "*").
    when_param: only when this modparam is set (db_url → a db_* module; upstream issue #616).
    when_value: ... and (optionally) set to a value other than these (db_mode 0 needs no database).
    """

    any_of: tuple[str, ...]
    when_param: str | None = None
    unless_values: tuple[str | int, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Transformation:
    """A transformation `{class.name,arg…}`; min/max count its arguments."""

    name: str
    min_args: int = 0
    max_args: int = 0
    versions: VersionSpan = VersionSpan()


class GlobalKind(enum.Enum):
    """Value kinds of core global parameters (cfg.y): int (unsigned, booleans allowed), signed int, bool,
    string, bare identifier, and the structured ones with their own syntax."""

    INT = "int"
    SINT = "sint"
    BOOL = "bool"
    STR = "str"
    ID = "id"
    STR_OR_ID = "str|id"
    SOCKET = "socket"
    ALIAS = "alias"
    SPECIAL = "special"


@dataclass(frozen=True)
class GlobalParam:
    """A core global parameter (`name = value` at the top level).

    renamed_to: its replacement (log_stderror → stderror_enabled, listen → socket).
    deprecated: still accepted in these versions, with a warning.
    """

    name: str
    kind: GlobalKind
    versions: VersionSpan = VersionSpan()
    renamed_to: str | None = None
    deprecated: VersionSpan | None = None
    doc: str = ""


@dataclass(frozen=True)
class ModuleExports:
    """Everything one module offers a script.

    opensips: False for a name that is not an OpenSIPS module at all (Kamailio's sdpops, "mi_rest"):
    check reports loading it, and `replacement` says what to use instead.
    """

    name: str
    functions: tuple[Function, ...] = ()
    params: tuple[ModParam, ...] = ()
    pvars: tuple[PseudoVar, ...] = ()
    transformations: tuple[Transformation, ...] = ()
    mi: tuple[MICommand, ...] = ()
    stats: tuple[str, ...] = ()
    deps: tuple[Dependency, ...] = ()
    versions: VersionSpan = VersionSpan()
    opensips: bool = True
    replacement: str | None = None
    doc: str = ""

    def function(self, name: str) -> list[Function]:
        """Every entry named `name` (one per version span)."""
        return [f for f in self.functions if f.name == name]

    def param(self, name: str) -> list[ModParam]:
        return [p for p in self.params if p.name == name]
