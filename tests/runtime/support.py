"""Helpers for the runtime tests: a proxy on the virtual network, and SIP messages with sensible defaults."""
from __future__ import annotations

from opensips_py.runtime import ProxyCore
from opensips_py.runtime.log import Logger
from opensips_py.runtime.resolver import Resolver
from opensips_py.runtime.virtual import VirtualNetwork, sip
from opensips_py.script.context import Send
from opensips_py.sip import Request, Response, parse_message

PROXY = "192.0.2.1"      # the proxy's address in the tests (TEST-NET-1)
UAC = ("192.0.2.10", 5060)
UAS = ("192.0.2.20", 5060)

HEAD = """socket = udp:192.0.2.1:5060
socket = tcp:192.0.2.1:5060
loadmodule "proto_udp.so"
loadmodule "proto_tcp.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "signaling.so"
"""


class Proxy:
    """A ProxyCore from config text, on a VirtualNetwork, with its log lines collected."""

    def __init__(self, config: str, hosts: dict[str, str] | None = None, head: str = HEAD, log_level: int = 4):
        self.logs: list[str] = []
        self.core = ProxyCore.from_text(head + config, name="test.cfg",
                                        resolver=Resolver(hosts=hosts or {}, system=False),
                                        logger=Logger(log_level, sink=self.logs.append))
        self.net = VirtualNetwork(self.core)
        self.net.start()

    def send(self, data: bytes | str, src: tuple[str, int] = UAC, proto: str = "udp") -> list[Send]:
        return self.net.send(data, src, proto=proto)

    @property
    def stats(self) -> dict[str, int]:
        return self.core.stats

    def script_logs(self) -> list[str]:
        """The text of script log lines (xlog), without the time and pid."""
        return [line.split("] ", 1)[1] for line in self.logs if "] " in line and ":core:" not in line
                and ":sl:" not in line]


def request(method: str = "INVITE", ruri: str = "sip:bob@192.0.2.20", *, via: str | None = None,
            branch: str = "z9hG4bK776asdhds", extra: str = "", to_tag: str | None = None,
            call_id: str = "a84b4c76e66710@pc33.atlanta.com", cseq: int = 314159, cseq_method: str | None = None,
            max_forwards: int | None = 70, body: str = "", via_host: str = "192.0.2.10:5060") -> bytes:
    """A request as a UAC at 192.0.2.10 sends it."""
    via_line = via if via is not None else f"SIP/2.0/UDP {via_host};branch={branch}"
    lines = [f"{method} {ruri} SIP/2.0", f"Via: {via_line}"]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    lines += [f"To: Bob <sip:bob@biloxi.com>{';tag=' + to_tag if to_tag else ''}",
              "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
              f"Call-ID: {call_id}",
              f"CSeq: {cseq} {cseq_method or method}",
              "Contact: <sip:alice@192.0.2.10>"]
    if extra:
        lines += extra.strip("\n").split("\n")
    wire_body = body.replace("\r\n", "\n").replace("\n", "\r\n")  # sip() turns the body's line ends to CRLF too
    lines.append(f"Content-Length: {len(wire_body.encode())}")
    return sip("\n".join(lines) + "\n\n" + body)


def response(status: int, reason: str, vias: list[str], *, to_tag: str | None = "b7c3", cseq: str = "314159 INVITE",
             call_id: str = "a84b4c76e66710@pc33.atlanta.com") -> bytes:
    lines = [f"SIP/2.0 {status} {reason}"] + [f"Via: {v}" for v in vias]
    lines += [f"To: Bob <sip:bob@biloxi.com>{';tag=' + to_tag if to_tag else ''}",
              "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
              f"Call-ID: {call_id}", f"CSeq: {cseq}", "Content-Length: 0"]
    return sip("\n".join(lines) + "\n\n")


def parsed(output: Send) -> Request | Response:
    return parse_message(output.data)


def only(sends: list[Send]) -> Send:
    assert len(sends) == 1, [s.data[:60] for s in sends]
    return sends[0]
