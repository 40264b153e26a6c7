"""Kuma: meshbench's own ``default`` Mesh (none of Kuma's default retry, timeout and
circuit-breaker policies), with the builtin CA for mTLS or without it."""

from __future__ import annotations

from meshbench.config.scenario import Scenario
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind import versions
from meshbench.platforms.kind.manifests import Obj
from meshbench.platforms.kind.meshes.base import Mesh, control_plane_placement, cp_namespace
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import MANAGED_BY, Target


class Kuma(Mesh):
    def install_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"mesh {self.name}"
        ns = self.cp_namespace
        # No default Mesh: meshbench applies its own, which skips Kuma's default policies.
        values: list[tuple[str, str]] = [("controlPlane.defaults.skipMeshCreation", "true")]
        if scenario.client_sidecar:
            # Jobs finish only when the sidecar is a native (restartable init) container.
            values.append(("experimental.sidecarContainers", "true"))
        return [
            cmd.helm_repo_add(phase, versions.KUMA),
            cp_namespace(target, phase, ns, {}),
            cmd.helm_install(
                target,
                phase,
                "kuma",
                versions.KUMA,
                ns,
                t,
                values,
                json_values=control_plane_placement(target, "controlPlane."),
            ),
            cmd.wait_deployments(target, phase, ns, t),
        ]

    def uninstall_steps(self, scenario: Scenario, target: Target) -> list[Step]:
        t = scenario.kind.install_timeout_s
        phase = f"teardown {self.name}"
        ns = self.cp_namespace
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
                        "namespace": self.cp_namespace,
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
