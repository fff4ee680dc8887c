"""A presence server on the virtual network (the SIPssert presence/01 script), PUBLISH/SUBSCRIBE builders."""
from __future__ import annotations

import itertools

from opensips_py.mi import MIHost, build_registry
from opensips_py.sip import parse_message
from tests.runtime.support import Proxy, sip

WATCHER = ("192.0.2.30", 5070)
PUBLISHER = ("192.0.2.10", 5060)
_branches = itertools.count(1)

SCRIPT = """
route {
    if (!is_method("SUBSCRIBE|PUBLISH")) { sl_send_reply(488, "Not Acceptable Here"); exit; }
    if (!t_newtran()) { sl_reply_error(); exit; }
    if (is_method("PUBLISH")) {
        handle_publish();
        xlog("publish rc=$rc\\n");
    } else if (is_method("SUBSCRIBE")) {
        handle_subscribe();
        xlog("subscribe rc=$rc\\n");
    }
}
"""


def pidf(entity: str = "sip:alice@example.com", tuple_id: str = "t1", basic: str = "open",
         person: str | None = None, note: str | None = None) -> str:
    extra = ""
    if person:
        extra = (f"<dm:person id='{person}'><rpid:activities><rpid:busy/></rpid:activities>"
                 + (f"<dm:note>{note}</dm:note>" if note else "") + "</dm:person>")
    return ("<?xml version='1.0' encoding='UTF-8'?><presence xmlns='urn:ietf:params:xml:ns:pidf' "
            "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' "
            f"entity='{entity}'><tuple id='{tuple_id}'><status><basic>{basic}</basic></status></tuple>"
            f"{extra}</presence>")


def proxy(db, *, params: str = "", force_active: int = 1, script: str = SCRIPT) -> Proxy:
    head = (f'loadmodule "tm.so"\nloadmodule "db_sqlite.so"\nloadmodule "xcap.so"\nloadmodule "presence.so"\n'
            f'loadmodule "presence_xml.so"\nloadmodule "sipmsgops.so"\n'
            f'modparam("xcap|presence", "db_url", "sqlite://{db}")\n'
            f'modparam("presence_xml", "force_active", {force_active})\n' + params)
    return Proxy(head + script)


def publish(body: str | None = None, *, etag: str | None = None, expires: int | None = 60,
            event: str | None = "presence", user: str = "alice", call_id: str = "pub-1", cseq: int = 1,
            content_type: str = "application/pidf+xml") -> bytes:
    body = pidf() if body is None else body
    lines = [f"PUBLISH sip:{user}@example.com SIP/2.0",
             f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKpub{next(_branches)}",
             "Max-Forwards: 70", f"To: <sip:{user}@example.com>", f"From: <sip:{user}@example.com>;tag=p1",
             f"Call-ID: {call_id}", f"CSeq: {cseq} PUBLISH", f"Contact: <sip:{user}@192.0.2.10>"]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if event is not None:
        lines.append(f"Event: {event}")
    if etag is not None:
        lines.append(f"SIP-If-Match: {etag}")
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body.encode())}")
    return sip("\n".join(lines) + "\n\n" + body)


def subscribe(*, expires: int | None = 3600, event: str = "presence", to_tag: str | None = None,
              call_id: str = "sub-1", cseq: int = 1, user: str = "alice", watcher: str = "bob",
              record_route: str | None = None) -> bytes:
    lines = [f"SUBSCRIBE sip:{user}@example.com SIP/2.0",
             f"Via: SIP/2.0/UDP {WATCHER[0]}:{WATCHER[1]};branch=z9hG4bKsub{next(_branches)}",
             "Max-Forwards: 70", f"To: <sip:{user}@example.com>" + (f";tag={to_tag}" if to_tag else ""),
             f'From: "{watcher}" <sip:{watcher}@example.com>;tag=w1', f"Call-ID: {call_id}",
             f"CSeq: {cseq} SUBSCRIBE", f"Contact: <sip:{watcher}@{WATCHER[0]}:{WATCHER[1]}>",
             f"Event: {event}", "Accept: application/pidf+xml"]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if record_route:
        lines.append(f"Record-Route: {record_route}")
    lines.append("Content-Length: 0")
    return sip("\n".join(lines) + "\n\n")


def split(sends):
    """(replies, requests) among the proxy's sends, parsed."""
    msgs = [parse_message(s.data) for s in sends]
    return [m for m in msgs if not m.is_request], [m for m in msgs if m.is_request]


def answer(p: Proxy, notify, code: int = 200, reason: str = "OK"):
    """The watcher's reply to a NOTIFY, sent back to the proxy."""
    lines = [f"SIP/2.0 {code} {reason}"] + [f"Via: {v}" for v in notify.header_values("Via")]
    lines += [f"From: {notify.header('From')}", f"To: {notify.header('To')}",
              f"Call-ID: {notify.call_id}", f"CSeq: {notify.header('CSeq')}", "Content-Length: 0"]
    return p.send(sip("\n".join(lines) + "\n\n"), src=WATCHER)


def mi(p: Proxy, command: str, params=None):
    if getattr(p.core, "mi", None) is None:
        p.core.mi = build_registry(MIHost(), p.core.modules.values())
    return p.core.mi.execute(command, params)
