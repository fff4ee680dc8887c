"""Dialog figures: memory per dialog with 10,000 established calls in one proxy process.

    .venv/bin/python benchmarks/dialog/run.py                 # 10,000 dialogs, plain and with values/profile
    .venv/bin/python benchmarks/dialog/run.py --dialogs 2000 --json out.json

In one process, no sockets: a ProxyCore running a record-routing stateful config with create_dialog() sits on
the virtual network (opensips_py.runtime.virtual) with a callee that answers 180/200 echoing the
Record-Routes. Each call is INVITE, 180, 200 and the caller's ACK through the Route set, so every dialog is
confirmed (state 4), with both legs, its lifetime timer and its table entries. The clock then moves past tm's
wait timer, so the transactions are gone and only dialogs remain. tracemalloc's traced size after minus
before, divided by the dialogs, is the memory per dialog (the Dialog and its two Legs with `__slots__`, their
strings: Call-ID, URIs, tags, contacts, CSeqs, and the dict/heap entries that find and time them).
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from opensips_py.runtime import ProxyCore  # noqa: E402
from opensips_py.runtime.log import Logger  # noqa: E402
from opensips_py.runtime.resolver import Resolver  # noqa: E402
from opensips_py.runtime.virtual import VirtualNetwork, sip  # noqa: E402
from opensips_py.sip import parse_message  # noqa: E402

CONFIG = """log_level = -1
socket = udp:192.0.2.1:5060
loadmodule "proto_udp.so"
loadmodule "sl.so"
loadmodule "signaling.so"
loadmodule "tm.so"
loadmodule "sipmsgops.so"
loadmodule "rr.so"
loadmodule "dialog.so"
modparam("dialog", "profiles_with_value", "caller")

route {{
    if (has_totag()) {{
        if (is_method("ACK") && t_check_trans()) {{ t_relay(); exit; }}
        if (loose_route()) t_relay();
        exit;
    }}
    create_dialog();
{extra}
    record_route();
    $du = "sip:192.0.2.20:5060";
    t_relay();
}}
"""

EXTRAS = {
    "plain": "",
    "values+profile": '    $dlg_val(account) = "acc-" + $ci;\n    $dlg_val(billing) = 1;\n'
                      '    set_dlg_profile("caller", $fU);',
}


def _reply(msg, code: int, reason: str) -> bytes:
    lines = [f"SIP/2.0 {code} {reason}"] + [f"Via: {v}" for v in msg.header_values("via")]
    lines += [f"Record-Route: {r}" for r in msg.header_values("record-route")]
    lines += [f"To: {msg.header('to')};tag=callee-{msg.call_id[:8]}", f"From: {msg.header('from')}",
              f"Call-ID: {msg.call_id}", f"CSeq: {msg.header('cseq')}", "Contact: <sip:bob@192.0.2.20:5060>",
              "Content-Length: 0"]
    return sip("\n".join(lines) + "\n\n")


def callee(data: bytes, src) -> list[bytes]:
    msg = parse_message(data)
    if not msg.is_request or msg.method != "INVITE":
        return []
    return [_reply(msg, 180, "Ringing"), _reply(msg, 200, "OK")]


def invite(n: int) -> bytes:
    return sip(f"""INVITE sip:bob@biloxi.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv{n}
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example>
From: Alice {n} <sip:alice{n}@atlanta.example>;tag=caller{n}
Call-ID: {n:08d}-3848276298220188511@atlanta.example
CSeq: 1 INVITE
Contact: <sip:alice{n}@192.0.2.10:5060>
Content-Length: 0

""")


def ack(n: int, route: str) -> bytes:
    return sip(f"""ACK sip:bob@192.0.2.20:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack{n}
Max-Forwards: 70
Route: {route}
To: Bob <sip:bob@biloxi.example>;tag=callee-{n:08d}
From: Alice {n} <sip:alice{n}@atlanta.example>;tag=caller{n}
Call-ID: {n:08d}-3848276298220188511@atlanta.example
CSeq: 1 ACK
Content-Length: 0

""")


def measure(dialogs: int, variant: str) -> dict:
    core = ProxyCore.from_text(CONFIG.format(extra=EXTRAS[variant]), resolver=Resolver(system=False),
                               logger=Logger(-1, sink=lambda line: None))
    net = VirtualNetwork(core)
    net.attach("192.0.2.20", 5060, callee)
    net.start()
    module = core.modules["dialog"]
    # warm up (imports, caches), then forget it
    route = None
    for n in range(50):
        sent = net.send(invite(10_000_000 + n))
        ok = next(parse_message(s.data) for s in sent if s.data.startswith(b"SIP/2.0 200"))
        route = ok.header_values("record-route")[0]
        net.send(ack(10_000_000 + n, route))
    net.advance(40)
    for dialog in list(module.table):
        module.table.remove(dialog)
    net.sent.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    for n in range(dialogs):
        sent = net.send(invite(n))
        ok = next(parse_message(s.data) for s in sent if s.data.startswith(b"SIP/2.0 200"))
        net.send(ack(n, ok.header_values("record-route")[0]))
    elapsed = time.perf_counter() - started
    net.advance(40)  # past tm's wait timer: only the dialogs remain
    net.sent.clear()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    states = {}
    for dialog in module.table:
        states[dialog.state] = states.get(dialog.state, 0) + 1
    tm = core.modules["tm"]
    return {"variant": variant, "dialogs": len(module.table), "states": states,
            "bytes_per_dialog": round((after - before) / max(1, len(module.table))),
            "active_dialogs": module.stats()["active_dialogs"],
            "tm_transactions_left": len(getattr(getattr(tm, "layer", None), "table", ()) or ()),
            "calls_per_second_in_memory": round(dialogs / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialogs", type=int, default=10_000)
    parser.add_argument("--variants", default="plain,values+profile")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = [measure(args.dialogs, v) for v in args.variants.split(",")]
    for r in results:
        print(f"{r['variant']:>15}: {r['dialogs']} dialogs {r['states']}, {r['bytes_per_dialog']} bytes per dialog "
              f"(tm transactions left: {r['tm_transactions_left']}; {r['calls_per_second_in_memory']} calls/s "
              f"set up in memory under tracemalloc)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
