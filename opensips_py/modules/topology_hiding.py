"""topology_hiding: strip Via/Record-Route/Route and rewrite Contact so each side sees only this proxy."""
from __future__ import annotations

from opensips_py.modules.exports import (
    R, Arg, Dependency, Function, ModParam, ModuleExports, ParamType, PseudoVar, VersionSpan,
)

EXPORTS = ModuleExports(
    name="topology_hiding",
    doc="Called on the initial INVITE. Works with dialog (state kept there; the Contact carries a dialog id) "
        "or without (the hidden headers are encoded into a Contact parameter). Sequential requests carry no "
        "Route headers any more, so they must be matched with topology_hiding_match() instead of "
        "loose_route().",
    functions=(
        Function("topology_hiding", (Arg("flags", optional=True),), routes=R, versions=VersionSpan(until="3.6"),
                 doc="flags letters: U keep the Contact username, D dialog id in the Contact username, "
                     "C encode the Call-ID (dialog only)."),
        Function(
            "topology_hiding", (Arg("flags", optional=True), Arg("contact_users", optional=True)),
            routes=R, versions=VersionSpan(since="3.6"),
            doc='flags letters: U, D, C, a/A (keep the Contact first advertised to caller/callee); '
                'contact_users "caller_user[/callee_user]" sets the Contact usernames per leg.',
        ),
        Function("topology_hiding_match", (Arg("dlg_match_mode", optional=True),), routes=R,
                 doc="Match and restore a sequential request; dlg_match_mode as dialog's match_dialog()."),
    ),
    params=(
        ModParam("force_dialog", ParamType.INT, 0, doc="Create a dialog when none exists (needs dialog)."),
        ModParam("th_passed_contact_uri_params", ParamType.STR,
                 doc="Contact URI params copied into our Contact (';'-separated)."),
        ModParam("th_passed_contact_params", ParamType.STR, doc="Contact header params copied (';'-separated)."),
        ModParam("th_callid_passwd", ParamType.STR, "OpenSIPS", doc="Key for Call-ID encoding (C flag)."),
        ModParam("th_callid_prefix", ParamType.STR, "DLGCH_", doc="Prefix of encoded Call-IDs."),
        ModParam("th_contact_encode_passwd", ParamType.STR, "ToPoCtPaSS",
                 doc="Key for the encoded Contact parameter (no-dialog mode)."),
        ModParam("th_contact_encode_param", ParamType.STR, "thinfo",
                 doc="Name of the Contact parameter holding the encoded headers."),
        ModParam("th_contact_encode_scheme", ParamType.STR, "base64", doc='"base64" or "base32".'),
        ModParam("th_contact_caller_username_var", ParamType.STR, "_th_contact_caller_username_var_",
                 versions=VersionSpan(since="3.6"), doc="Dialog variable keeping the caller's Contact user."),
        ModParam("th_contact_callee_username_var", ParamType.STR, "_th_contact_callee_username_var_",
                 versions=VersionSpan(since="3.6"), doc="Dialog variable keeping the callee's Contact user."),
        ModParam("th_callid_loop_protection", ParamType.INT, 0, versions=VersionSpan(since="4.0"),
                 doc="Refuse to encode a Call-ID that already carries th_callid_prefix."),
    ),
    pvars=(
        PseudoVar("TH_callee_callid", doc="The Call-ID seen by the callee when the C flag encodes it."),
    ),
    deps=(
        Dependency(("tm",), doc="Declared DEP_ABORT."),
        Dependency(("dialog",), when_param="force_dialog", unless_values=(0,)),
    ),
)
