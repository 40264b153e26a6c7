"""Where one request was when: each pod's capture read into per-request timestamps at
the pod's boundaries, for a chain of services with or without sidecars.

A pod's capture (``tcpdump -i any``, Linux cooked v2) holds its veth and its loopback.
Each connection is one of four points of the pod, by interface and endpoints:

- ``in_wire``: on the veth, to the pod's app port (the caller's request arriving);
- ``in_app``: on loopback, to ``127.0.0.1:<app port>`` (the sidecar handing it to the app);
- ``out_app``: on loopback, to the sidecar's outbound port (the app's downstream call,
  redirected to its sidecar);
- ``out_wire``: on the veth, from the pod to another pod (the call leaving).

Without a sidecar the app is reached on ``in_wire`` and calls on ``out_wire`` directly.
The load generator's pod has one point, ``out_wire``. Every point gives, per request id,
the time its request's first byte and its response's first byte were captured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from meshbench.wire.http import Exchange, exchanges
from meshbench.wire.pcap import LOOPBACK_IFINDEX, read_segments
from meshbench.wire.tcp import Flow, flows
from meshbench.wire.tls import Keylog, TlsError, decrypt

POINTS = ("in_wire", "in_app", "out_app", "out_wire")
TLS_HANDSHAKE = 0x16


@dataclass(frozen=True)
class Pod:
    """What the extraction needs to know of one pod."""

    name: str
    address: str  # its IPv4 address
    capture: Path
    app_port: int
    outbound_port: int


@dataclass
class PodTimes:
    """Per point, per request id: (request first byte, response first byte), in ns."""

    pod: str
    points: dict[str, dict[str, tuple[int, int | None]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # connections that could not be read


def point_of(flow: Flow, pod: Pod) -> str | None:
    """Which of the pod's points a connection is (None: none of them, e.g. a probe's)."""
    loopback = flow.iface == LOOPBACK_IFINDEX
    if loopback:
        if flow.server[1] == pod.app_port and flow.server[0].startswith("127."):
            return "in_app"
        if flow.server[1] == pod.outbound_port:
            return "out_app"
        return None
    if flow.server == (pod.address, pod.app_port):
        return "in_wire"
    if flow.client[0] == pod.address:
        return "out_wire"
    return None


def _opened(flow: Flow, keylog: Keylog) -> tuple[Iterable[Exchange], str]:
    up, down = flow.up, flow.down
    if up.data[:1] == bytes([TLS_HANDSHAKE]):
        if not flow.opened:
            return [], "a TLS connection captured mid-way (its keys cannot be applied)"
        try:
            up, down = decrypt(flow, keylog)
        except TlsError as e:
            return [], str(e)
    return exchanges(up, down), ""


def pod_times(pod: Pod, keylog: Keylog, keep: str = "") -> PodTimes:
    """Every request's timestamps at the pod's points; ``keep``: only request ids that
    start with it (e.g. the measured phase's)."""
    out = PodTimes(pod.name)
    for flow in flows(read_segments(pod.capture), (pod.app_port, pod.outbound_port)):
        point = point_of(flow, pod)
        if point is None:
            continue
        found, problem = _opened(flow, keylog)
        if problem:
            out.problems.append(f"{pod.name} {point} {flow.client}->{flow.server}: {problem}")
        times = out.points.setdefault(point, {})
        for ex in found:
            if ex.request_id and ex.request_id.startswith(keep):
                times[ex.request_id] = (ex.request_ns, ex.response_ns)
    return out
