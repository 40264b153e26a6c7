"""The meshes of the kind platform: how each is installed, injected, configured and removed.

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

from dataclasses import dataclass, field, replace
from pathlib import Path

from meshbench.dimensions import AA_CONTROL, BASELINE
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.manifests import Obj, namespace
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import CONTROL_PLANE_NAMESPACE, MANAGED_BY, Target
from meshbench.scenario import Scenario

LINKERD_CERT_FILES = ("ca.crt", "issuer.crt", "issuer.key")
LINKERD_CERTS = "linkerd-certs"
GATEWAY_API_INSTALL = "gateway-api-install"
GATEWAY_API_REMOVE = "gateway-api-remove"
GATEWAY_API_CRD = "httproutes.gateway.networking.k8s.io"


@dataclass(frozen=True)
class StatsSource:
    """Where a proxy's inbound counter can be read through the API server proxy.

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
class Mesh:
    """Everything the platform needs to know about one mesh (``none`` included)."""

    name: str
    sidecar: str | None = None  # container injected into every workload pod
    ns_labels: dict[str, str] = field(default_factory=dict)
    ns_annotations: dict[str, str] = field(default_factory=dict)
    client_annotations: dict[str, str] = field(default_factory=dict)  # meshed Job pods
    stats: StatsSource | None = None
    mtls_always_on: bool = False

    @property
    def cp_namespace(self) -> str | None:
        return CONTROL_PLANE_NAMESPACE.get(self.name)

    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        """Control plane install, in order, each waited on."""
        return []

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        """The reverse of :meth:`install_steps`; every step is a never-fatal cleanup."""
        return []

    def policies(self, scenario: Scenario, target: Target) -> list[Obj]:
        """Mesh settings applied with the workload (mTLS on or off)."""
        return []

    def mtls_description(self, scenario: Scenario) -> str:
        """One line for run.json and the report: what the scenario's mTLS setting means here."""
        return "no mesh: plaintext"

    def resilience(self, scenario: Scenario) -> str:
        """One line for run.json and the report: the retries, timeouts and circuit breakers
        in the data path. meshbench turns every default one off: a retry turns an error
        into latency, and meshes differ in what they retry by default."""
        return "no mesh: no retries, timeouts or circuit breakers"


def _control_plane_placement(target: Target, prefix: str = "") -> list[tuple[str, object]]:
    """Chart values that put a control plane on the control-plane node (own cluster only:
    another cluster may have no schedulable control-plane node)."""
    if not target.pin_nodes:
        return []
    return [
        (f"{prefix}nodeSelector", cmd.CONTROL_PLANE_NODE_SELECTOR),
        (f"{prefix}tolerations", cmd.CONTROL_PLANE_TOLERATIONS),
    ]


ISTIO_NO_RETRIES = ("meshConfig.defaultHttpRetryPolicy.attempts", "0")
"""Istio retries every HTTP request up to 2 times by default (meshConfig
defaultHttpRetryPolicy); 0 attempts turns that off."""


def _cp_namespace(
    target: Target,
    phase: str,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> Step:
    return cmd.apply(
        target,
        phase,
        f"create control-plane namespace {name}",
        [namespace(name, labels, annotations or {})],
    )


class _Istio(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = "istio-system"
        return [
            cmd.helm_repo_add(phase, versions.ISTIO_BASE),
            _cp_namespace(target, phase, ns, {}),
            cmd.helm_install(target, phase, "istio-base", versions.ISTIO_BASE, ns, t),
            cmd.helm_install(
                target,
                phase,
                "istiod",
                versions.ISTIOD,
                ns,
                t,
                [ISTIO_NO_RETRIES],
                json_values=_control_plane_placement(target),
            ),
            cmd.wait_deployments(target, phase, ns, t),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = "istio-system"
        return [
            cmd.helm_uninstall(target, phase, "istiod", ns, t),
            cmd.helm_uninstall(target, phase, "istio-base", ns, t),
            cmd.delete_namespace(target, phase, ns, t),
        ]

    def policies(self, scenario: Scenario, target: Target) -> list[Obj]:
        ns = target.app_ns
        meta = {"namespace": ns, "labels": dict(MANAGED_BY)}
        if not scenario.kind.mtls:
            return [
                {
                    "apiVersion": "security.istio.io/v1",
                    "kind": "PeerAuthentication",
                    "metadata": {"name": "default", **meta},
                    "spec": {"mtls": {"mode": "DISABLE"}},
                },
                {
                    "apiVersion": "networking.istio.io/v1",
                    "kind": "DestinationRule",
                    "metadata": {"name": "plaintext", **meta},
                    "spec": {
                        "host": f"*.{ns}.svc.cluster.local",
                        "trafficPolicy": {"tls": {"mode": "DISABLE"}},
                    },
                },
            ]
        objs: list[Obj] = [
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default", **meta},
                "spec": {"mtls": {"mode": "STRICT"}},
            }
        ]
        if not scenario.client_sidecar:
            objs.append(
                {
                    "apiVersion": "security.istio.io/v1",
                    "kind": "PeerAuthentication",
                    "metadata": {"name": "entry-accepts-unmeshed-load", **meta},
                    "spec": {
                        "selector": {"matchLabels": {"app": scenario.topology.entry}},
                        "mtls": {"mode": "PERMISSIVE"},
                    },
                }
            )
        return objs

    def resilience(self, scenario: Scenario) -> str:
        return (
            "istio: default HTTP retries off (meshConfig.defaultHttpRetryPolicy.attempts=0; "
            "Istio's default is 2); no timeout or outlier detection by default"
        )

    def mtls_description(self, scenario: Scenario) -> str:
        if not scenario.kind.mtls:
            return "istio: mTLS off (PeerAuthentication DISABLE, DestinationRule tls DISABLE)"
        if scenario.client_sidecar:
            return "istio: mTLS STRICT on every hop, load generator meshed"
        return (
            "istio: mTLS STRICT between sidecars; the entry accepts plaintext from the "
            "unmeshed load generator (PERMISSIVE on the entry workload only)"
        )


class _IstioAmbient(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = "istio-system"
        ambient = [("profile", "ambient")]
        return [
            cmd.helm_repo_add(phase, versions.ISTIO_BASE),
            _cp_namespace(target, phase, ns, {}),
            cmd.helm_install(target, phase, "istio-base", versions.ISTIO_BASE, ns, t),
            cmd.helm_install(
                target,
                phase,
                "istiod",
                versions.ISTIOD,
                ns,
                t,
                [*ambient, ISTIO_NO_RETRIES],
                json_values=_control_plane_placement(target),
            ),
            cmd.helm_install(target, phase, "istio-cni", versions.ISTIO_CNI, ns, t, ambient),
            cmd.helm_install(target, phase, "ztunnel", versions.ISTIO_ZTUNNEL, ns, t),
            cmd.wait_deployments(target, phase, ns, t),
            cmd.wait_daemonset(target, phase, ns, "istio-cni-node", t),
            cmd.wait_daemonset(target, phase, ns, "ztunnel", t),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = "istio-system"
        return [
            cmd.helm_uninstall(target, phase, "ztunnel", ns, t),
            cmd.helm_uninstall(target, phase, "istio-cni", ns, t),
            cmd.helm_uninstall(target, phase, "istiod", ns, t),
            cmd.helm_uninstall(target, phase, "istio-base", ns, t),
            cmd.delete_namespace(target, phase, ns, t),
        ]

    def resilience(self, scenario: Scenario) -> str:
        return (
            "istio-ambient: ztunnel is L4 (no HTTP retries); no waypoint is deployed; "
            "meshConfig.defaultHttpRetryPolicy.attempts=0 for any waypoint"
        )

    def mtls_description(self, scenario: Scenario) -> str:
        return "istio-ambient: ztunnel mTLS (HBONE) always on; no sidecars"


class _Linkerd(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = "linkerd"
        certs = linkerd_cert_dir(target)
        ns_labels = {
            "linkerd.io/is-control-plane": "true",
            "config.linkerd.io/admission-webhooks": "disabled",
            "linkerd.io/control-plane-ns": ns,
            "pod-security.kubernetes.io/enforce": "privileged",
        }
        return [
            cmd.api(
                phase,
                f"generate a trust anchor and an issuer (ECDSA P-256, this run only) into {certs}",
                key=LINKERD_CERTS,
            ),
            Step(
                phase,
                f"install the Gateway API CRDs {versions.GATEWAY_API_VERSION} "
                "(skipped when the cluster already has them)",
                cmd.kubectl(target, "apply", "--server-side", "-f", versions.GATEWAY_API_URL),
                timeout_s=180,
                key=GATEWAY_API_INSTALL,
            ),
            cmd.helm_repo_add(phase, versions.LINKERD_CRDS),
            _cp_namespace(target, phase, ns, ns_labels, {"linkerd.io/inject": "disabled"}),
            cmd.helm_install(target, phase, "linkerd-crds", versions.LINKERD_CRDS, ns, t),
            cmd.helm_install(
                target,
                phase,
                "linkerd-control-plane",
                versions.LINKERD_CONTROL_PLANE,
                ns,
                t,
                files=[
                    ("identityTrustAnchorsPEM", certs / "ca.crt"),
                    ("identity.issuer.tls.crtPEM", certs / "issuer.crt"),
                    ("identity.issuer.tls.keyPEM", certs / "issuer.key"),
                ],
                json_values=_control_plane_placement(target),
            ),
            cmd.wait_deployments(target, phase, ns, t),
            Step(
                phase,
                "linkerd check (control plane healthy)",
                (
                    "linkerd",
                    "check",
                    "--context",
                    target.kube_context,
                    "--linkerd-namespace",
                    ns,
                    f"--wait={int(t)}s",
                ),
                timeout_s=t + 60,
                optional=True,
            ),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = "linkerd"
        return [
            cmd.helm_uninstall(target, phase, "linkerd-control-plane", ns, t),
            cmd.helm_uninstall(target, phase, "linkerd-crds", ns, t),
            cmd.delete_namespace(target, phase, ns, t),
            Step(
                phase,
                "remove the Gateway API CRDs (only when meshbench installed them)",
                cmd.kubectl(target, "delete", "--ignore-not-found", "-f", versions.GATEWAY_API_URL),
                timeout_s=180,
                ignore_errors=True,
                key=GATEWAY_API_REMOVE,
            ),
        ]

    def resilience(self, scenario: Scenario) -> str:
        return (
            "linkerd: none by default (no retries, timeouts or failure accrual unless "
            "configured per route or annotated); nothing to turn off"
        )

    def mtls_description(self, scenario: Scenario) -> str:
        note = "" if scenario.kind.mtls else " (kind.mtls: false cannot turn it off)"
        return f"linkerd: mTLS always on between meshed pods{note}"


class _Kuma(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = "kuma-system"
        # No default Mesh: meshbench applies its own, which skips Kuma's default policies.
        values: list[tuple[str, str]] = [("controlPlane.defaults.skipMeshCreation", "true")]
        if scenario.client_sidecar:
            # Jobs finish only when the sidecar is a native (restartable init) container.
            values.append(("experimental.sidecarContainers", "true"))
        return [
            cmd.helm_repo_add(phase, versions.KUMA),
            _cp_namespace(target, phase, ns, {}),
            cmd.helm_install(
                target,
                phase,
                "kuma",
                versions.KUMA,
                ns,
                t,
                values,
                json_values=_control_plane_placement(target, "controlPlane."),
            ),
            cmd.wait_deployments(target, phase, ns, t),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = "kuma-system"
        return [
            cmd.helm_uninstall(target, phase, "kuma", ns, t),
            cmd.delete_namespace(target, phase, ns, t),
        ]

    def policies(self, scenario: Scenario, target: Target) -> list[Obj]:
        spec: Obj = {
            # Kuma creates a MeshRetry (5 HTTP retries), MeshTimeouts and a
            # MeshCircuitBreaker with every new Mesh (kumahq/kuma pkg/defaults/mesh); "*"
            # creates none of them.
            "skipCreatingInitialPolicies": ["*"],
            "metrics": {
                "enabledBackend": "prometheus-1",
                "backends": [
                    {
                        "name": "prometheus-1",
                        "type": "prometheus",
                        "conf": {"port": 5670, "path": "/metrics", "skipMTLS": True},
                    }
                ],
            },
        }
        objs: list[Obj] = []
        if scenario.kind.mtls:
            mode = "STRICT" if scenario.client_sidecar else "PERMISSIVE"
            spec["mtls"] = {
                "enabledBackend": "ca-1",
                "backends": [{"name": "ca-1", "type": "builtin", "mode": mode}],
            }
            objs.append(
                {
                    "apiVersion": "kuma.io/v1alpha1",
                    "kind": "MeshTrafficPermission",
                    "metadata": {
                        "name": "meshbench-allow-all",
                        "namespace": "kuma-system",
                        "labels": {**MANAGED_BY, "kuma.io/mesh": "default"},
                    },
                    "spec": {
                        "targetRef": {"kind": "Mesh"},
                        "from": [{"targetRef": {"kind": "Mesh"}, "default": {"action": "Allow"}}],
                    },
                }
            )
        mesh_obj: Obj = {
            "apiVersion": "kuma.io/v1alpha1",
            "kind": "Mesh",
            "metadata": {"name": "default", "labels": dict(MANAGED_BY)},
            "spec": spec,
        }
        return [mesh_obj, *objs]

    def resilience(self, scenario: Scenario) -> str:
        return (
            "kuma: default MeshRetry (5 HTTP retries), MeshTimeout and MeshCircuitBreaker not "
            "created (Mesh skipCreatingInitialPolicies ['*'], no default Mesh); Envoy's own "
            "connection limits remain"
        )

    def mtls_description(self, scenario: Scenario) -> str:
        if not scenario.kind.mtls:
            return "kuma: mTLS off (Mesh without an mTLS backend)"
        mode = "STRICT" if scenario.client_sidecar else "PERMISSIVE (unmeshed load generator)"
        return f"kuma: mTLS with the builtin CA, mode {mode}"


MESHES: dict[str, Mesh] = {
    BASELINE: Mesh(BASELINE),
    "istio": _Istio(
        "istio",
        sidecar="istio-proxy",
        ns_labels={"istio-injection": "enabled"},
        client_annotations={"sidecar.istio.io/nativeSidecar": "true"},
        stats=StatsSource(
            15090, "/stats/prometheus", "istio_requests_total", {"reporter": "destination"}
        ),
    ),
    "istio-ambient": _IstioAmbient(
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
    "linkerd": _Linkerd(
        "linkerd",
        sidecar="linkerd-proxy",
        ns_annotations={"linkerd.io/inject": "enabled"},
        client_annotations={"config.linkerd.io/proxy-enable-native-sidecar": "true"},
        stats=StatsSource(4191, "/metrics", "request_total", {"direction": "inbound"}),
        mtls_always_on=True,
    ),
    "kuma": _Kuma(
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


def linkerd_cert_dir(target: Target) -> Path:
    return target.work_dir / "linkerd-identity"
