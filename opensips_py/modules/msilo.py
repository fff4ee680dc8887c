"""msilo: store MESSAGEs for offline users and deliver them when the user registers."""
from __future__ import annotations

from opensips_py.modules.exports import (
    F, R, S, T, V, Arg, ArgKind, Dependency, Function, ModParam, ModuleExports, ParamType,
)


def _column(name: str, default: str) -> ModParam:
    return ModParam(name, ParamType.STR, default, doc="Column name in the silo table.")


EXPORTS = ModuleExports(
    name="msilo",
    doc="m_store() saves a MESSAGE (typically when lookup() fails); m_dump() sends the stored ones after a "
        "REGISTER. Reminders can be sent at a stored time.",
    functions=(
        Function("m_store", (Arg("owner", optional=True),), routes=R | F,
                 doc="Store the MESSAGE for owner (default the R-URI)."),
        Function("m_dump", (Arg("owner", optional=True), Arg("maxmsg", ArgKind.INT, optional=True)),
                 routes=R | S | T | V, doc="Send up to maxmsg stored messages of owner (default the To URI)."),
    ),
    params=(
        ModParam("db_url", ParamType.STR),
        ModParam("db_table", ParamType.STR, "silo"),
        ModParam("from_address", ParamType.STR, doc="From of notifications sent back to the sender."),
        ModParam("contact_hdr", ParamType.STR),
        ModParam("content_type_hdr", ParamType.STR),
        ModParam("offline_message", ParamType.STR, doc="Body of the notification to the sender."),
        ModParam("reminder", ParamType.STR, doc="URI that sends reminders."),
        ModParam("outbound_proxy", ParamType.STR),
        ModParam("expire_time", ParamType.INT, 259200, doc="Seconds a message is kept."),
        ModParam("check_time", ParamType.INT, 60, doc="Seconds between delivery checks."),
        ModParam("send_time", ParamType.INT, 0, doc="Seconds between reminder sends (0: off)."),
        ModParam("clean_period", ParamType.INT, 10, doc="check_time rounds between cleanups."),
        ModParam("use_contact", ParamType.INT, 1, doc="Deliver to the registering Contact."),
        _column("sc_mid", "id"),
        _column("sc_from", "src_addr"),
        _column("sc_to", "dst_addr"),
        _column("sc_uri_user", "username"),
        _column("sc_uri_host", "domain"),
        _column("sc_body", "body"),
        _column("sc_ctype", "ctype"),
        _column("sc_exp_time", "exp_time"),
        _column("sc_inc_time", "inc_time"),
        _column("sc_snd_time", "snd_time"),
        ModParam("snd_time_avp", ParamType.STR, doc="AVP holding the reminder send time."),
        ModParam("add_date", ParamType.INT, 1, doc="Prefix delivered bodies with the original date."),
        ModParam("max_messages", ParamType.INT, 0, doc="Messages kept per user (0: no limit)."),
    ),
    stats=("stored_messages", "dumped_messages", "failed_messages", "dumped_reminders", "failed_reminders"),
    deps=(
        Dependency(("tm",), doc="Declared DEP_ABORT."),
        Dependency(("db_*",), doc="Declared DEP_ABORT."),
    ),
)
