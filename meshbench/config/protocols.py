"""What the apps and the load generator speak, declared once per protocol.

A :class:`ProtocolDecl` holds the facts every layer reads: what a hop to an app speaks
(the sidecar's and the Envoy app's codec), whether calls are gRPC, the probe's URL scheme,
the Kubernetes Service port's name and ``appProtocol``, what sidecars speak to each other
by default, and the app's CPU cost per request for the local capacity estimate. Code that
truly differs per protocol (the server the sample service starts, the client the
generator drives) dispatches through one table keyed by :data:`Protocol` next to it:
:mod:`meshbench.service.app` and :mod:`meshbench.load.generator`.

Pure data (no I/O, no imports of the rest of meshbench), so every layer can read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Protocol = Literal["http1", "h2c", "grpc"]
"""What the apps speak: HTTP/1.1 keep-alive, HTTP/2 over cleartext (prior knowledge), and
gRPC (HTTP/2, unary or server-streaming calls of raw bytes)."""

Wire = Literal["http1", "h2"]
"""An HTTP version on a hop, as Envoy names its codecs: HTTP/1.1 or HTTP/2."""

ProbeScheme = Literal["http", "grpc"]


@dataclass(frozen=True)
class ProtocolDecl:
    """One protocol and what each layer needs of it."""

    name: Protocol
    app_wire: Wire
    """What a hop into the app speaks (its sidecar's upstream, an Envoy app's downstream)."""
    grpc: bool
    """Calls are gRPC methods (grpcio on both sides) rather than plain HTTP requests."""
    probe_scheme: ProbeScheme
    """The scheme of its probe URLs (:func:`meshbench.service.probe.probe_url`): ``http``
    is also what a kubelet ``httpGet`` can ask."""
    port_name: str
    """The Kubernetes Service port's name and ``appProtocol``: Istio reads either
    (``http``: HTTP/1.1, ``http2``: HTTP/2 cleartext, ``grpc``), Kuma reads ``appProtocol``
    (same values), Linkerd detects the protocol itself."""
    sidecar_wire: Wire
    """What sidecars speak to each other under ``local.sidecar_protocol: auto``."""
    app_cpu_ms: float
    """CPU time of one app per request it serves, its own downstream calls included, at
    the rates that load a core (what saturation depends on; less loaded, a request costs
    more but the core is idle); read by :mod:`meshbench.platforms.local.capacity`."""


# Sources of app_cpu_ms, measured on the reference 2-vCPU VM: the default run at 400 rps
# had service CPU 0.19-0.22 cores for its three HTTP/1.1 services (0.16-0.18 ms each);
# bench/service_floor.py at 500 rps: h2c (the h2 library) 0.36-0.75 ms, gRPC (grpcio)
# 0.37-0.81 ms.
HTTP1 = ProtocolDecl(
    name="http1",
    app_wire="http1",
    grpc=False,
    probe_scheme="http",
    port_name="http",
    sidecar_wire="http1",
    app_cpu_ms=0.17,
)
H2C = ProtocolDecl(
    name="h2c",
    app_wire="h2",
    grpc=False,
    probe_scheme="http",
    port_name="http2",
    sidecar_wire="h2",
    app_cpu_ms=0.7,
)
GRPC = ProtocolDecl(
    name="grpc",
    app_wire="h2",
    grpc=True,
    probe_scheme="grpc",
    port_name="grpc",
    sidecar_wire="h2",
    app_cpu_ms=0.7,
)

PROTOCOLS: Mapping[Protocol, ProtocolDecl] = {d.name: d for d in (HTTP1, H2C, GRPC)}
"""Every protocol's declaration, by name (iterating gives the names, in this order)."""
