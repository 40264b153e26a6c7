"""TCP segments of a pcap file, with their capture time in nanoseconds.

Reads the classic pcap format as tcpdump writes it (``-w``), little-endian, with
nanosecond (``--time-stamp-precision=nano``) or microsecond stamps, on Ethernet, Linux
cooked (``-i any``, SLL) or Linux cooked v2 (SLL2: with the interface's index, which tells
loopback from a pod's veth) links; IPv4 only (meshbench's pods use 198.18.0.0/15).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PCAP_NS_MAGIC = 0xA1B23C4D
PCAP_US_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
ETHERTYPE_IPV4 = 0x0800
IPPROTO_TCP = 6
PACKET_OUTGOING = 4
"""Linux packet type of a packet this host sent (the capture's other copies came in)."""
LOOPBACK_IFINDEX = 1
"""The loopback interface's index in every network namespace."""

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment as captured."""

    t_ns: int  # capture time, epoch nanoseconds
    iface: int  # interface index (SLL2); 0 where the link type has none
    outgoing: bool  # sent by this host (Linux packet type), False when unknown
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    flags: int
    payload: bytes


def _ipv4(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def read_segments(path: Path) -> Iterator[Segment]:
    """Every IPv4 TCP segment of a pcap file, in file order."""
    data = path.read_bytes()
    if len(data) < 24:
        return
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    if magic == PCAP_NS_MAGIC:
        scale = 1
    elif magic == PCAP_US_MAGIC:
        scale = 1000
    else:
        raise ValueError(f"{path}: not a little-endian pcap file (magic {magic:#x})")
    if link not in (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2):
        raise ValueError(f"{path}: link type {link} is not Ethernet, SLL or SLL2")
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack("<IIII", data[at : at + 16])
        frame = data[at + 16 : at + 16 + incl]
        at += 16 + incl
        iface, outgoing = 0, False
        if link == LINKTYPE_ETHERNET:
            ethertype, ip = struct.unpack("!H", frame[12:14])[0], frame[14:]
        elif link == LINKTYPE_LINUX_SLL:
            pkttype, ethertype = (
                struct.unpack("!H", frame[0:2])[0],
                struct.unpack("!H", frame[14:16])[0],
            )
            outgoing, ip = pkttype == PACKET_OUTGOING, frame[16:]
        else:
            ethertype, _, iface = struct.unpack("!HHI", frame[0:8])
            outgoing, ip = frame[10] == PACKET_OUTGOING, frame[20:]
        if ethertype != ETHERTYPE_IPV4 or len(ip) < 20 or ip[9] != IPPROTO_TCP:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        yield Segment(
            t_ns=sec * 1_000_000_000 + frac * scale,
            iface=iface,
            outgoing=outgoing,
            src=_ipv4(ip[12:16]),
            sport=sport,
            dst=_ipv4(ip[16:20]),
            dport=dport,
            seq=seq,
            flags=tcp[13],
            payload=bytes(tcp[doff:]),
        )
