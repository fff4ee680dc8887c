"""cachedb_local: an in-memory key-value store behind the core cache_* functions (engine "local")."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, F, L, O, R, S, Arg, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="cachedb_local",
    doc="Shared-memory hash tables (collections) used through the core functions cache_store/cache_fetch/"
        'cache_remove/cache_add/cache_sub/cache_counter_fetch with engine "local" or "local:<group>". '
        "Collections marked /r are replicated to the cluster_id cluster.",
    functions=(
        Function(
            "cache_remove_chunk", (Arg("collection", optional=True), Arg("glob")),
            routes=R | F | O | B | L | S,
            doc='Remove every key of a collection matching a shell glob. The collection comes first: for the '
                '"default" collection write cache_remove_chunk(, "glob") (a single argument is too few).',
        ),
    ),
    params=(
        ModParam("cachedb_url", ParamType.STR, repeatable=True,
                 doc='"local://" (default collection) or "local:<group>:///<collection>"; one per setting.'),
        ModParam("cache_collections", ParamType.STR,
                 doc='"name[/r][ = n]; …": collections with 2^n buckets (default 512), /r = replicated; '
                     '"default" always exists.'),
        ModParam("cache_clean_period", ParamType.INT, 600, doc="Seconds between sweeps of expired keys."),
        ModParam("exec_threshold", ParamType.INT, 0, doc="Log operations slower than this many microseconds."),
        ModParam("cluster_id", ParamType.INT, 0, doc="Replicate /r collections in this cluster (0: off)."),
        ModParam("cluster_persistency", ParamType.STR, "sync-from-cluster",
                 doc='"sync-from-cluster" (pull the data from a node at start-up) or "none".'),
        ModParam("enable_restart_persistency", ParamType.INT, 0, versions=VersionSpan(since="3.3"),
                 doc="Keep the collections across restarts (saved to a file at shutdown)."),
    ),
    mi=(
        MICommand("cache_remove_chunk", ("glob", "collection"), alias_4_0="cachedb_local:remove_chunk",
                  doc="collection is optional (default collection)."),
        MICommand("cache_fetch_chunk", ("glob", "collection"), versions=VersionSpan(since="3.5"),
                  alias_4_0="cachedb_local:fetch_chunk",
                  doc="Keys and values matching the glob; collection is optional."),
    ),
    deps=(
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)


# ------------------------------------------------------------------------------------------------ implementation

import fnmatch  # noqa: E402
import time  # noqa: E402

from opensips_py.runtime.log import L_ERR, L_INFO, L_WARN  # noqa: E402
from opensips_py.modules.base import ModuleBase, ModuleInitError  # noqa: E402


DEFAULT_COLLECTION = "default"


class Collection:
    """One hash table of cachedb_local: key -> (value, expiry on the monotonic clock or 0 for never).

    The return codes are lcache's (hash.c), which the core cache_* functions pass on (0 turned into 1):
    fetch 1 / -2 not found or expired; counter fetch 1 / -2 not found / -3 not a number; add -1 when the
    stored value is not a number. Counters are stored as ints, the values of cache_store as strings."""

    def __init__(self, name: str, replicated: bool = False, clock=time.monotonic) -> None:
        self.name = name
        self.replicated = replicated
        self.clock = clock  # the proxy's clock (virtual in tests)
        self._items: dict[str, tuple[str | int, float]] = {}

    def _live(self, key: str) -> tuple[str | int, float] | None:
        item = self._items.get(key)
        if item is not None and item[1] and item[1] <= self.clock():
            del self._items[key]
            return None
        return item

    def store(self, key: str, value: str | int, expires: int = 0) -> int:
        self._items[key] = (value, self.clock() + expires if expires and expires > 0 else 0.0)
        return 1

    def fetch(self, key: str) -> str | None:
        item = self._live(key)
        return None if item is None else str(item[0])

    def remove(self, key: str) -> int:
        self._items.pop(key, None)
        return 1

    def add(self, key: str, delta: int, expires: int = 0) -> int | None:
        """The counter after adding `delta` (a missing key starts at 0), None when the value is no number."""
        item = self._live(key)
        current = 0
        if item is not None:
            try:
                current = int(item[0])
            except (TypeError, ValueError):
                return None
        new = current + delta
        self.store(key, new, expires)
        return new

    def counter(self, key: str) -> tuple[int, int | None]:
        """(1, value), or (-2, None) for a missing key, (-3, None) for a value that is no number, as
        lcache_htable_fetch_counter()."""
        item = self._live(key)
        if item is None:
            return -2, None
        try:
            return 1, int(item[0])
        except (TypeError, ValueError):
            return -3, None

    def keys(self, glob: str) -> list[str]:
        return [k for k in list(self._items) if self._live(k) is not None and fnmatch.fnmatchcase(k, glob)]

    def remove_matching(self, glob: str) -> int:
        keys = self.keys(glob)
        for key in keys:
            del self._items[key]
        return len(keys)

    def sweep(self) -> None:
        for key in list(self._items):
            self._live(key)


def parse_collections(text: str) -> dict[str, Collection]:
    """cache_collections: "name[/r][ = size]; …" (the size, a power of two, only sizes OpenSIPS's buckets)."""
    found = {DEFAULT_COLLECTION: Collection(DEFAULT_COLLECTION)}
    for part in (text or "").split(";"):
        name = part.split("=", 1)[0].strip()
        if not name:
            continue
        replicated = name.endswith("/r")
        name = name[:-2].strip() if replicated else name
        found[name] = Collection(name, replicated)
    return found


def parse_local_url(url: str) -> tuple[str | None, str]:
    """cachedb_url "local://" / "local:group://" / "local:group:///collection" -> (group, collection)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("local"):
        raise ValueError(f"cachedb_url {url!r} is not a local:// URL")
    group = scheme.partition(":")[2] or None
    collection = rest.lstrip("/") or DEFAULT_COLLECTION
    return group, collection


_LEVELS = {"error": L_ERR, "warning": L_WARN, "info": L_INFO}


class Module(ModuleBase):
    """In-memory collections behind the engines "local" and "local:<group>" of the core cache_* functions.

    Python API for other modules (sql_cacher, the core cache_* functions): `collection_for(engine)` gives the
    Collection a cachedb URL or engine name designates, or None when no cachedb_url of this module names it.
    Expired keys are never returned and are swept every cache_clean_period seconds. One process serves
    everything: cluster_id (replication) and enable_restart_persistency are accepted with a warning;
    exec_threshold is accepted (in-memory operations are never slow)."""

    exports = EXPORTS
    groups: dict | None = None  # set up by init(), or earlier by a module that asks for a collection first

    def _log(self, level: str, text: str, *args) -> None:
        """Into the proxy's log, as the module's own line."""
        self.core.logger.log(_LEVELS[level], text % args if args else text, module="cachedb_local")

    def init(self) -> None:
        if self.groups is None:
            self._set_up()
        if self.int_param("enable_restart_persistency"):
            self._log("warning", "enable_restart_persistency: opensips-py does not keep the collections across "
                                 "restarts")
        if self.int_param("cluster_id"):
            self._log("warning", "cluster_id: opensips-py does not replicate the /r collections")
        period = self.int_param("cache_clean_period")
        if period > 0 and hasattr(self.core, "add_timer"):
            self.core.add_timer(0.0, self._sweep)

    def _set_up(self) -> None:
        self.collections = parse_collections(str(self.param("cache_collections") or ""))
        if hasattr(self.core, "now"):
            for collection in self.collections.values():
                collection.clock = lambda: self.core.now
        groups: dict[str | None, Collection] = {}
        urls = [str(u) for u in self.param_values("cachedb_url")] or ["local://"]
        for url in urls:
            try:
                group, name = parse_local_url(url)
            except ValueError as exc:
                raise ModuleInitError(f"cachedb_local: {exc}") from None
            collection = self.collections.get(name)
            if collection is None:
                raise ModuleInitError(f"cachedb_local: cachedb_url {url!r} names collection {name!r}, which "
                                      f"cache_collections does not declare")
            if group in groups:
                raise ModuleInitError(f"cachedb_local: two cachedb_url settings for the group "
                                      f"{group or '(none)'}")
            groups[group] = collection
        self.groups = groups

    def _sweep(self, now: float) -> None:
        """Drop expired keys every cache_clean_period seconds (reads already ignore them)."""
        for collection in self.collections.values():
            collection.sweep()
        self.core.add_timer(now + self.int_param("cache_clean_period"), self._sweep)

    def collection_for(self, engine: str) -> Collection | None:
        """The collection of an engine name ("local", "local:group1") or of a full cachedb URL."""
        if self.groups is None:
            self._set_up()
        if "://" in engine:
            group, _ = parse_local_url(engine)
        else:
            scheme, _, group = engine.partition(":")
            if scheme != "local":
                return None
            group = group or None
        return self.groups.get(group)

    # ------------------------------------------------------------------------------------------ script
    def cache_remove_chunk(self, ctx, collection: str | None, glob: str) -> int:
        target = self.collections.get(collection or DEFAULT_COLLECTION)
        if target is None:
            self._log("error", "collection %s not found", collection)
            return -1
        target.remove_matching(glob)
        return 1

    # ------------------------------------------------------------------------------------------ MI
    def mi_commands(self) -> dict:
        return {"cache_remove_chunk": self._mi_remove_chunk, "cache_fetch_chunk": self._mi_fetch_chunk}

    def _mi_collection(self, params, error: tuple[int, str]) -> tuple[Collection, str]:
        from opensips_py.mi.errors import MIError
        if isinstance(params, dict):
            glob, name = params.get("glob"), params.get("collection")
        else:
            items = list(params or [])
            glob, name = (items + [None, None])[:2]
        if glob is None:
            raise MIError(-32602, "Invalid params")
        collection = self.collections.get(str(name) if name else DEFAULT_COLLECTION)
        if collection is None:
            raise MIError(*error)
        return collection, str(glob)

    def _mi_remove_chunk(self, params) -> str:
        collection, glob = self._mi_collection(params, (500, "Internal error"))
        collection.remove_matching(glob)
        return "OK"

    def _mi_fetch_chunk(self, params) -> dict:
        collection, glob = self._mi_collection(params, (400, "Internal Error"))
        return {"keys": [{"name": k, "value": collection.fetch(k)} for k in collection.keys(glob)]}
