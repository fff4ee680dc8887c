"""rr on the virtual network: the Record-Route text as OpenSIPS writes it (record.c, completed at send time as
msg_translator.c does), loose_route()'s return codes and rewrites (loose.c), add_rr_param / check_route_param /
is_direction / $rr_params, and the callbacks dialog uses."""
from __future__ import annotations

import pytest

from opensips_py.runtime import StartupFailure
from tests.runtime.support import HEAD, Proxy, only, parsed, request

RR_HEAD = HEAD + 'loadmodule "sipmsgops.so"\nloadmodule "rr.so"\n'
FTAG = "1928301774"
US = "192.0.2.1"


HOSTS = {"p2.example.com": "192.0.2.32", "p3.example.com": "192.0.2.33", "strict.example.com": "192.0.2.34"}


def proxy(script: str, params: str = "", head: str = RR_HEAD) -> Proxy:
    return Proxy(params + script, head=head, hosts=HOSTS)


def record_routes(sent) -> list[str]:
    return parsed(only(sent)).header_values("record-route")


def script_lines(p: Proxy) -> list[str]:
    return [line for line in p.script_logs() if ":rr:" not in line]


def relay(body: str, destination: str = "udp:192.0.2.20:5060") -> str:
    return f'route {{\n{body}\n\tforward("{destination}");\n}}\n'


# ------------------------------------------------------------------------------------------------ record_route

def test_record_route_inserts_our_address_with_lr_and_the_from_tag_above_our_via():
    sent = proxy(relay("\trecord_route();")).send(request())
    msg = parsed(only(sent))
    assert msg.header_values("record-route") == [f"<sip:{US};lr;ftag={FTAG}>"]
    assert [f.name for f in msg.headers][:2] == ["Record-Route", "Via"]


def test_record_route_goes_above_the_record_routes_already_in_the_request():
    sent = proxy(relay("\trecord_route();")).send(request(extra="Record-Route: <sip:p1.example.com;lr>"))
    assert record_routes(sent) == [f"<sip:{US};lr;ftag={FTAG}>", "<sip:p1.example.com;lr>"]


def test_record_route_params_follow_the_from_tag():
    sent = proxy(relay('\trecord_route(";nat=yes;x=1");')).send(request())
    assert record_routes(sent) == [f"<sip:{US};lr;ftag={FTAG};nat=yes;x=1>"]


def test_add_rr_param_before_record_route_is_kept_for_it_and_after_goes_first_as_record_c_inserts_it():
    sent = proxy(relay('\tadd_rr_param(";early=1");\n\trecord_route(";p=0");\n\tadd_rr_param(";late=1");\n'
                       '\tadd_rr_param(";later=2");')).send(request())
    assert record_routes(sent) == [f"<sip:{US};lr;ftag={FTAG};p=0;later=2;late=1;early=1>"]


def test_a_second_record_route_returns_minus_1_and_adds_nothing():
    p = proxy(relay('\trecord_route();\n\trecord_route();\n\txlog("rc=$rc\\n");'))
    sent = p.send(request())
    assert script_lines(p) == ["rc=-1"] and len(record_routes(sent)) == 1


def test_another_transport_out_gives_two_record_routes_with_r2_outgoing_first():
    sent = proxy(relay("\trecord_route();", "tcp:192.0.2.20:5060")).send(request())
    assert record_routes(sent) == [f"<sip:{US};transport=tcp;r2=on;lr;ftag={FTAG}>",
                                   f"<sip:{US};r2=on;lr;ftag={FTAG}>"]


def test_another_interface_out_gives_two_record_routes_with_both_addresses_and_ports():
    head = RR_HEAD.replace("socket = tcp:192.0.2.1:5060", "socket = udp:198.51.100.1:5070")
    script = relay('\tforce_send_socket("udp:198.51.100.1:5070");\n\trecord_route(";a=b");')
    sent = proxy(script, head=head).send(request())
    assert record_routes(sent) == [f"<sip:198.51.100.1:5070;r2=on;lr;ftag={FTAG};a=b>",
                                   f"<sip:{US};r2=on;lr;ftag={FTAG};a=b>"]


def test_add_rr_param_after_a_double_record_route_reaches_both_headers():
    sent = proxy(relay('\trecord_route();\n\tadd_rr_param(";did=1.2");', "tcp:192.0.2.20:5060")).send(request())
    assert all(rr.endswith(";did=1.2>") for rr in record_routes(sent)) and len(record_routes(sent)) == 2


def test_without_enable_double_rr_a_single_record_route_names_the_outgoing_socket():
    sent = proxy(relay("\trecord_route();", "tcp:192.0.2.20:5060"),
                 'modparam("rr", "enable_double_rr", 0)\n').send(request())
    assert record_routes(sent) == [f"<sip:{US};transport=tcp;lr;ftag={FTAG}>"]


def test_the_as_address_of_the_socket_is_written_with_its_port_even_5060():
    head = RR_HEAD.replace("socket = udp:192.0.2.1:5060", "socket = udp:192.0.2.1:5060 as 203.0.113.7:5060")
    sent = proxy(relay("\trecord_route();"), head=head).send(request())
    assert record_routes(sent) == [f"<sip:203.0.113.7:5060;lr;ftag={FTAG}>"]


def test_set_advertised_address_changes_the_outgoing_record_route_only():
    script = relay('\tset_advertised_address("sip.example.net");\n\trecord_route();', "tcp:192.0.2.20:5060")
    sent = proxy(script).send(request())
    assert record_routes(sent) == [f"<sip:sip.example.net;transport=tcp;r2=on;lr;ftag={FTAG}>",
                                   f"<sip:{US};r2=on;lr;ftag={FTAG}>"]


def test_append_fromtag_0_leaves_the_ftag_out():
    sent = proxy(relay("\trecord_route();"), 'modparam("rr", "append_fromtag", 0)\n').send(request())
    assert record_routes(sent) == [f"<sip:{US};lr>"]


def test_add_username_puts_the_request_uri_user_in_the_record_route():
    sent = proxy(relay("\trecord_route();"), 'modparam("rr", "add_username", 1)\n').send(request())
    assert record_routes(sent) == [f"<sip:bob@{US};lr;ftag={FTAG}>"]


def test_a_non_default_port_and_an_ipv6_socket_are_written_as_uri_hostport():
    head = RR_HEAD.replace("socket = udp:192.0.2.1:5060", "socket = udp:[2001:db8::1]:5070")
    sent = proxy(relay("\trecord_route();", "udp:[2001:db8::20]:5060"), head=head).send(request())
    assert record_routes(sent) == [f"<sip:[2001:db8::1]:5070;lr;ftag={FTAG}>"]


# ------------------------------------------------------------------------------------------------ record_route_preset

def test_record_route_preset_writes_the_given_host_with_the_ftag_before_lr():
    sent = proxy(relay('\trecord_route_preset("proxy.example.com:5090");')).send(request())
    assert record_routes(sent) == [f"<sip:proxy.example.com:5090;ftag={FTAG};lr>"]


def test_record_route_preset_with_two_values_writes_two_headers_in_that_order():
    sent = proxy(relay('\tadd_rr_param(";x=1");\n\trecord_route_preset("out.example.com", "in.example.com");'
                       '\n\tadd_rr_param(";y=2");')).send(request())
    assert record_routes(sent) == [f"<sip:out.example.com;ftag={FTAG};lr;y=2;x=1>",
                                   f"<sip:in.example.com;ftag={FTAG};lr;y=2>"]


def test_two_presets_without_enable_double_rr_return_minus_1():
    p = proxy(relay('\trecord_route_preset("a.example.com", "b.example.com");\n\txlog("rc=$rc\\n");'),
              'modparam("rr", "enable_double_rr", 0)\n')
    sent = p.send(request())
    assert script_lines(p) == ["rc=-1"] and record_routes(sent) == []


# ------------------------------------------------------------------------------------------------ loose_route

LOOSE = ('route {\n\t$var(rc) = loose_route();\n\txlog("rc=$var(rc) du=$du ru=$ru fs=$fs rr=$rr_params\\n");\n'
         '\tif ($var(rc) == 1) forward(); else forward("udp:192.0.2.20:5060");\n}\n')


def loose(routes: list[str], to_tag: str | None = "b7c3", ruri: str = "sip:bob@192.0.2.20",
          head: str = RR_HEAD, params: str = ""):
    p = proxy(LOOSE, params, head=head)
    extra = "\n".join(f"Route: {r}" for r in routes)
    sent = p.send(request("BYE" if to_tag else "INVITE", ruri, to_tag=to_tag, extra=extra))
    return script_lines(p)[0], parsed(only(sent)), only(sent)


def test_loose_route_without_route_headers_returns_minus_1():
    log, msg, _ = loose([])
    assert log.startswith("rc=-1 du=<null>")


def test_our_route_is_removed_and_the_next_loose_route_becomes_du():
    log, msg, out = loose([f"<sip:{US};lr;ftag={FTAG};did=3.4>", "<sip:p2.example.com;lr>"],
                          head=RR_HEAD, params="")
    assert log == (f"rc=1 du=sip:p2.example.com;lr ru=sip:bob@192.0.2.20 fs=udp:{US}:5060 "
                   f"rr=lr;ftag={FTAG};did=3.4")
    assert msg.header_values("route") == ["<sip:p2.example.com;lr>"]


def test_only_our_route_in_dialog_returns_1_routes_by_ruri_and_sends_from_the_receiving_socket():
    log, msg, out = loose([f"<sip:{US};lr;ftag={FTAG}>"])
    assert log == f"rc=1 du=<null> ru=sip:bob@192.0.2.20 fs=udp:{US}:5060 rr=lr;ftag={FTAG}"
    assert not msg.has_header("route") and (out.host, out.port) == ("192.0.2.20", 5060)


def test_a_preloaded_initial_request_whose_only_route_is_us_returns_minus_1_with_the_route_removed():
    log, msg, _ = loose([f"<sip:{US};lr>"], to_tag=None)
    assert log == "rc=-1 du=<null> ru=sip:bob@192.0.2.20 fs=<null> rr=lr"
    assert not msg.has_header("route")


def test_a_preloaded_request_with_a_route_after_ours_follows_it():
    log, msg, _ = loose([f"<sip:{US}:5060;lr>", "<sip:p2.example.com;lr>"], to_tag=None)
    assert log.startswith("rc=1 du=sip:p2.example.com;lr ") and "fs=<null>" in log


def test_a_foreign_top_route_becomes_du_and_stays():
    log, msg, _ = loose(["<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"])
    assert log == "rc=1 du=sip:p2.example.com;lr ru=sip:bob@192.0.2.20 fs=<null> rr=<null>"
    assert msg.header_values("route") == ["<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"]


def test_our_two_record_routes_are_removed_and_the_second_one_picks_the_send_socket():
    log, msg, out = loose([f"<sip:{US};r2=on;lr;ftag={FTAG}>", f"<sip:{US};transport=tcp;r2=on;lr;ftag={FTAG}>",
                           "<sip:192.0.2.30;lr;transport=tcp>"])
    assert log.startswith(f"rc=1 du=sip:192.0.2.30;lr;transport=tcp ru=sip:bob@192.0.2.20 fs=tcp:{US}:5060 ")
    assert msg.header_values("route") == ["<sip:192.0.2.30;lr;transport=tcp>"] and out.proto == "tcp"


def test_double_routes_in_one_comma_separated_line_leave_the_rest_of_the_line():
    log, msg, _ = loose([f"<sip:{US};r2=on;lr>, <sip:{US};transport=tcp;r2=on;lr>, <sip:p3.example.com;lr>"])
    assert log.startswith("rc=1 du=sip:p3.example.com;lr ") and f"fs=tcp:{US}:5060" in log
    assert msg.header_values("route") == ["<sip:p3.example.com;lr>"]


def test_a_strict_next_hop_gets_the_request_uri_and_the_old_one_goes_last_in_the_route_set():
    log, msg, out = loose([f"<sip:{US};lr>", "<sip:strict.example.com:5070>", "<sip:p3.example.com;lr>"],
                          params="")
    assert log.startswith("rc=1 du=<null> ru=sip:strict.example.com:5070 ")
    assert msg.ruri_text == "sip:strict.example.com:5070"
    assert msg.header_values("route") == ["<sip:p3.example.com;lr>", "<sip:bob@192.0.2.20>"]


def test_after_a_strict_router_the_last_route_becomes_the_request_uri_again():
    log, msg, _ = loose(["<sip:p2.example.com;lr>", "<sip:bob@192.0.2.20:5062>"],
                        ruri=f"sip:{US};lr;ftag={FTAG}")
    assert log.startswith("rc=1 du=sip:p2.example.com;lr ru=sip:bob@192.0.2.20:5062 ")
    assert msg.ruri_text == "sip:bob@192.0.2.20:5062" and msg.header_values("route") == ["<sip:p2.example.com;lr>"]


def test_a_route_with_maddr_sends_to_the_maddr():
    log, _, _ = loose([f"<sip:{US};lr>", "<sip:p2.example.com:5080;maddr=192.0.2.40;lr>"])
    assert "du=sip:192.0.2.40:5080 " in log


def test_a_malformed_route_returns_minus_1():
    log, _, _ = loose(["<sip:>"])
    assert log.startswith("rc=-1 ")


# ------------------------------------------------------------------------------------------------ route params

def test_check_route_param_matches_the_params_of_our_route_with_the_leading_semicolon():
    script = ('route {\n\tloose_route();\n\tif (check_route_param("^;lr;ftag=[0-9]+;nat=yes")) xlog("nat\\n");\n'
              '\tif (!check_route_param("did=")) xlog("no did\\n");\n\tdrop;\n}\n')
    p = proxy(script)
    p.send(request("BYE", to_tag="b7c3", extra=f"Route: <sip:{US};lr;ftag={FTAG};nat=yes>"))
    assert script_lines(p) == ["nat", "no did"]


def test_check_route_param_without_loose_route_returns_minus_1():
    p = proxy('route {\n\tif (!check_route_param("lr")) xlog("none\\n");\n\tdrop;\n}\n')
    p.send(request())
    assert script_lines(p) == ["none"]


@pytest.mark.parametrize("from_tag_matches,expected", [(True, ["downstream"]), (False, ["upstream"])])
def test_is_direction_compares_the_ftag_of_our_route_with_the_from_tag(from_tag_matches, expected):
    script = ('route {\n\tloose_route();\n\tif (is_direction("downstream")) xlog("downstream\\n");\n'
              '\tif (is_direction("upstream")) xlog("upstream\\n");\n\tdrop;\n}\n')
    p = proxy(script)
    ftag = FTAG if from_tag_matches else "other-side"
    p.send(request("BYE", to_tag="b7c3", extra=f"Route: <sip:{US};lr;ftag={ftag}>"))
    assert script_lines(p) == expected


def test_is_direction_without_an_ftag_is_downstream():
    p = proxy('route {\n\tloose_route();\n\tif (is_direction("downstream")) xlog("down\\n");\n\tdrop;\n}\n')
    p.send(request("BYE", to_tag="b7c3", extra=f"Route: <sip:{US};lr>"))
    assert script_lines(p) == ["down"]


def test_is_direction_with_append_fromtag_0_refuses_to_start():
    with pytest.raises(StartupFailure, match="append_fromtag"):
        proxy('route {\n\tif (is_direction("upstream")) drop;\n}\n', 'modparam("rr", "append_fromtag", 0)\n')


# ------------------------------------------------------------------------------------------------ callbacks

def test_callbacks_run_from_loose_route_with_the_params_of_our_route_in_priority_order():
    p = proxy('route {\n\tloose_route();\n\tdrop;\n}\n')
    rr = p.core.modules["rr"]
    seen = []
    rr.register_callback(lambda ctx, params: seen.append(("second", params)), 5)
    rr.register_callback(lambda ctx, params: seen.append(("first", params)), 0)
    p.send(request("BYE", to_tag="b7c3", extra=f"Route: <sip:{US};lr;did=a.b>"))
    p.send(request("BYE", to_tag="b7c3"))  # no Route: no callback
    assert seen == [("first", "lr;did=a.b"), ("second", "lr;did=a.b")]
    assert rr.get_route_param(_last_ctx(p), "did") is None  # per message: a new request starts clean


def _last_ctx(p: Proxy):
    from opensips_py.modules.exports import RouteType
    from opensips_py.script.context import MsgContext
    return MsgContext(None, RouteType.REQUEST, p.core.process)


# ------------------------------------------------------------------------------------------------ mhomed

def test_with_mhomed_the_interface_towards_the_destination_is_used_and_double_record_routes_name_both():
    """SIPssert record-route/03: two interfaces (osbr0/osbr1 as 127.0.52.x/127.10.52.x on loopback)."""
    head = ('socket = udp:127.0.52.1:5060\nsocket = udp:127.10.52.1:5060\nmhomed = yes\n'
            'loadmodule "proto_udp.so"\nloadmodule "sl.so"\nloadmodule "sipmsgops.so"\nloadmodule "rr.so"\n')
    p = Proxy(relay("\trecord_route();", "udp:127.10.52.3:5080"), head=head)
    out = only(p.send(request(), src=("127.0.52.101", 5040)))
    assert (out.socket.host, out.host) == ("127.10.52.1", "127.10.52.3")
    assert parsed(out).header_values("record-route") == [f"<sip:127.10.52.1;r2=on;lr;ftag={FTAG}>",
                                                         f"<sip:127.0.52.1;r2=on;lr;ftag={FTAG}>"]
    assert parsed(out).via1.host == "127.10.52.1"


def test_without_mhomed_the_first_socket_sends_and_one_record_route_is_enough():
    head = ('socket = udp:127.0.52.1:5060\nsocket = udp:127.10.52.1:5060\n'
            'loadmodule "proto_udp.so"\nloadmodule "sl.so"\nloadmodule "sipmsgops.so"\nloadmodule "rr.so"\n')
    p = Proxy(relay("\trecord_route();", "udp:127.10.52.3:5080"), head=head)
    out = only(p.send(request(), src=("127.0.52.101", 5040)))
    assert out.socket.host == "127.0.52.1" and len(parsed(out).header_values("record-route")) == 1
