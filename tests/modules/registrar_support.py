"""A registrar proxy on the virtual network, REGISTER/INVITE builders and MI access for the registrar tests."""
from __future__ import annotations

from opensips_py.mi import MIHost, build_registry
from opensips_py.sip import parse_message
from tests.runtime.support import Proxy, sip

MODULES = """loadmodule "sipmsgops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
"""

ROUTE = """
route {
    if (is_method("REGISTER")) {
        if (!save("location")) xlog("save failed $rc\\n");
        exit;
    }
    $var(rc) = lookup("location");
    xlog("lookup $var(rc) ru=$ru du=$du branches=$(branch(uri)[*])\\n");
    if ($var(rc) < 0) { sl_send_reply(404, "Not Found"); exit; }
    sl_send_reply(302, "Moved");
}
"""


def proxy(params: str = "", route: str = ROUTE, modules: str = MODULES) -> Proxy:
    return Proxy(modules + params + route)


def register(user: str = "alice", contacts: list[str] | None = None, *, expires: int | None = None,
             call_id: str = "reg-1@192.0.2.10", cseq: int = 1, extra: str = "", domain: str = "example.com",
             src_port: int = 5060) -> bytes:
    contacts = [f"<sip:{user}@192.0.2.10:{src_port}>"] if contacts is None else contacts
    lines = [f"REGISTER sip:{domain} SIP/2.0", f"Via: SIP/2.0/UDP 192.0.2.10:{src_port};branch=z9hG4bK-{call_id}-{cseq}",
             "Max-Forwards: 70", f"To: <sip:{user}@{domain}>", f"From: <sip:{user}@{domain}>;tag=f{cseq}",
             f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER"]
    lines += [f"Contact: {c}" for c in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if extra:
        lines += extra.strip("\n").split("\n")
    lines.append("Content-Length: 0")
    return sip("\n".join(lines) + "\n\n")


def invite(user: str = "alice", domain: str = "example.com", extra: str = "", method: str = "INVITE") -> bytes:
    lines = [f"{method} sip:{user}@{domain} SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK-inv",
             "Max-Forwards: 70", f"To: <sip:{user}@{domain}>", "From: <sip:bob@example.com>;tag=b1",
             "Call-ID: call-1@192.0.2.99", f"CSeq: 1 {method}", "Contact: <sip:bob@192.0.2.99>"]
    if extra:
        lines += extra.strip("\n").split("\n")
    lines.append("Content-Length: 0")
    return sip("\n".join(lines) + "\n\n")


def reply(p: Proxy, data: bytes, src=("192.0.2.10", 5060)):
    out = p.send(data, src=src)
    assert len(out) == 1, out
    return parse_message(out[0].data)


def mi(p: Proxy, command: str, params=None):
    if getattr(p.core, "mi", None) is None:
        p.core.mi = build_registry(MIHost(), p.core.modules.values())
    return p.core.mi.execute(command, params)


def lookup_log(p: Proxy) -> str:
    lines = [line for line in p.script_logs() if line.startswith("lookup")]
    return lines[-1] if lines else ""
