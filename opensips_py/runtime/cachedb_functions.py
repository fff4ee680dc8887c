"""The core cache_* script functions (core_cmds.c w_cache_*, cachedb/cachedb.c): they name an engine
("local", "local:group1", "redis:cluster1") and reach the cachedb module that serves it.

The engine's scheme picks the module (cachedb_<scheme>), which gives the connection of that engine through
`collection_for(engine)` (cachedb_local: a Collection, opensips_py.modules.cachedb_local). Return codes are
OpenSIPS's: the back-end's 0 becomes 1; fetch -2 when the key is missing; counter fetch -3 when the value
is no number; -1 for an empty key, an engine no loaded module serves, or a failed operation.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import MsgContext


class CacheDBFunctions:
    """cache_store/cache_remove/cache_fetch/cache_counter_fetch/cache_add/cache_sub for the proxy core."""

    core: Any

    def _cachedb(self, engine: str, key: str | None) -> Any:
        """The connection serving `engine`, or None (logged) when the key is empty or nothing serves it."""
        if not key:
            self.core.logger.error("attribute cannot be empty")
            return None
        scheme = engine.partition(":")[0]
        module = getattr(self.core, "modules", {}).get(f"cachedb_{scheme}")
        finder = getattr(module, "collection_for", None)
        connection = None
        if finder is not None:
            try:
                connection = finder(engine)
            except ValueError:
                connection = None
        if connection is None:
            self.core.logger.error(f"cachedb engine {engine!r} not found (no loaded cachedb_{scheme} module "
                                   f"serves it)")
        return connection

    def cache_store(self, ctx: "MsgContext", engine: str, key: str, value: str, expire: int | None = None) -> int:
        connection = self._cachedb(engine, key)
        if connection is None:
            return -1
        return connection.store(key, value, int(expire or 0))

    def cache_remove(self, ctx: "MsgContext", engine: str, key: str) -> int:
        connection = self._cachedb(engine, key)
        if connection is None:
            return -1
        return connection.remove(key)

    def cache_fetch(self, ctx: "MsgContext", engine: str, key: str, result) -> int:
        connection = self._cachedb(engine, key)
        if connection is None:
            return -1
        value = connection.fetch(key)
        if value is None:
            return -2
        result.set(ctx, value, "=")
        return 1

    def cache_counter_fetch(self, ctx: "MsgContext", engine: str, key: str, result) -> int:
        connection = self._cachedb(engine, key)
        if connection is None:
            return -1
        code, value = connection.counter(key)
        if value is None:
            return code
        result.set(ctx, value, "=")
        return 1

    def _add(self, ctx: "MsgContext", engine: str, key: str, delta: int, expire: int, new_value) -> int:
        connection = self._cachedb(engine, key)
        if connection is None:
            return -1
        value = connection.add(key, delta, int(expire or 0))
        if value is None:
            return -1
        if new_value is not None:
            new_value.set(ctx, value, "=")
        return 1

    def cache_add(self, ctx: "MsgContext", engine: str, key: str, increment: int, expire: int,
                  new_value=None) -> int:
        return self._add(ctx, engine, key, int(increment), expire, new_value)

    def cache_sub(self, ctx: "MsgContext", engine: str, key: str, decrement: int, expire: int,
                  new_value=None) -> int:
        return self._add(ctx, engine, key, -int(decrement), expire, new_value)
