"""A minimal capture reader for the tests: the SIP-looking UDP payloads of a pcap or pcapng file.

Only what the corpus captures need: Ethernet, Linux SLL and raw IP link types, IPv4 and IPv6 (unfragmented),
UDP. TCP streams and IP fragments are skipped. The real capture reader belongs to `opensips_py.replay`.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

_SIP_STARTS = (b"SIP/2.0 ", b"INVITE ", b"ACK ", b"BYE ", b"CANCEL ", b"OPTIONS ", b"REGISTER ", b"PRACK ",
               b"SUBSCRIBE ", b"NOTIFY ", b"PUBLISH ", b"INFO ", b"REFER ", b"MESSAGE ", b"UPDATE ")


def _packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(link type, frame) for every packet of a pcap or pcapng file."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        linktype = struct.unpack(endian + "I", data[20:24])[0]
        pos = 24
        while pos + 16 <= len(data):
            caplen = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
            yield linktype, data[pos + 16:pos + 16 + caplen]
            pos += 16 + caplen
        return
    if magic != b"\x0a\x0d\x0d\x0a":
        raise ValueError("not a pcap or pcapng file")
    endian = "<"
    linktypes: list[int] = []
    pos = 0
    while pos + 12 <= len(data):
        block_type, length = struct.unpack(endian + "II", data[pos:pos + 8])
        if block_type == 0x0A0D0D0A:                      # section header: learn the byte order
            endian = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            block_type, length = struct.unpack(endian + "II", data[pos:pos + 8])
            linktypes = []
        elif block_type == 1:                             # interface description
            linktypes.append(struct.unpack(endian + "H", data[pos + 8:pos + 10])[0])
        elif block_type == 6:                             # enhanced packet
            interface, _, _, caplen = struct.unpack(endian + "IIII", data[pos + 8:pos + 24])
            yield linktypes[interface], data[pos + 28:pos + 28 + caplen]
        if length < 12:
            return
        pos += length


def _ip_payload(linktype: int, frame: bytes) -> bytes | None:
    if linktype == 1:                                     # Ethernet (with 802.1Q tags)
        ethertype, offset = struct.unpack(">H", frame[12:14])[0], 14
        while ethertype == 0x8100:
            ethertype, offset = struct.unpack(">H", frame[offset + 2:offset + 4])[0], offset + 4
        return frame[offset:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == 113:                                   # Linux cooked capture
        return frame[16:] if struct.unpack(">H", frame[14:16])[0] in (0x0800, 0x86DD) else None
    if linktype in (101, 228, 229):                       # raw IP
        return frame
    return None


def _transport_segment(packet: bytes) -> tuple[int, bytes, bytes] | None:
    """(protocol number, source+destination addresses, segment) of an unfragmented IPv4/IPv6 packet."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        header = (packet[0] & 0x0F) * 4
        if struct.unpack(">H", packet[6:8])[0] & 0x3FFF:  # a fragment
            return None
        total = struct.unpack(">H", packet[2:4])[0]
        return packet[9], packet[12:20], packet[header:total]
    if version == 6:
        return packet[6], packet[8:40], packet[40:40 + struct.unpack(">H", packet[4:6])[0]]
    return None


def _udp_payload(packet: bytes) -> bytes | None:
    found = _transport_segment(packet)
    if found is None or found[0] != 17:
        return None
    segment = found[2]
    length = struct.unpack(">H", segment[4:6])[0] if len(segment) >= 8 else 0
    return segment[8:length] if length >= 8 else None


def tcp_streams(path: Path) -> dict[bytes, bytes]:
    """The byte stream of each TCP direction (key: addresses + ports), in sequence order, repeats dropped."""
    streams: dict[bytes, bytearray] = {}
    next_seq: dict[bytes, int] = {}
    for linktype, frame in _packets(path.read_bytes()):
        packet = _ip_payload(linktype, frame)
        found = _transport_segment(packet) if packet is not None else None
        if found is None or found[0] != 6:
            continue
        addresses, segment = found[1], found[2]
        key = addresses + segment[:4]
        seq = struct.unpack(">I", segment[4:8])[0]
        payload = segment[(segment[12] >> 4) * 4:]
        if segment[13] & 0x02:                            # SYN takes one sequence number
            next_seq[key] = seq + 1
            continue
        expected = next_seq.setdefault(key, seq)
        if payload and seq == expected:
            streams.setdefault(key, bytearray()).extend(payload)
            next_seq[key] = seq + len(payload)
    return {key: bytes(data) for key, data in streams.items()}


def sip_datagrams(path: Path) -> list[bytes]:
    """The UDP payloads of the capture that start like a SIP message, in capture order."""
    out = []
    for linktype, frame in _packets(path.read_bytes()):
        packet = _ip_payload(linktype, frame)
        payload = _udp_payload(packet) if packet is not None else None
        if payload and payload.startswith(_SIP_STARTS):
            out.append(payload)
    return out
