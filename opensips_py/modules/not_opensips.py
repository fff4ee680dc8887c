"""Module names that configs load but OpenSIPS (3.x/4.0) has no module for, with what to use instead.

`opensips-py check` reports a loadmodule of one of these as an unknown module and prints the replacement.
Kamailio's module names are in kamailio.py.
"""
from __future__ import annotations

NOT_OPENSIPS_MODULES: dict[str, str] = {
    # Asked for by the design guide; no OpenSIPS version ever had it. MI over HTTP is JSON-RPC 2.0 POSTed to
    # httpd's port, path /mi by default.
    "mi_rest": "httpd + mi_http (JSON-RPC at /mi)",
    # OpenSER (before OpenSIPS 1.4) names of the database drivers; old sample configs still load them.
    "mysql": "db_mysql",
    "dbtext": "db_text",
}
