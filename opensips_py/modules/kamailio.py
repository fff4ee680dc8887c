"""kamailio: Kamailio module and function names that are not OpenSIPS's, each with what to use instead.

Configs written from Kamailio habits (or by an assistant mixing the two) load these modules and call these
functions. OpenSIPS rejects them at start-up; `check` uses these hints to say what the OpenSIPS spelling is.
This file is data only: it is not a module table (there is no EXPORTS here).
"""
from __future__ import annotations

# Kamailio modules with no OpenSIPS module of the same name → the OpenSIPS modules that cover them.
KAMAILIO_MODULES: dict[str, str] = {
    "sdpops": "Kamailio's SDP module. OpenSIPS: sipmsgops (codec_exists/codec_delete/codec_move_*, "
              "stream_exists/stream_delete, has_body_part, is_audio_on_hold), textops search_body/"
              "replace_body for raw lines, nathelper fix_nated_sdp, rtpengine/rtp_relay for media.",
    "siputils": "OpenSIPS: sipmsgops (has_totag, is_uri_user_e164, ruri_has_param/ruri_add_param/"
                "ruri_del_param, ruri_tel2sip); force_rport and add_local_rport are core.",
    "sanity": "OpenSIPS: sipmsgops sipmsg_validate().",
    "textopsx": "OpenSIPS: textops and sipmsgops (remove_hf, append_hf, replace_body…).",
    "kex": "OpenSIPS: core (setflag, resetflag, isflagset, …) and the core MI commands.",
    "corex": "OpenSIPS: core.",
    "pv": "OpenSIPS: pseudo-variables and transformations are core.",
    "xlog": "OpenSIPS: xlog() is a core function.",
    "tmx": "OpenSIPS: tm ($T_* variables, t_reply, t_check_trans).",
    "htable": "OpenSIPS: cachedb_local (cache_store/cache_fetch) or $shv from cfgutils.",
    "jsonrpcs": "OpenSIPS: mi_http (JSON-RPC over HTTP, with httpd), mi_fifo, mi_datagram.",
    "ctl": "OpenSIPS: mi_fifo or mi_datagram.",
    "xhttp": "OpenSIPS: httpd.",
    "websocket": "OpenSIPS: proto_ws and proto_wss (listeners ws:…/wss:…); the handshake needs no script.",
    "tls": "OpenSIPS: tls_mgm plus a TLS library module (tls_openssl or tls_wolfssl), and proto_tls.",
    "nat_traversal": "OpenSIPS: nathelper.",
}

# Kamailio's nathelper alias functions, for which OpenSIPS has no alias mechanism.
_ALIAS_HINT = ("OpenSIPS has no Contact alias. 4.0: fix_nated_contact(\"\", \"preserve-uri\") on the request and "
               "restore_nated_ruri() on the way back; 3.x: keep the source address with fix_nated_register() "
               "and registrar's received_avp, so lookup() sets $du.")

# Function names OpenSIPS does not have → what to call instead. The sdpops entries also document the
# functions of sdpops.py's table.
KAMAILIO_FUNCTIONS: dict[str, str] = {
    # tm
    "t_is_canceled": "t_was_cancelled() (tm).",
    "tm_check_trans": "t_check_trans() (tm); no function of this name exists in OpenSIPS or Kamailio.",
    "t_precheck_trans": "t_check_trans() (tm).",
    "t_relay_to_udp": "t_relay(, \"udp:host:port\") (tm).",
    "t_relay_to_tcp": "t_relay(, \"tcp:host:port\") (tm).",
    "t_relay_to_tls": "t_relay(, \"tls:host:port\") (tm).",
    # nathelper
    "handle_ruri_alias": _ALIAS_HINT,
    "set_contact_alias": _ALIAS_HINT,
    "add_contact_alias": _ALIAS_HINT,
    # auth
    "auth_check": "www_authorize(realm, table) or proxy_authorize(realm, table) (auth_db).",
    "auth_challenge": "www_challenge(realm) or proxy_challenge(realm) (auth).",
    "pv_auth_check": "pv_www_authorize(realm) or pv_proxy_authorize(realm) (auth).",
    # others
    "sanity_check": "sipmsg_validate() (sipmsgops).",
    "dlg_manage": "create_dialog() on the initial INVITE (dialog); in-dialog requests match in loose_route().",
    "set_rtpengine_set": "rtpengine_use_set(setid) (rtpengine).",
    "ws_handle_handshake": "nothing: proto_ws/proto_wss answer the WebSocket handshake themselves.",
    # sdpops
    "sdp_get_line_startswith": "search_body(\"a=rtcp-mux\") (textops), or $rb =~ \"a=rtcp-mux\".",
    "sdp_with_media": "stream_exists(media_re) (sipmsgops).",
    "sdp_with_active_media": "stream_exists(media_re) (sipmsgops), then check the port/direction in $rb.",
    "sdp_remove_media": "stream_delete(media_re) (sipmsgops).",
    "sdp_with_transport": "stream_exists(media_re, transport_re) (sipmsgops, 3.4+).",
    "sdp_with_transport_like": "stream_exists(media_re, transport_re) (sipmsgops, 3.4+).",
    "sdp_remove_transport": "stream_delete(media_re, transport_re) (sipmsgops, 3.4+).",
    "sdp_transport": "search_body() on the m= lines (textops), or a regex match on $rb.",
    "sdp_with_codecs_by_id": "codec_exists(name[, clock]) (sipmsgops; OpenSIPS matches codecs by name, not id).",
    "sdp_with_codecs_by_name": "codec_exists(name[, clock]) (sipmsgops).",
    "sdp_remove_codecs_by_id": "codec_delete_re(re) (sipmsgops; codecs are matched by name).",
    "sdp_remove_codecs_by_name": "codec_delete(name[, clock]) (sipmsgops).",
    "sdp_keep_codecs_by_id": "codec_delete_except_re(re) (sipmsgops; codecs are matched by name).",
    "sdp_keep_codecs_by_name": "codec_delete_except_re(re) (sipmsgops).",
    "sdp_remove_line_by_prefix": "replace_body_all(\"a=prefix[^\\r\\n]*\\r\\n\", \"\") (textops).",
    "sdp_content": "has_body(\"application/sdp\") or has_body_part(\"application/sdp\") (sipmsgops).",
    "sdp_with_ice": "search_body(\"a=candidate\") (textops).",
    "sdp_print": "xlog(\"$rb\").",
    "sdp_get": "$rb (the body).",
    "sdp_get_address_family": "search_body(\"c=IN IP6\") (textops).",
    "sdp_iterator_start": "no SDP line iterator: search_body()/replace_body() (textops) on the lines.",
    "sdp_iterator_next": "no SDP line iterator: search_body()/replace_body() (textops) on the lines.",
    "sdp_iterator_end": "no SDP line iterator: search_body()/replace_body() (textops) on the lines.",
    "sdp_iterator_rm": "replace_body(re, \"\") (textops).",
    "sdp_iterator_append": "search_append_body(re, txt) (textops).",
    "sdp_iterator_insert": "replace_body(re, txt) (textops).",
}
