"""Every mesh meshbench can measure, declared once (:data:`MESH_DECLS`).

A :class:`MeshDecl` holds what every layer reads about a mesh: which platforms offer it,
what carries its traffic, whether it encrypts, and on kind its control-plane namespace,
the namespace labels that enrol a workload and those that keep the baselines out, where
its proxies count requests, which pinned release it installs and which CLI
``meshbench doctor`` looks for. Scenario validation, the kind platform's meshes, its
unmeshed namespaces, doctor, the versions a run records and the SMP export read this table.

How a mesh is installed stays in its own module under
:mod:`meshbench.platforms.kind.meshes`, named by :attr:`MeshDecl.install`. Adding a mesh
is one declaration here plus that module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.config.features import MINIMAL, BreakerSpec, RetrySpec, SidecarFeatures

Platform = Literal["local", "kind"]
PLATFORMS: tuple[Platform, ...] = ("local", "kind")

DataPlane = Literal["none", "sidecar", "node proxy"]
"""What carries an arm's traffic: nothing, a proxy beside every workload, or one proxy
per node (Istio ambient's ztunnel)."""

Mtls = Literal["off", "setting", "always"]
"""Whether the data plane encrypts: never, as the scenario's ``kind.mtls`` says, or always
(whatever the setting)."""


@dataclass(frozen=True)
class StatsSource:
    """Where a proxy's inbound counter can be read through the API server proxy (kind).

    Sidecars are read in each app pod. Node proxies (``proxy_namespace`` and
    ``proxy_selector`` set: ztunnel) are read in their own pods and count per destination
    service, named by ``service_label``.
    """

    port: int
    path: str
    metric: str
    labels: dict[str, str] = field(default_factory=dict)  # "{port}": app port; "{namespace}"
    unit: str = "requests"  # what the metric counts: requests, or connections (L4 proxies)
    proxy_namespace: str | None = None
    proxy_selector: str = ""
    service_label: str | None = None

    @property
    def node_proxy(self) -> bool:
        return self.proxy_namespace is not None


@dataclass(frozen=True)
class CliProbe:
    """A mesh's own CLI, which ``meshbench doctor`` looks for (kind)."""

    tool: str  # the executable, also the check's name
    argv: tuple[str, ...]  # prints the client's version
    install_hint: str  # "{version}" stands for the mesh's pinned release
    required: bool = False  # meshbench installs with Helm: a mesh CLI only adds checks


@dataclass(frozen=True)
class MeshDecl:
    """One mesh, or one of the baseline arms, as every layer sees it."""

    name: str  # as scenarios, trial ids and reports spell it
    platforms: tuple[Platform, ...]
    data_plane: DataPlane
    proxy: str = ""  # the proxy software that carries the traffic
    mtls: Mtls = "off"
    listed: bool = True  # a scenario may name it in ``meshes`` (none-aa: aa_control adds it)
    sidecar_container: str | None = None  # kind: the container injected into every app pod
    cp_namespace: str = ""  # kind: the control plane's namespace ("" when none is installed)
    ns_labels: dict[str, str] = field(default_factory=dict)  # kind: enrol a namespace
    ns_annotations: dict[str, str] = field(default_factory=dict)
    client_annotations: dict[str, str] = field(default_factory=dict)  # kind: meshed Job pods
    opt_out_labels: dict[str, str] = field(default_factory=dict)  # kind: keep a namespace out
    opt_out_annotations: dict[str, str] = field(default_factory=dict)
    stats: StatsSource | None = None  # kind: the proxies' inbound counter (the proof)
    version_key: str | None = None  # kind: its release in ``kind.versions.pinned()``
    probe: CliProbe | None = None  # kind: its CLI, for ``meshbench doctor``
    install: str | None = None  # kind: "module:Class" under platforms.kind.meshes
    smp_type: str = "INVALID_MESH"  # SMP ``ServiceMesh.Type`` (the enum's zero: none)
    features: SidecarFeatures = MINIMAL  # local: what its Envoy sidecars do beyond forwarding
    reference: str | None = None  # local: the arm it adds features to (their marginal cost)
    label: str = ""  # how reports name it when its name is not enough ("istio profile ...")
    sources: tuple[str, ...] = ()  # where a profile's settings come from (repo, path, version)
    not_reproduced: tuple[str, ...] = ()  # what of the mesh's sidecar upstream Envoy lacks

    @property
    def mtls_always_on(self) -> bool:
        """True when no setting turns its encryption off (reports must say so)."""
        return self.mtls == "always"


ISTIO_SYSTEM = "istio-system"
ISTIOCTL = CliProbe(
    "istioctl",
    ("istioctl", "version", "--remote=false"),
    "optional: curl -L https://istio.io/downloadIstio | ISTIO_VERSION={version} sh -",
)

MESH_DECLS: tuple[MeshDecl, ...] = (
    MeshDecl(BASELINE, PLATFORMS, "none"),
    MeshDecl("envoy", ("local",), "sidecar", "envoy"),
    MeshDecl("envoy-mtls", ("local",), "sidecar", "envoy", mtls="always"),
    *(
        MeshDecl(
            f"envoy-mtls-{suffix}",
            ("local",),
            "sidecar",
            "envoy",
            mtls="always",
            features=features,
            reference="envoy-mtls",
        )
        for suffix, features in (
            ("l4", SidecarFeatures(l7=False)),
            ("rsa", SidecarFeatures(cert_key="rsa-2048")),
            ("tls13", SidecarFeatures(tls_max="1.3")),
            ("accesslog", SidecarFeatures(access_log=True)),
            ("rbac", SidecarFeatures(rbac_rules=10)),
            ("tracing", SidecarFeatures(tracing_sample_pct=100.0)),
        )
    ),
    MeshDecl(
        "istio-profile",
        ("local",),
        "sidecar",
        "envoy",
        mtls="always",
        reference="envoy-mtls",
        label="istio profile (local Envoy)",
        features=SidecarFeatures(
            cert_key="rsa-2048",
            tls_max="1.3",
            http_filters=("grpc_stats", "fault", "cors"),
            tracing_sample_pct=1.0,
            route_timeout_s=0.0,
            connect_timeout_s=10.0,
            retry=RetrySpec(
                "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                2,
            ),
            breaker=BreakerSpec(2**32 - 1, 2**32 - 1),
        ),
        sources=(
            "Istio 1.30 sidecar, default profile, PeerAuthentication STRICT, no other policy",
            "istio/istio pilot/pkg/networking/core/listener_builder.go: HTTP filters "
            "metadata_exchange, grpc_stats, fault, cors, istio.stats, router",
            "istio/istio pilot/pkg/security/authn/utils/utils.go and "
            "pilot/pkg/networking/core/cluster_tls.go: TLS 1.2-1.3 on both sides",
            "istio.io docs/ops/configuration/traffic-management/manage-mesh-certificates: "
            "workload keys RSA 2048 unless ECC_SIGNATURE_ALGORITHM",
            "istio/istio manifests/charts/istio-control/istio-discovery/values.yaml: "
            "traceSampling 1.0 (%), tracer none",
            "istio/istio pilot/pkg/networking/core/route/retry/retry.go: 2 retries on "
            "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
            "istio/istio pkg/config/mesh/mesh.go: connect timeout 10 s, concurrency 2; "
            "istio/api mesh/v1alpha1/config.proto: h2UpgradePolicy DO_NOT_UPGRADE (sidecars "
            "speak what the apps speak, as local.sidecar_protocol auto does)",
        ),
        not_reproduced=(
            "istio.metadata_exchange and istio.alpn (Istio's own filters, with their "
            "peer-metadata headers and ALPN istio-peer-exchange)",
            "istio.stats: istio_requests_total and its histograms, about two dozen labels "
            "per request",
            "the server's six restricted TLS 1.2 cipher suites (the arms negotiate TLS 1.3)",
            "concurrency 2 (the scenario's local.envoy_concurrency applies to every arm)",
        ),
    ),
    MeshDecl(
        "kuma-profile",
        ("local",),
        "sidecar",
        "envoy",
        mtls="always",
        reference="envoy-mtls",
        label="kuma profile (local Envoy)",
        features=SidecarFeatures(
            cert_key="rsa-2048",
            rbac_rules=1,
            route_timeout_s=15.0,
            retry=RetrySpec("gateway-error,connect-failure,refused-stream", 5, 16.0, (25, 250)),
            breaker=BreakerSpec(1024, 3),
            sidecar_wire="h2",
        ),
        sources=(
            "Kuma 2.13 kuma-dp sidecar, default Mesh with builtin CA mTLS, one allow-all "
            "MeshTrafficPermission (without it mTLS denies all traffic), appProtocol http",
            "kumahq/kuma pkg/xds/generator/inbound_proxy_generator.go and "
            "pkg/xds/envoy/listeners/v3/http_connection_manager_configurer.go: inbound "
            "HTTP filters rbac, router",
            "kumahq/kuma pkg/util/rsa/keygen.go: DefaultKeySize 2048; "
            "pkg/xds/envoy/tls/v3/tls.go: no tls_params (Envoy's defaults: TLS 1.2)",
            "kumahq/kuma pkg/defaults/mesh/meshtimeout.go, meshretry and "
            "meshcircuitbreaker defaults: 15 s request timeout, 5 retries (16 s per try, "
            "25-250 ms back-off), 1024 connections/requests, 3 retries budget",
            "kumahq/kuma-website app/_src/policies/protocol-support-in-kuma.md: HTTP/2 "
            "between data planes",
        ),
        not_reproduced=(
            "client ALPN kuma and the PERMISSIVE chain match on it",
            "idle and stream-idle timeouts (1 h, 30 min): never reached by a trial",
            "concurrency 2 (the scenario's local.envoy_concurrency applies to every arm)",
        ),
    ),
    MeshDecl(
        "istio",
        ("kind",),
        "sidecar",
        "envoy",
        mtls="setting",
        sidecar_container="istio-proxy",
        cp_namespace=ISTIO_SYSTEM,
        ns_labels={"istio-injection": "enabled"},
        client_annotations={"sidecar.istio.io/nativeSidecar": "true"},
        # Istio's sidecar injector: every webhook (default, revisions, tags,
        # enableNamespacesByDefault) skips a namespace labelled istio-injection=disabled;
        # istio.io/rev is never set here.
        opt_out_labels={"istio-injection": "disabled"},
        stats=StatsSource(
            15090, "/stats/prometheus", "istio_requests_total", {"reporter": "destination"}
        ),
        version_key="istio",
        probe=ISTIOCTL,
        install="istio:Istio",
        smp_type="ISTIO",
    ),
    MeshDecl(
        "linkerd",
        ("kind",),
        "sidecar",
        "linkerd2-proxy",
        mtls="always",
        sidecar_container="linkerd-proxy",
        cp_namespace="linkerd",
        ns_annotations={"linkerd.io/inject": "enabled"},
        client_annotations={"config.linkerd.io/proxy-enable-native-sidecar": "true"},
        # Linkerd's proxy injector reads the annotation, on the pod or its namespace.
        opt_out_annotations={"linkerd.io/inject": "disabled"},
        stats=StatsSource(4191, "/metrics", "request_total", {"direction": "inbound"}),
        version_key="linkerd",
        probe=CliProbe(
            "linkerd",
            ("linkerd", "version", "--client", "--short"),
            "optional: curl -sL https://run.linkerd.io/install-edge | sh",
        ),
        install="linkerd:Linkerd",
        smp_type="LINKERD",
    ),
    MeshDecl(
        "kuma",
        ("kind",),
        "sidecar",
        "envoy",
        mtls="setting",
        sidecar_container="kuma-sidecar",
        cp_namespace="kuma-system",
        ns_labels={"kuma.io/sidecar-injection": "enabled"},
        # Kuma: the namespace label turns injection off for its pods.
        opt_out_labels={"kuma.io/sidecar-injection": "disabled"},
        stats=StatsSource(
            5670,
            "/metrics",
            "envoy_cluster_upstream_rq_total",
            {"envoy_cluster_name": "localhost_{port}"},
        ),
        version_key="kuma",
        probe=CliProbe(
            "kumactl",
            ("kumactl", "version"),
            "optional: curl -L https://kuma.io/installer.sh | VERSION={version} sh -",
        ),
        install="kuma:Kuma",
        smp_type="KUMA",
    ),
    MeshDecl(
        "istio-ambient",
        ("kind",),
        "node proxy",
        "ztunnel",
        mtls="always",
        cp_namespace=ISTIO_SYSTEM,
        ns_labels={"istio.io/dataplane-mode": "ambient"},
        # "none" keeps the namespace out of ztunnel's capture.
        opt_out_labels={"istio.io/dataplane-mode": "none"},
        # ztunnel is L4: it counts connections per destination workload, not requests
        # (istio/ztunnel src/proxy/metrics.rs: tcp_connections_opened, reporter and
        # destination_* labels; served on 15020 /stats/prometheus).
        stats=StatsSource(
            15020,
            "/stats/prometheus",
            "istio_tcp_connections_opened_total",
            {"reporter": "destination", "destination_workload_namespace": "{namespace}"},
            unit="connections",
            proxy_namespace=ISTIO_SYSTEM,
            proxy_selector="app=ztunnel",
            service_label="destination_canonical_service",
        ),
        version_key="istio",
        probe=ISTIOCTL,
        install="istio:IstioAmbient",
        smp_type="ISTIO",
    ),
    MeshDecl(AA_CONTROL, PLATFORMS, "none", listed=False),
)
"""Every mesh and baseline arm, in the order scenario errors and ``doctor`` list them."""

_BY_NAME = {d.name: d for d in MESH_DECLS}


def mesh_decl(name: str) -> MeshDecl:
    """The declaration of ``name`` (a KeyError for a name never declared)."""
    return _BY_NAME[name]


def find_mesh(name: str) -> MeshDecl | None:
    """The declaration of ``name``, or None (a stored run may name a mesh no longer here)."""
    return _BY_NAME.get(name)


def mesh_names(platform: Platform) -> tuple[str, ...]:
    """The meshes a scenario on ``platform`` may list (the baseline among them)."""
    return tuple(d.name for d in MESH_DECLS if d.listed and platform in d.platforms)


def meshes_on(platform: Platform) -> tuple[MeshDecl, ...]:
    """Every arm ``platform`` can deploy (the A/A control included)."""
    return tuple(d for d in MESH_DECLS if platform in d.platforms)
