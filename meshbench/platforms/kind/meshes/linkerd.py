"""Linkerd: its own trust anchor and issuer per run, the Gateway API CRDs it needs (kept
when the cluster already had them), and mTLS that is always on between meshed pods."""

from __future__ import annotations

from pathlib import Path

from meshbench.config.scenario import Scenario
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.meshes.base import Mesh, control_plane_placement, cp_namespace
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import Target

LINKERD_CERT_FILES = ("ca.crt", "issuer.crt", "issuer.key")
LINKERD_CERTS = "linkerd-certs"
GATEWAY_API_INSTALL = "gateway-api-install"
GATEWAY_API_REMOVE = "gateway-api-remove"
GATEWAY_API_CRD = "httproutes.gateway.networking.k8s.io"


class Linkerd(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = self.cp_namespace
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
            cp_namespace(target, phase, ns, ns_labels, {"linkerd.io/inject": "disabled"}),
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
                json_values=control_plane_placement(target),
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
        ns = self.cp_namespace
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


def linkerd_cert_dir(target: Target) -> Path:
    return target.work_dir / "linkerd-identity"
