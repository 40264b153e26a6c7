"""TCP connections of a capture as two byte streams each, every byte traceable to the
capture time of the segment that first carried it.

Retransmitted bytes are kept once (their first capture); segments captured out of order
wait for the bytes before them. A connection whose opening handshake was captured is
``opened``: its streams start at their first byte, which TLS and HTTP/2 need (their state
is built from the start); one seen only mid-way starts at the first byte captured.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from meshbench.wire.pcap import ACK, SYN, Segment

Endpoint = tuple[str, int]

_SEQ_MOD = 2**32


@dataclass
class Stream:
    """One direction of a connection: its bytes in order, and where each segment began."""

    data: bytearray = field(default_factory=bytearray)
    offsets: list[int] = field(default_factory=list)  # start of each segment's new bytes
    times_ns: list[int] = field(default_factory=list)  # ... and its capture time
    _next: int | None = None  # sequence number of the next byte expected
    _waiting: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # seq: (t, bytes)

    def time_at(self, offset: int) -> int:
        """Capture time (ns) of the segment that carried byte ``offset``."""
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.times_ns[max(i, 0)]

    def _append(self, t_ns: int, payload: bytes) -> None:
        self.offsets.append(len(self.data))
        self.times_ns.append(t_ns)
        self.data += payload

    def add(self, seq: int, t_ns: int, payload: bytes) -> None:
        """A segment's payload at sequence number ``seq``."""
        if self._next is None:
            self._next = seq
        ahead = (seq - self._next) % _SEQ_MOD
        if ahead >= _SEQ_MOD // 2:  # starts before what we have: a retransmission
            overlap = (self._next - seq) % _SEQ_MOD
            if overlap >= len(payload):
                return
            payload, seq, ahead = payload[overlap:], self._next, 0
        if ahead:  # a gap: keep it until the bytes before it arrive
            if seq not in self._waiting:
                self._waiting[seq] = (t_ns, payload)
            return
        self._append(t_ns, payload)
        self._next = (seq + len(payload)) % _SEQ_MOD
        while self._next in self._waiting:
            t, more = self._waiting.pop(self._next)
            self._append(t, more)
            self._next = (self._next + len(more)) % _SEQ_MOD


@dataclass
class Flow:
    """One TCP connection: who opened it, on which interface, and its two streams."""

    client: Endpoint
    server: Endpoint
    iface: int
    opened: bool  # its SYN was captured: the streams start at the first byte
    up: Stream = field(default_factory=Stream)  # client -> server
    down: Stream = field(default_factory=Stream)  # server -> client


def flows(segments: Iterable[Segment], server_ports: Iterable[int] = ()) -> list[Flow]:
    """Reassemble every connection. The client is the SYN's sender; for a connection
    captured mid-way, the side not on one of ``server_ports`` (else the higher port).

    A reply whose source is not the address its request went to is still its connection's:
    a connection redirected by NAT on the same host (iptables REDIRECT to a sidecar) is
    captured on loopback as ``client -> 127.0.0.1:<redirect port>`` one way and
    ``<original destination> -> client`` the other; the client's endpoint, unique per
    interface, ties the two together."""
    servers = set(server_ports)
    found: list[Flow] = []
    by_key: dict[tuple[Endpoint, Endpoint], Flow] = {}
    by_client: dict[tuple[int, Endpoint], Flow] = {}
    isn: dict[tuple[Endpoint, Endpoint], int] = {}  # (sender, receiver): first byte's seq
    for s in segments:
        a, b = (s.src, s.sport), (s.dst, s.dport)
        flow = by_key.get((a, b)) or by_key.get((b, a))
        opening = bool(s.flags & SYN and not s.flags & ACK)
        if opening and flow is not None and flow.up.data:
            flow = None  # a new connection reusing a closed one's ports
        if flow is None and not opening and (s.iface, b) in by_client:
            flow = by_client[(s.iface, b)]  # a NATed reply to a known client
            by_key[(b, a)] = flow
        if flow is None:
            if s.flags & SYN and not s.flags & ACK:
                client, server, opened = a, b, True
            elif s.flags & SYN:  # SYN-ACK first: the other side opened it
                client, server, opened = b, a, True
            else:
                a_serves = s.sport in servers or (s.dport not in servers and s.sport < s.dport)
                client, server = (b, a) if a_serves else (a, b)
                opened = False
            flow = by_key[(client, server)] = Flow(client, server, s.iface, opened)
            by_client[(s.iface, client)] = flow
            found.append(flow)
        if s.flags & SYN:
            isn[(a, b)] = (s.seq + 1) % _SEQ_MOD
            continue
        if not s.payload:
            continue
        stream = flow.up if a == flow.client else flow.down
        if stream._next is None and (a, b) in isn:
            stream._next = isn[(a, b)]
        stream.add(s.seq, s.t_ns, s.payload)
    return found
