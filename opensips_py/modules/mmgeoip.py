"""mmgeoip: MaxMind GeoIP2 lookups of an IP address (country, city, coordinates…)."""
from __future__ import annotations

from opensips_py.modules.exports import Arg, ArgKind, Function, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="mmgeoip",
    doc="Reads a GeoIP2 City database (mmdb) at start-up.",
    functions=(
        Function(
            "mmg_lookup", (Arg("fields", optional=True), Arg("src"), Arg("dst", ArgKind.VAR)),
            doc="Fields (lat lon cont cc reg city pc dma ac tz, any separator) of IP src, pushed into the "
                "dst AVP in reverse order; 1 found, -1 not.",
        ),
    ),
    params=(
        ModParam("mmgeoip_city_db_path", ParamType.STR, doc="Path of the GeoIP2 City database; required."),
        ModParam("cache_type", ParamType.STR, doc='Legacy GeoIP cache mode ("STANDARD", "MMAP_CACHE", …).'),
    ),
)
