"""sdpops: Kamailio's SDP module, not an OpenSIPS one; listed so check can name the OpenSIPS replacement."""
from __future__ import annotations

from opensips_py.modules.exports import ALL, Arg, ArgKind, Function, ModuleExports, PseudoVar
from opensips_py.modules.kamailio import KAMAILIO_FUNCTIONS, KAMAILIO_MODULES


def _kamailio(name: str, *args: Arg) -> Function:
    """A Kamailio sdpops function (ANY_ROUTE there), documented with its OpenSIPS replacement."""
    return Function(name, args, routes=ALL, doc="Kamailio only. OpenSIPS: " + KAMAILIO_FUNCTIONS[name])


_MEDIA = Arg("media", optional=True)

EXPORTS = ModuleExports(
    name="sdpops",
    opensips=False,
    replacement=KAMAILIO_MODULES["sdpops"],
    doc="Kamailio's sdpops (src/modules/sdpops/sdpops_mod.c). Loading it in OpenSIPS fails at start-up; the "
        "functions below are Kamailio's, kept only to point at what OpenSIPS offers.",
    functions=(
        _kamailio("sdp_remove_line_by_prefix", Arg("prefix"), _MEDIA),
        _kamailio("sdp_remove_codecs_by_id", Arg("codecs"), _MEDIA),
        _kamailio("sdp_remove_codecs_by_name", Arg("codecs"), _MEDIA),
        _kamailio("sdp_keep_codecs_by_id", Arg("codecs"), _MEDIA),
        _kamailio("sdp_keep_codecs_by_name", Arg("codecs"), _MEDIA),
        _kamailio("sdp_with_media", Arg("type")),
        _kamailio("sdp_with_active_media", Arg("type")),
        _kamailio("sdp_remove_media", Arg("type")),
        _kamailio("sdp_with_transport", Arg("transport")),
        _kamailio("sdp_with_transport_like", Arg("transport")),
        _kamailio("sdp_remove_transport", Arg("transport")),
        _kamailio("sdp_transport", Arg("result", ArgKind.VAR)),
        _kamailio("sdp_with_codecs_by_id", Arg("codecs")),
        _kamailio("sdp_with_codecs_by_name", Arg("codecs")),
        _kamailio("sdp_print", Arg("level", ArgKind.INT)),
        _kamailio("sdp_get", Arg("result", ArgKind.VAR)),
        _kamailio("sdp_content", Arg("sloppy", optional=True)),
        _kamailio("sdp_with_ice"),
        _kamailio("sdp_get_line_startswith", Arg("result", ArgKind.VAR), Arg("prefix")),
        _kamailio("sdp_get_address_family"),
        _kamailio("sdp_iterator_start", Arg("iname")),
        _kamailio("sdp_iterator_next", Arg("iname")),
        _kamailio("sdp_iterator_end", Arg("iname")),
        _kamailio("sdp_iterator_rm", Arg("iname")),
        _kamailio("sdp_iterator_append", Arg("iname"), Arg("text")),
        _kamailio("sdp_iterator_insert", Arg("iname"), Arg("text")),
    ),
    pvars=(
        PseudoVar("sdp", writable=True, takes_arg=True, doc="Kamailio only. OpenSIPS: $rb."),
        PseudoVar("sdpitval", takes_arg=True, doc="Kamailio only."),
    ),
)
