"""A tiny stand-in for `opensips-py -f CFG -l udp:IP:PORT` used only by the runner's tests: a UDP registrar
that answers REGISTER 200 and keeps the contacts, with our real MI (httpd + mi_http on IP:8888) serving
`ul_dump` in OpenSIPS's shape. It lets the runner run a real corpus scenario (sipp + the python-opensips
check script) before the real SIP runtime can. SIGTERM ends it with status 0, as OpenSIPS does."""
from __future__ import annotations

import re
import signal
import sys
import time

import trio

from opensips_py.mi import MIHost, build_registry
from opensips_py.mi.httpd import HTTPServer
from opensips_py.mi.mi_http import mi_http_handler

contacts: dict[str, tuple[str, float]] = {}  # AOR -> (contact, expiry)


class Usrloc:
    class exports:
        name = "usrloc"
        mi = ()
        stats = ()

    def mi_commands(self):
        def ul_dump(params):
            now = time.time()
            aors = [{"AOR": aor, "Contacts": [{"Contact": c, "Expires": int(exp - now)}]}
                    for aor, (c, exp) in contacts.items() if exp > now]
            return {"Domains": [{"name": "location", "hash_size": 512, "AORs": aors}]}
        return {"ul_dump": ul_dump}


def reply_to(request: str) -> str:
    lines = request.split("\r\n")
    headers = [l for l in lines[1:] if re.match(r"(?i)(via|from|call-id|cseq):", l)]
    to = next(l for l in lines if re.match(r"(?i)to:", l))
    contact = next((l for l in lines if re.match(r"(?i)contact:", l)), None)
    expires = next((l.split(":", 1)[1].strip() for l in lines if re.match(r"(?i)expires:", l)), "3600")
    aor = re.search(r"<sip:([^>;]+)>", to).group(1)
    if contact and (param := re.search(r"(?i);expires=(\d+)", contact)):
        expires = param.group(1)
    if contact:
        if int(expires) == 0:
            contacts.pop(aor, None)
        else:
            contacts[aor] = (contact.split(":", 1)[1].strip(), time.time() + int(expires))
    out = ["SIP/2.0 200 OK", *headers, to + ";tag=standin"]
    if contact and int(expires):
        out.append(f"{contact};expires={expires}")
    return "\r\n".join(out + ["Content-Length: 0", "", ""])


async def main(ip: str, port: int) -> None:
    registry = build_registry(MIHost(), [Usrloc()])
    http = HTTPServer(ip, 8888)
    http.add_root("mi", mi_http_handler(lambda: registry))
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((ip, port))
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(http.serve)

            async def sip():
                while True:
                    data, peer = await sock.recvfrom(65535)
                    text = data.decode(errors="replace")
                    if text.startswith("REGISTER "):
                        await sock.sendto(reply_to(text).encode(), peer)
            nursery.start_soon(sip)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                return


if __name__ == "__main__":
    argv = sys.argv[1:]
    socket_spec = argv[argv.index("-l") + 1]
    _, ip, port = socket_spec.split(":")
    trio.run(main, ip, int(port))
    sys.exit(0)
