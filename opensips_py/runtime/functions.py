"""The core script functions that need the network: forward() and send().

Everything else of the core (flags, R-URI rewriting, $du, force_rport(), …) is CoreFunctions'
(opensips_py.script.core_functions); this subclass adds the two functions that hand a message to the
runtime, so the script layer stays free of sockets.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from opensips_py.runtime.cachedb_functions import CacheDBFunctions
from opensips_py.script.core_functions import CoreFunctions

if TYPE_CHECKING:  # pragma: no cover
    from opensips_py.script.context import MsgContext


class ProxyCoreFunctions(CacheDBFunctions, CoreFunctions):
    """CoreFunctions plus forward() and send(), bound to a ProxyCore, and the cache_* functions
    (runtime/cachedb_functions.py), which reach the loaded cachedb modules."""

    def forward(self, ctx: "MsgContext", destination: str | None = None) -> int:
        """Stateless forward: to `destination`, else $du, else the R-URI (1 sent, negative on error)."""
        return self.core.forward_request(ctx, destination)

    def send(self, ctx: "MsgContext", destination: str, headers: str | None = None) -> int:
        """Send the request as received (no Via added), with optional extra header lines."""
        return self.core.send_as_is(ctx, destination, headers)
