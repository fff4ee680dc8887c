"""presence: the presence server (RFC 3856/3265): PUBLISH storage and SUBSCRIBE/NOTIFY for events."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Arg, ArgKind, Dependency, Function, MICommand, ModParam, ModuleExports, ParamType, VersionSpan,
)

EXPORTS = ModuleExports(
    name="presence",
    doc="Event packages come from other modules (presence_xml for presence/winfo, presence_dialoginfo, "
        "presence_mwi, …). Presentities and watchers are kept in memory and synced to the database.",
    functions=(
        Function("handle_publish", (Arg("sender_uri", optional=True),), routes=R,
                 doc="Store the PUBLISHed state, reply, and NOTIFY the watchers."),
        Function("handle_subscribe",
                 (Arg("force_active", ArgKind.INT, optional=True), Arg("sharing_tag", optional=True)),
                 routes=R, doc="Accept/refresh/end a subscription, reply, and NOTIFY."),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("presentity_table", ParamType.STR, "presentity"),
        ModParam("active_watchers_table", ParamType.STR, "active_watchers"),
        ModParam("watchers_table", ParamType.STR, "watchers"),
        ModParam("clean_period", ParamType.INT, 100, doc="Seconds between sweeps of expired records."),
        ModParam("db_update_period", ParamType.INT, 100, doc="Seconds between database syncs of watchers."),
        ModParam("expires_offset", ParamType.INT, 0, doc="Seconds subtracted from the granted Expires."),
        ModParam("max_expires_subscribe", ParamType.INT, 3600),
        ModParam("max_expires_publish", ParamType.INT, 3600),
        ModParam("contact_user", ParamType.STR, "presence", doc="User part of our Contact in NOTIFYs."),
        ModParam("subs_htable_size", ParamType.INT, 9, doc="2^n buckets of the subscriptions table."),
        ModParam("pres_htable_size", ParamType.INT, 9, doc="2^n buckets of the presentities table."),
        ModParam("fallback2db", ParamType.INT, 0, doc="Look subscriptions up in the database when not in memory."),
        ModParam("enable_sphere_check", ParamType.INT, 0, doc="Apply RPID sphere rules to NOTIFY bodies."),
        ModParam("waiting_subs_daysno", ParamType.INT, 0, doc="Days pending subscriptions are kept (max 30)."),
        ModParam("mix_dialog_presence", ParamType.INT, 0, doc="Merge dialog state into presence documents."),
        ModParam("bla_presentity_spec", ParamType.STR, doc="Pseudo-variable naming the BLA presentity."),
        ModParam("bla_fix_remote_target", ParamType.INT, 1),
        ModParam("notify_offline_body", ParamType.INT, 0, doc="Send an offline body when no presentity exists."),
        ModParam("end_sub_on_timeout", ParamType.INT, 1, doc="End a subscription when its NOTIFY times out."),
        ModParam("cluster_id", ParamType.INT, 0, doc="Cluster for presentity replication/federation."),
        ModParam("cluster_federation_mode", ParamType.STR,
                 doc='"disabled", "on-demand-sharing" or "full-sharing".'),
        ModParam("cluster_be_active_shtag", ParamType.STR, versions=VersionSpan(until="3.3"),
                 doc="Sharing tag making this node the active one."),
        ModParam("cluster_be_active_shtag", ParamType.STR, versions=VersionSpan(since="3.4"),
                 doc="Sharing tag making this node the active one (missing from the 3.3 branch)."),
        ModParam("cluster_pres_events", ParamType.STR, doc="Comma list of events replicated (default: all)."),
    ),
    mi=(
        MICommand("refreshWatchers", ("presentity_uri", "event", "refresh_type"),
                  versions=VersionSpan(until="4.0"), doc="Old spelling of refresh_watchers (gone in 4.0)."),
        MICommand("refresh_watchers", ("presentity_uri", "event", "refresh_type"),
                  alias_4_0="presence:refresh_watchers", doc="Resend NOTIFYs (refresh_type 0) or re-read state."),
        MICommand("cleanup", (), alias_4_0="presence:cleanup", doc="Run the expired-records sweep now."),
        MICommand("pres_expose", ("event", "filter"), alias_4_0="presence:expose",
                  doc="Raise E_PRESENCE_EXPOSED for each presentity of event (filter optional)."),
        MICommand("pres_phtable_list", (), alias_4_0="presence:phtable_list"),
        MICommand("subs_phtable_list", ("from", "to"), alias_4_0="presence:subs_phtable_list",
                  doc="from and to are optional filters."),
    ),
    deps=(
        Dependency(("tm",)),
        Dependency(("signaling",)),
        Dependency(("db_*",), when_param="db_url"),
        Dependency(("clusterer",), when_param="cluster_id", unless_values=(0,)),
    ),
)


from opensips_py.modules.presence.module import Module  # noqa: E402

__all__ = ["EXPORTS", "Module"]
