"""Istio, with sidecars (``istio``) or in ambient mode (``istio-ambient``: ztunnel, no
sidecars), installed from its Helm charts with default HTTP retries turned off."""

from __future__ import annotations

from meshbench.config.scenario import Scenario
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.manifests import Obj
from meshbench.platforms.kind.meshes.base import Mesh, control_plane_placement, cp_namespace
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import MANAGED_BY, Target

ISTIO_NO_RETRIES = ("meshConfig.defaultHttpRetryPolicy.attempts", "0")
"""Istio retries every HTTP request up to 2 times by default (meshConfig
defaultHttpRetryPolicy); 0 attempts turns that off."""


def _control_plane(
    target: Target, phase: str, ns: str, t: float, profile: list[tuple[str, str]]
) -> list[Step]:
    """istio-base and istiod (retries off, on the control-plane node), with ``profile``
    values (ambient's) where given: the steps sidecar and ambient Istio share."""
    return [
        cmd.helm_repo_add(phase, versions.ISTIO_BASE),
        cp_namespace(target, phase, ns, {}),
        cmd.helm_install(target, phase, "istio-base", versions.ISTIO_BASE, ns, t),
        cmd.helm_install(
            target,
            phase,
            "istiod",
            versions.ISTIOD,
            ns,
            t,
            [*profile, ISTIO_NO_RETRIES],
            json_values=control_plane_placement(target),
        ),
    ]


class Istio(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = self.cp_namespace
        return [
            *_control_plane(target, phase, ns, t, []),
            cmd.wait_deployments(target, phase, ns, t),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = self.cp_namespace
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


class IstioAmbient(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = self.cp_namespace
        ambient = [("profile", "ambient")]
        return [
            *_control_plane(target, phase, ns, t, ambient),
            cmd.helm_install(target, phase, "istio-cni", versions.ISTIO_CNI, ns, t, ambient),
            cmd.helm_install(target, phase, "ztunnel", versions.ISTIO_ZTUNNEL, ns, t),
            cmd.wait_deployments(target, phase, ns, t),
            cmd.wait_daemonset(target, phase, ns, "istio-cni-node", t),
            cmd.wait_daemonset(target, phase, ns, "ztunnel", t),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = self.cp_namespace
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
