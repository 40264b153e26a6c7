"""The meshes of the kind platform, by name: how each is installed, injected, configured
and removed (one module per mesh; :mod:`.base` holds what they share).

Each mesh is installed the way its own documentation says (Helm charts at the versions in
:mod:`meshbench.platforms.kind.versions`), into a control-plane namespace meshbench creates
and labels, waited on by conditions, and removed before the next mesh.

mTLS per scenario (``kind.mtls``):

- istio: PeerAuthentication STRICT for the app namespace, or DISABLE plus a DestinationRule
  so clients send plaintext too. The load generator is outside the mesh by default, so the
  entry workload alone is PERMISSIVE (its callers inside the mesh still use mTLS).
- linkerd: mTLS is always on between meshed pods; ``kind.mtls: false`` cannot turn it off
  (reports must say so: see :attr:`Mesh.mtls_always_on`).
- kuma: the ``default`` Mesh with the builtin CA (STRICT, or PERMISSIVE when the load
  generator is outside the mesh), or without mTLS.
- istio-ambient (stretch): ztunnel always encrypts between nodes; no sidecars at all.
"""

from __future__ import annotations

from dataclasses import replace

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.platforms.kind.meshes.base import Mesh, StatsSource
from meshbench.platforms.kind.meshes.istio import Istio, IstioAmbient
from meshbench.platforms.kind.meshes.kuma import Kuma
from meshbench.platforms.kind.meshes.linkerd import Linkerd

MESHES: dict[str, Mesh] = {
    BASELINE: Mesh(BASELINE),
    "istio": Istio(
        "istio",
        sidecar="istio-proxy",
        ns_labels={"istio-injection": "enabled"},
        client_annotations={"sidecar.istio.io/nativeSidecar": "true"},
        stats=StatsSource(
            15090, "/stats/prometheus", "istio_requests_total", {"reporter": "destination"}
        ),
    ),
    "istio-ambient": IstioAmbient(
        "istio-ambient",
        ns_labels={"istio.io/dataplane-mode": "ambient"},
        # ztunnel is L4: it counts connections per destination workload, not requests
        # (istio/ztunnel src/proxy/metrics.rs: tcp_connections_opened, reporter and
        # destination_* labels; served on 15020 /stats/prometheus).
        stats=StatsSource(
            15020,
            "/stats/prometheus",
            "istio_tcp_connections_opened_total",
            {"reporter": "destination", "destination_workload_namespace": "{namespace}"},
            unit="connections",
            proxy_namespace="istio-system",
            proxy_selector="app=ztunnel",
            service_label="destination_canonical_service",
        ),
        mtls_always_on=True,
    ),
    "linkerd": Linkerd(
        "linkerd",
        sidecar="linkerd-proxy",
        ns_annotations={"linkerd.io/inject": "enabled"},
        client_annotations={"config.linkerd.io/proxy-enable-native-sidecar": "true"},
        stats=StatsSource(4191, "/metrics", "request_total", {"direction": "inbound"}),
        mtls_always_on=True,
    ),
    "kuma": Kuma(
        "kuma",
        sidecar="kuma-sidecar",
        ns_labels={"kuma.io/sidecar-injection": "enabled"},
        stats=StatsSource(
            5670,
            "/metrics",
            "envoy_cluster_upstream_rq_total",
            {"envoy_cluster_name": "localhost_{port}"},
        ),
    ),
}
"""Every mesh the kind platform knows, by the name used in scenarios."""

SIDECAR_CONTAINERS = frozenset(m.sidecar for m in MESHES.values() if m.sidecar)
"""Container names that are mesh sidecars (for splitting sidecar from service cost)."""


def mesh(name: str) -> Mesh:
    """The :class:`Mesh` called ``name`` (scenario validation already checked the name).

    ``none-aa``, the A/A control arm, is deployed exactly like ``none`` under its own name.
    """
    if name == AA_CONTROL:
        return replace(MESHES[BASELINE], name=AA_CONTROL)
    return MESHES[name]
