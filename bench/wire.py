"""Request-to-reply times on the wire: a neutral clock for every client at once.

A packet capture (tcpdump) on the load pod's interface stamps each request as it leaves
and each reply as it arrives, in the kernel, whichever tool sent it. The time from a
request's first segment to its reply's first segment is the exchange's round trip on the
wire: the pods' and sidecars' time, without any client's own scheduling, parsing or
wake-up. Comparing a tool's figures with the wire figures of its own requests tells an
instrument's error from a real difference in what the pods did with its requests.

Each client connection is attributed to a tool by its first request's bytes (the
``classify`` function the caller gives). Our replies fit one segment (checked: one
``recv`` per reply), so the first reply segment is the whole reply.
"""

from __future__ import annotations

import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SNAP_BYTES = 256
"""Bytes captured per packet: the headers and the start of a request, enough to tell the
tools apart."""
PCAP_NS_MAGIC = 0xA1B23C4D
"""pcap file magic with nanosecond timestamps (tcpdump --time-stamp-precision=nano)."""
ETHERTYPE_IPV4 = 0x0800
IPPROTO_TCP = 6

Exchanges = dict[str, list[tuple[float, float]]]
"""Per tool: (request sent, epoch s; round trip on the wire, ms) for every exchange."""


class Capture:
    """tcpdump on ``iface`` inside a pod (``prefix``: the argv prefix that enters its
    namespace), pinned to ``cpus``, writing ``path``, until :meth:`stop`."""

    def __init__(self, prefix: Sequence[str], iface: str, path: Path, cpus: str) -> None:
        self.path = path
        self.started_s = time.time()
        argv = [*prefix, "taskset", "-c", cpus, "tcpdump", "-i", iface, "-s", str(SNAP_BYTES)]
        argv += ["-w", str(path), "--time-stamp-precision=nano", "-q", "tcp"]
        self._proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)


def _packets(pcap: Path) -> list[tuple[float, int, int, bytes]]:
    """(epoch s, source port, destination port, TCP payload) for every IPv4 TCP packet."""
    data = pcap.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != PCAP_NS_MAGIC:
        raise ValueError(f"{pcap}: not a little-endian nanosecond pcap (magic {magic:#x})")
    out: list[tuple[float, int, int, bytes]] = []
    at = 24  # global header
    while at + 16 <= len(data):
        sec, nsec, incl, _orig = struct.unpack("<IIII", data[at : at + 16])
        frame = data[at + 16 : at + 16 + incl]
        at += 16 + incl
        if len(frame) < 14 + 20 or struct.unpack("!H", frame[12:14])[0] != ETHERTYPE_IPV4:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != IPPROTO_TCP:
            continue
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:]
        sport, dport = struct.unpack("!HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        payload_len = total - ihl - doff
        if payload_len > 0:
            out.append((sec + nsec / 1e9, sport, dport, tcp[doff : doff + payload_len]))
    return out


def exchanges(pcap: Path, server_port: int, classify: Callable[[bytes], str]) -> Exchanges:
    """Every request-to-reply exchange in ``pcap`` with the server on ``server_port``,
    grouped by tool (``classify`` names the tool from a connection's first request)."""
    tool_of: dict[int, str] = {}
    pending: dict[int, float] = {}
    got: Exchanges = {}
    for t, sport, dport, payload in _packets(pcap):
        if dport == server_port:  # a request (its first segment)
            if sport not in tool_of:
                tool_of[sport] = classify(payload)
            pending.setdefault(sport, t)
        elif sport == server_port and dport in pending:  # the reply's first segment
            sent = pending.pop(dport)
            got.setdefault(tool_of[dport], []).append((sent, (t - sent) * 1e3))
    return got
