"""Call flows and helpers shared by the differential tests and the benchmarks.

`opensips_flags` turns an OpenSIPS-style flag string into the ng keys the rtpengine module sends
(reference: opensips-modules.md §9.2); `normalise` removes what legitimately differs between two relays
(ports, ICE credentials, foundations, fingerprints, SDES keys, o= version) while keeping the structure
(which port is the RTP port, which one is RTP+1, that a re-offer kept the same port).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Callable

TRANSPORTS = {"RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF"}
REPLACE = {"origin": "origin", "session-connection": "session-connection", "username": "username",
           "SDP-version": "SDP version", "zero-address": "zero address", "session-name": "session name"}


def opensips_flags(text: str) -> dict:
    """'trust-address replace-origin ICE=force RTP/AVP' → the ng dictionary entries."""
    out: dict = {}
    for token in text.split():
        if token in TRANSPORTS:
            out["transport-protocol"] = token
        elif token.startswith("replace-"):
            out.setdefault("replace", []).append(REPLACE[token[len("replace-"):]])
        elif token.startswith("rtcp-mux-"):
            out.setdefault("rtcp-mux", []).append(token[len("rtcp-mux-"):])
        elif "=" in token:
            key, value = token.split("=", 1)
            if value.startswith("[") and value.endswith("]"):
                out[key] = [v for v in value[1:-1].split(",") if v]
            else:
                out[key] = value
        else:
            out.setdefault("flags", []).append(token)
    return out


@dataclass
class Step:
    command: str
    sdp: str | None
    from_tag: str
    to_tag: str | None = None
    flags: str = ""
    edit: Callable[[str], str] | None = None
    via_branch: str | None = None
    extra: dict = field(default_factory=dict)


def run_flow(client, steps: list[Step], load_sdp: Callable[[str], str]) -> list[dict]:
    """Send the steps with a fresh Call-ID; return the replies."""
    call_id = f"diff-{uuid.uuid4()}"
    replies = []
    for step in steps:
        document: dict = {"command": step.command, "call-id": call_id, "from-tag": step.from_tag,
                          "received-from": ["IP4", "127.0.0.1"]}
        if step.to_tag:
            document["to-tag"] = step.to_tag
        if step.via_branch:
            document["via-branch"] = step.via_branch
        if step.sdp is not None:
            sdp = load_sdp(step.sdp)
            if step.edit is not None:
                sdp = step.edit(sdp)
            document["sdp"] = sdp
        document.update(opensips_flags(step.flags))
        document.update(step.extra)
        replies.append(client.send(document))
    client.send({"command": "delete", "call-id": call_id, "delete-delay": 0})   # leave nothing behind
    return replies


class Normaliser:
    """Replaces relay-chosen values with stable tokens, consistently across one flow."""

    def __init__(self, port_min: int, port_max: int) -> None:
        self.port_min = port_min
        self.port_max = port_max
        self.ports: dict[int, str] = {}
        self.tokens: dict[tuple[str, str], str] = {}

    def _port(self, port: int, rtp_port: int | None = None) -> str:
        """A token for a relay port; a port right above the media's RTP port is written RTP+1."""
        if not self.port_min <= port <= self.port_max:
            return str(port)
        if rtp_port is not None and port == rtp_port:
            return "RTP"
        if rtp_port is not None and port == rtp_port + 1:
            return "RTP+1"
        if port not in self.ports:
            self.ports[port] = f"PORT{len(self.ports)}"
        return self.ports[port]

    def _token(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self.tokens:
            self.tokens[key] = f"{kind}{sum(1 for k in self.tokens if k[0] == kind)}"
        return self.tokens[key]

    def sdp(self, text: str) -> list[str]:
        lines = []
        rtp_port: int | None = None
        for line in text.replace("\r\n", "\n").split("\n"):
            match = re.match(r"^(m=\S+ )(\d+)(.*)$", line)
            if match:
                rtp_port = int(match.group(2))
                line = match.group(1) + self._port(rtp_port) + match.group(3)
            line = re.sub(r"^(a=rtcp:)(\d+)", lambda m: m.group(1) + self._port(int(m.group(2)), rtp_port),
                          line)
            match = re.match(r"^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) (.*)$", line)
            if match and self.port_min <= int(match.group(6)) <= self.port_max:
                line = (f"a=candidate:{self._token('FOUNDATION', match.group(1))} {match.group(2)} "
                        f"{match.group(3)} {match.group(4)} {match.group(5)} "
                        f"{self._port(int(match.group(6)), rtp_port)} {match.group(7)}")
            line = re.sub(r" rport (\d+)", lambda m: " rport " + self._port(int(m.group(1)), rtp_port), line)
            line = re.sub(r"^a=ice-ufrag:(.*)$", lambda m: "a=ice-ufrag:" + self._token("UFRAG", m.group(1)),
                          line)
            line = re.sub(r"^a=ice-pwd:(.*)$", lambda m: "a=ice-pwd:" + self._token("PWD", m.group(1)), line)
            line = re.sub(r"^(a=fingerprint:\S+ )(\S+)$", lambda m: m.group(1) + "DIGEST", line)
            line = re.sub(r"inline:[A-Za-z0-9+/=]+", "inline:KEY", line)
            line = re.sub(r"^a=rtpengine:\S+$", "a=rtpengine:INSTANCE", line)
            line = re.sub(r"^(o=\S+ \S+ )(\S+)", lambda m: m.group(1) + "VERSION", line)
            lines.append(line)
        return lines

    def reply(self, reply: dict) -> dict:
        out = {key: value for key, value in reply.items() if key != "sdp"}
        if "sdp" in reply:
            out["sdp"] = self.sdp(reply["sdp"])
        return out
