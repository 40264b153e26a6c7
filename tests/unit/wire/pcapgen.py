"""Synthetic captures for the wire readers' tests: pcap files (nanosecond, Linux cooked v2)
of TCP connections whose bytes and timings the test chooses."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from meshbench.wire.pcap import ACK, FIN, PACKET_OUTGOING, SYN

LINKTYPE_LINUX_SLL2 = 276


def _ip(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


def frame(
    src: tuple[str, int],
    dst: tuple[str, int],
    seq: int,
    flags: int,
    payload: bytes = b"",
    iface: int = 2,
    outgoing: bool = False,
) -> bytes:
    """One SLL2 frame of an IPv4 TCP segment."""
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, _ip(src[0]), _ip(dst[0])
    )
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, iface, 1, PACKET_OUTGOING if outgoing else 0, 6, b"")
    return sll2 + ip + tcp


@dataclass
class Conn:
    """One connection being captured: its endpoints and the next sequence numbers."""

    client: tuple[str, int]
    server: tuple[str, int]
    iface: int = 2
    seq_c: int = 1000
    seq_s: int = 50_000


@dataclass
class Capture:
    """Frames with their capture times (ns), written as a pcap file."""

    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def open(self, c: Conn, t_ns: int) -> None:
        self.frames.append((t_ns, frame(c.client, c.server, c.seq_c, SYN, iface=c.iface)))
        self.frames.append((t_ns + 1, frame(c.server, c.client, c.seq_s, SYN | ACK, iface=c.iface)))
        c.seq_c += 1
        c.seq_s += 1

    def send(self, c: Conn, t_ns: int, data: bytes, from_client: bool, mss: int = 1400) -> None:
        """``data`` in segments of at most ``mss`` bytes, 1 µs apart."""
        for i in range(0, len(data), mss):
            chunk = data[i : i + mss]
            if from_client:
                f = frame(c.client, c.server, c.seq_c, ACK, chunk, c.iface)
                c.seq_c = (c.seq_c + len(chunk)) % 2**32
            else:
                f = frame(c.server, c.client, c.seq_s, ACK, chunk, c.iface)
                c.seq_s = (c.seq_s + len(chunk)) % 2**32
            self.frames.append((t_ns + i // mss * 1000, f))

    def close(self, c: Conn, t_ns: int) -> None:
        self.frames.append((t_ns, frame(c.client, c.server, c.seq_c, FIN | ACK, iface=c.iface)))

    def write(self, path: Path) -> Path:
        out = bytearray(
            struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, LINKTYPE_LINUX_SLL2)
        )
        for t_ns, f in self.frames:
            out += struct.pack("<IIII", t_ns // 1_000_000_000, t_ns % 1_000_000_000, len(f), len(f))
            out += f
        path.write_bytes(bytes(out))
        return path
