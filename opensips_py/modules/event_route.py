"""event_route: delivery of OpenSIPS events (E_*) to `event_route[E_NAME]` script blocks (up to 3.5)."""
from __future__ import annotations

from opensips_py.modules.exports import ModuleExports, VersionSpan

EXPORTS = ModuleExports(
    name="event_route",
    versions=VersionSpan(until="3.6"),
    replacement="nothing: since 3.6 event_route blocks are handled by the core",
    doc="No functions or parameters: loading it made `event_route[E_…]` blocks receive events (the event's "
        "attributes in $param(name)). 3.6 moved this into the core and removed the module, so loading it "
        "fails there.",
)
