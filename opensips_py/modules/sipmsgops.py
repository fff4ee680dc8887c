"""sipmsgops: header, body, URI and SDP codec/stream operations on the current SIP message."""
from __future__ import annotations

from opensips_py.modules.exports import (
    B, E, F, L, O, R, Arg, ArgKind, Function, ModuleExports, VersionSpan,
)

_ROFBL = R | O | F | B | L
PRIVACY_VALUES = ("none", "id", "header", "session", "user", "critical")
# sipmsg_validate() letters, either case (unknown ones are ignored).
VALIDATE_FLAGS = ("s", "S", "h", "H", "m", "M", "r", "R", "t", "T", "f", "F", "c", "C")


def _codec(name: str) -> Function:
    return Function(name, (Arg("name"), Arg("clock", optional=True)), routes=_ROFBL)


def _codec_re(name: str) -> Function:
    return Function(name, (Arg("regexp", ArgKind.REGEX),), routes=_ROFBL)


EXPORTS = ModuleExports(
    name="sipmsgops",
    doc="SIP message operations (OpenSIPS's home for what Kamailio splits over textops, siputils and "
        "sdpops). Edits are lumps applied on send.",
    functions=(
        Function("append_hf", (Arg("txt"), Arg("hdr_anchor", optional=True)), routes=_ROFBL,
                 doc="txt includes the CRLF."),
        Function("insert_hf", (Arg("txt"), Arg("hdr", optional=True)), routes=_ROFBL),
        Function("remove_hf", (Arg("hname"),), routes=_ROFBL, doc="1 if at least one was removed."),
        Function("remove_hf_re", (Arg("hname_expr", ArgKind.REGEX),), routes=_ROFBL),
        Function("remove_hf_glob", (Arg("hname_pattern"),), routes=_ROFBL),
        Function("is_present_hf", (Arg("hf_name"),), routes=_ROFBL, doc="Compact forms match (f = From)."),
        Function("append_to_reply", (Arg("txt"),), routes=R | F | B | E,
                 doc="Headers for the next locally generated reply."),
        Function(
            "append_body_to_reply", (Arg("txt"),), routes=R | F | B | E, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
        Function("append_urihf", (Arg("prefix"), Arg("suffix")), routes=R | F | B),
        Function("append_time", (), routes=R | F | B | L, doc="Date: for the next local reply."),
        Function("is_method", (Arg("name"),), routes=_ROFBL, doc="\"A|B\" list; on replies the CSeq method."),
        Function("has_totag", (), routes=_ROFBL),
        Function("has_body", (Arg("mime", optional=True),), routes=_ROFBL),
        Function("has_body_part", (Arg("mime", optional=True),), routes=_ROFBL),
        Function(
            "remove_body_part", (Arg("mime", optional=True), Arg("revert", optional=True)), routes=_ROFBL,
        ),
        Function("add_body_part", (Arg("body"), Arg("mime"), Arg("headers", optional=True)), routes=_ROFBL),
        Function(
            "get_updated_body_part", (Arg("mime", optional=True), Arg("variable", ArgKind.VAR)), routes=_ROFBL,
            versions=VersionSpan(since="3.4"), doc="C: since 3.4 (the reference says 4.0).",
        ),
        Function("is_privacy", (Arg("privacy_type", choices=PRIVACY_VALUES),), routes=_ROFBL),
        _codec("codec_exists"),
        _codec("codec_delete"),
        _codec("codec_move_up"),
        _codec("codec_move_down"),
        _codec_re("codec_exists_re"),
        _codec_re("codec_delete_re"),
        _codec_re("codec_delete_except_re"),
        _codec_re("codec_move_up_re"),
        _codec_re("codec_move_down_re"),
        Function("stream_exists", (Arg("regexp", ArgKind.REGEX),), routes=_ROFBL, versions=VersionSpan(until="3.4")),
        Function(
            "stream_exists", (Arg("regexp", ArgKind.REGEX), Arg("regexp2", ArgKind.REGEX, optional=True)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"),
            doc="Media and (C: since 3.4, the reference says 3.6) transport regexps.",
        ),
        Function("stream_delete", (Arg("regexp", ArgKind.REGEX),), routes=_ROFBL, versions=VersionSpan(until="3.4")),
        Function(
            "stream_delete", (Arg("regexp", ArgKind.REGEX), Arg("regexp2", ArgKind.REGEX, optional=True)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"),
        ),
        Function("is_audio_on_hold", (), routes=_ROFBL, doc="> 0 (the hold type) when an audio stream is held."),
        Function(
            "sipmsg_validate",
            (Arg("flags", optional=True, choices=VALIDATE_FLAGS), Arg("result_pvar", ArgKind.VAR, optional=True)),
            routes=R | O | F | B, doc="flags: a string of letters choosing extra checks.",
        ),
        Function("change_reply_status", (Arg("code", ArgKind.INT), Arg("reason")), routes=O),
        Function("list_hdr_has_option", (Arg("hdr_name"), Arg("option")), routes=_ROFBL),
        Function("list_hdr_add_option", (Arg("hdr_name"), Arg("option")), routes=_ROFBL),
        Function("list_hdr_remove_option", (Arg("hdr_name"), Arg("option")), routes=_ROFBL),
        Function(
            "ruri_has_param", (Arg("param"), Arg("value", optional=True)), routes=R | F | B | L,
            doc="C: R, F, B, L in 3.2 too.",
        ),
        Function("ruri_add_param", (Arg("param"),), routes=R | F | B | L),
        Function("ruri_del_param", (Arg("param"),), routes=R | F | B | L),
        Function("ruri_tel2sip", (), routes=R | F | B | L),
        Function("is_uri_user_e164", (Arg("uri"),), routes=R | F | L),
        Function(
            "get_glob_headers_values",
            (Arg("hdr_name_glob"), Arg("hdr_names_avp", ArgKind.VAR), Arg("hdr_vals_avp", ArgKind.VAR)),
            routes=_ROFBL, versions=VersionSpan(since="3.4"), doc="C: since 3.4 (the reference says 4.0).",
        ),
        Function(
            "sip_to_json", (Arg("out_var", ArgKind.VAR),), routes=_ROFBL, versions=VersionSpan(since="3.6"),
            doc="C: since 3.6 (the reference says 4.0).",
        ),
    ),
)
