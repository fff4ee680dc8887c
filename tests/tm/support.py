"""Helpers for the tm tests: a proxy with tm on the virtual network, and scriptable UAS peers.

A `Callee` answers what the proxy sends it with the replies a test chooses (by method), remembers every
message it got, and can stay silent (to test retransmissions and timeouts).
"""
from __future__ import annotations

import re

from opensips_py.sip import Request, build_reply, parse_message
from tests.runtime.support import HEAD, PROXY, UAC, UAS, Proxy, parsed, request, response

TM_HEAD = HEAD + 'loadmodule "tm.so"\nloadmodule "sipmsgops.so"\n'
UAS2 = ("192.0.2.30", 5060)


class Callee:
    """A UAS at `address`: `answers[method]` is a list of (code, to_tag) or a function(msg) -> list[bytes]."""

    def __init__(self, proxy: Proxy, address: tuple[str, int] = UAS, answers: dict | None = None,
                 proto: str = "udp") -> None:
        self.address = address
        self.clock = proxy.net.clock
        self.received: list[Request] = []
        self.times: list[float] = []  # when each request arrived (the virtual clock)
        self.answers = answers if answers is not None else {"INVITE": [(100, None), (180, "callee"), (200, "callee")],
                                                             "BYE": [(200, None)], "CANCEL": [(200, None)],
                                                             "OPTIONS": [(200, "callee")]}
        proxy.net.attach(address[0], address[1], self.handle, proto=proto)

    def handle(self, data: bytes, src: tuple[str, int]) -> list[bytes]:
        msg = parse_message(data)
        if not msg.is_request:
            return []
        self.received.append(msg)
        self.times.append(self.clock.now)
        answer = self.answers.get(msg.method)
        if answer is None:
            return []
        if callable(answer):
            return answer(msg) or []
        return [build_reply(msg, code, to_tag=tag) for code, tag in answer]

    def methods(self) -> list[str]:
        return [m.method for m in self.received]


_MODULE_LINE = re.compile(r"^(ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DBG):\w+:")


class TMProxy(Proxy):
    def script_logs(self) -> list[str]:
        """The script's own log lines (xlog), without the core's and modules' lines."""
        return [text for text in super().script_logs() if not _MODULE_LINE.match(text)]

    def module_logs(self, module: str = "tm") -> list[str]:
        return [line.split(f":{module}:", 1)[1] for line in self.logs if f":{module}:" in line]


def tm_proxy(config: str, head_extra: str = "", **kwargs) -> TMProxy:
    """A proxy with tm and sipmsgops loaded (and `head_extra` lines: more loadmodule/modparam)."""
    return TMProxy(config, head=TM_HEAD + head_extra, **kwargs)


def to(sends, address: tuple[str, int]):
    """The messages the proxy sent to `address`, parsed."""
    return [parsed(s) for s in sends if (s.host, s.port) == address]


def statuses(sends, address: tuple[str, int] = UAC) -> list[int]:
    return [m.status for m in to(sends, address) if not m.is_request]


__all__ = ["Callee", "tm_proxy", "to", "statuses", "request", "response", "parsed", "UAC", "UAS", "UAS2", "PROXY",
           "TM_HEAD"]
