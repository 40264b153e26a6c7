"""What a local Envoy sidecar does beyond forwarding, each feature a real Envoy setting.

The local arms ``envoy`` and ``envoy-mtls`` are a minimal sidecar: an HTTP connection
manager and the router. A :class:`SidecarFeatures` turns on what meshes add by default,
one setting at a time, so the decomposition arms (``envoy-mtls-l4``, ``envoy-mtls-rbac``,
... in :mod:`meshbench.config.meshes`) each differ from ``envoy-mtls`` by exactly one
feature and their overhead against it is that feature's marginal cost. Every feature is
proven on the path by Envoy's own counters after each deployment (:func:`proof_counters`
names them); a feature that is configured but not on the path fails the deployment.

Pure data: no I/O, no imports of the rest of meshbench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CertKey = Literal["ecdsa-p256", "rsa-2048"]
"""The workload certificates' key: ECDSA on P-256 (Linkerd's identity, meshbench's
default) or RSA 2048 (Istio's default workload key; ``ECC_SIGNATURE_ALGORITHM`` switches
Istio to ECDSA)."""

TlsVersion = Literal["1.2", "1.3"]

ExtraFilter = Literal["grpc_stats", "fault", "cors"]
"""Upstream Envoy HTTP filters a mesh puts before the router on every request with an
empty (pass-through) configuration: Istio's sidecar runs all three."""

SidecarWire = Literal["auto", "http1", "h2"]


@dataclass(frozen=True)
class RetrySpec:
    """The retry policy on a sidecar's outbound route (Envoy's ``RetryPolicy``)."""

    retry_on: str
    num_retries: int
    per_try_timeout_s: float | None = None
    backoff_ms: tuple[float, float] | None = None  # (base, max); None: Envoy's 25/250 ms


@dataclass(frozen=True)
class BreakerSpec:
    """Circuit-breaker thresholds of a sidecar's clusters."""

    limit: int  # max connections, pending requests and requests
    max_retries: int


RBAC_PRINCIPAL_PREFIX = "spiffe://other.example/ns/denied-"
"""The non-matching rules of an RBAC feature name principals under this prefix: no
workload here has such an identity, so every request is checked against each of them
before the last rule (its own source range) allows it."""


@dataclass(frozen=True)
class SidecarFeatures:
    """A sidecar's feature settings (the defaults are the minimal sidecar)."""

    l7: bool = True
    """Parse HTTP (connection manager + router); False: a TCP proxy, L4 only, as a node
    proxy like ztunnel is (mutual TLS still applies with ``envoy-mtls``)."""
    cert_key: CertKey = "ecdsa-p256"
    tls_max: TlsVersion = "1.2"
    """The highest TLS version between sidecars (mutual TLS arms only). Envoy's TLS client
    offers at most TLS 1.2 unless told otherwise, so the minimal sidecar speaks 1.2;
    ``"1.3"`` sets ``tls_maximum_protocol_version: TLSv1_3`` on both sides."""
    access_log: bool = False
    """One access-log line per request and listener, in Envoy's default format, to a file
    (Istio's ``meshConfig.accessLogFile``)."""
    rbac_rules: int = 0
    """An RBAC filter on the inbound listeners whose one allow policy lists this many
    principals, all but the last matching nothing (0: no filter)."""
    tracing_sample_pct: float | None = None
    """Envoy's tracing decision on every request (request id, sampling at this
    percentage, the x-b3/x-request-id headers kept); None: no tracing. No tracer is
    configured, so no span leaves the pod: what is measured is the decision and the
    headers, not span export."""

    http_filters: tuple[ExtraFilter, ...] = ()
    """Pass-through HTTP filters before the router, in this order, inbound and outbound."""
    route_timeout_s: float = 30.0
    """The outbound and inbound routes' timeout (0: none, as Istio's default routes)."""
    connect_timeout_s: float = 5.0
    retry: RetrySpec | None = None
    """The outbound route's retries (None: no retry policy)."""
    breaker: BreakerSpec | None = None
    """The clusters' circuit breakers (None: effectively unlimited, no retries budget)."""
    sidecar_wire: SidecarWire = "auto"
    """What sidecars speak to each other ("auto": as ``local.sidecar_protocol`` says)."""

    def __post_init__(self) -> None:
        if self.rbac_rules < 0:
            raise ValueError("rbac_rules must be >= 0")
        if self.tracing_sample_pct is not None and not 0 <= self.tracing_sample_pct <= 100:
            raise ValueError("tracing_sample_pct must be within 0..100")
        http_only = (
            self.access_log,
            self.rbac_rules,
            self.tracing_sample_pct is not None,
            self.http_filters,
            self.retry,
        )
        if not self.l7 and any(http_only):
            raise ValueError("HTTP features (access log, RBAC, tracing, filters, retries) need l7")

    def configured(self) -> list[str]:
        """The settings no counter moves for on a request that succeeds (pass-through
        filters, route timeout, retries, breakers): proven from the running config."""
        return [
            name
            for name in ("http_filters", "route_timeout_s", "retry", "breaker")
            if getattr(self, name) != getattr(MINIMAL, name)
        ]

    def differences(self, other: SidecarFeatures) -> list[str]:
        """The settings in which this differs from ``other``, as ``name=value``."""
        return [
            f"{name}={getattr(self, name)}"
            for name in self.__dataclass_fields__
            if getattr(self, name) != getattr(other, name)
        ]


MINIMAL = SidecarFeatures()
