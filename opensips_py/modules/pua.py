"""pua: presence user agent: the PUBLISH/SUBSCRIBE client side other pua_* modules send through."""
from __future__ import annotations

from opensips_py.modules.exports import R, Dependency, Function, ModParam, ModuleExports, ParamType

EXPORTS = ModuleExports(
    name="pua",
    doc="Keeps the state of PUBLISHes and SUBSCRIBEs sent on behalf of pua_usrloc, pua_dialoginfo, pua_mi, "
        "pua_bla, pua_xmpp…, refreshing them before they expire.",
    functions=(
        Function("pua_update_contact", (), routes=R,
                 doc="Update the stored remote target from the Contact of an in-dialog NOTIFY."),
    ),
    params=(
        ModParam("hash_size", ParamType.INT, -1, doc="2^n buckets (unset or <= 1: 512 buckets)."),
        ModParam("db_url", ParamType.STR),
        ModParam("db_table", ParamType.STR, "pua"),
        ModParam("min_expires", ParamType.INT, 300, doc="Shortest Expires accepted from the other modules."),
        ModParam("default_expires", ParamType.INT, 3600, doc="Expires used when none is given."),
        ModParam("update_period", ParamType.INT, 100, doc="Seconds between refresh/cleanup rounds."),
        ModParam("cluster_id", ParamType.INT, 0),
        ModParam("cluster_sharing_tag", ParamType.STR, doc="Sharing tag that makes this node send."),
    ),
    deps=(
        Dependency(("db_*",), doc="Declared DEP_ABORT: the state is always kept in a database too."),
    ),
)
