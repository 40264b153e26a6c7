"""Builders of the kind / docker / helm / kubectl steps; pure, shared by plan and run.

Every kubectl and helm command names the kube context explicitly (``--context`` /
``--kube-context``): the user's current context is never consulted, so a forgotten
``kubectl config use-context`` cannot point a load test at another cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from meshbench.platforms.kind import versions
from meshbench.platforms.kind.manifests import Obj
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import Target
from meshbench.platforms.kind.versions import Chart


def kubectl(target: Target, *args: str) -> tuple[str, ...]:
    return ("kubectl", "--context", target.kube_context, *args)


def apply(
    target: Target, phase: str, what: str, objs: Sequence[Obj], timeout_s: float = 120
) -> Step:
    """``kubectl apply -f -`` with ``objs`` piped in (server-side, so CRDs merge cleanly)."""
    return Step(
        phase,
        what,
        kubectl(target, "apply", "--server-side", "--field-manager=meshbench", "-f", "-"),
        stdin_objects=tuple(objs),
        timeout_s=timeout_s,
    )


def delete_objects(target: Target, phase: str, what: str, objs: Sequence[Obj]) -> Step:
    """``kubectl delete -f -`` of objects meshbench applied (cleanup: never fatal)."""
    return Step(
        phase,
        what,
        kubectl(target, "delete", "--ignore-not-found", "--wait=true", "-f", "-"),
        stdin_objects=tuple(objs),
        ignore_errors=True,
    )


def _wait(target: Target, phase: str, what: str, timeout_s: float, *args: str) -> Step:
    """``kubectl ARGS --timeout=<timeout_s>``, with 30 s more for kubectl itself."""
    return Step(
        phase,
        f"wait: {what}",
        kubectl(target, *args, f"--timeout={int(timeout_s)}s"),
        timeout_s=timeout_s + 30,
    )


def wait_deployments(target: Target, phase: str, namespace: str, timeout_s: float) -> Step:
    """Block until every Deployment in ``namespace`` has condition Available."""
    return _wait(
        target,
        phase,
        f"every Deployment in {namespace} Available",
        timeout_s,
        "wait",
        "--for=condition=Available",
        "deployment",
        "--all",
        "--namespace",
        namespace,
    )


def wait_daemonset(target: Target, phase: str, namespace: str, name: str, timeout_s: float) -> Step:
    """Block until DaemonSet ``name`` has rolled out on every node."""
    return _wait(
        target,
        phase,
        f"DaemonSet {namespace}/{name} rolled out",
        timeout_s,
        "rollout",
        "status",
        f"daemonset/{name}",
        "--namespace",
        namespace,
    )


def delete_job(target: Target, phase: str, namespace: str, name: str) -> Step:
    return Step(
        phase,
        f"delete Job {namespace}/{name}",
        kubectl(
            target,
            "delete",
            "job",
            name,
            "--namespace",
            namespace,
            "--ignore-not-found",
            "--cascade=foreground",
            "--wait=true",
            "--timeout=120s",
        ),
        timeout_s=180,
        ignore_errors=True,
    )


def delete_namespace(target: Target, phase: str, namespace: str, timeout_s: float = 300) -> Step:
    return Step(
        phase,
        f"delete namespace {namespace}",
        kubectl(
            target,
            "delete",
            "namespace",
            namespace,
            "--ignore-not-found",
            "--wait=true",
            f"--timeout={int(timeout_s)}s",
        ),
        timeout_s=timeout_s + 30,
        ignore_errors=True,
    )


def helm_repo_add(phase: str, chart: Chart) -> Step:
    return Step(
        phase,
        f"helm repository {chart.repo_name}",
        ("helm", "repo", "add", chart.repo_name, chart.repo_url, "--force-update"),
        timeout_s=120,
    )


def helm_install(
    target: Target,
    phase: str,
    release: str,
    chart: Chart,
    namespace: str,
    timeout_s: float,
    values: Sequence[tuple[str, str]] = (),
    files: Sequence[tuple[str, Path]] = (),
    json_values: Sequence[tuple[str, object]] = (),
) -> Step:
    """``helm upgrade --install`` at the pinned version, waiting for its resources.

    ``json_values`` go through ``--set-json`` (Helm >= 3.10): lists and keys with dots
    (tolerations, node selectors) without --set's escaping rules.
    """
    argv: list[str] = [
        "helm",
        "upgrade",
        "--install",
        release,
        chart.ref,
        "--version",
        chart.version,
        "--namespace",
        namespace,
        "--kube-context",
        target.kube_context,
        "--wait",
        "--timeout",
        f"{int(timeout_s)}s",
    ]
    for key, value in values:
        argv += ["--set", f"{key}={value}"]
    for key, path in files:
        argv += ["--set-file", f"{key}={path}"]
    for key, obj in json_values:
        argv += ["--set-json", f"{key}={json.dumps(obj, separators=(',', ':'))}"]
    return Step(
        phase,
        f"install {chart.chart} {chart.version} as release {release}",
        tuple(argv),
        timeout_s=timeout_s + 60,
    )


def helm_uninstall(
    target: Target, phase: str, release: str, namespace: str, timeout_s: float
) -> Step:
    return Step(
        phase,
        f"uninstall release {release}",
        (
            "helm",
            "uninstall",
            release,
            "--namespace",
            namespace,
            "--kube-context",
            target.kube_context,
            "--ignore-not-found",
            "--wait",
            "--timeout",
            f"{int(timeout_s)}s",
        ),
        timeout_s=timeout_s + 60,
        ignore_errors=True,
    )


def kind_get_clusters() -> Step:
    return Step("cluster", "list kind clusters", ("kind", "get", "clusters"), timeout_s=60)


def kind_create(target: Target, config_path: Path) -> Step:
    return Step(
        "cluster",
        f"create kind cluster {target.cluster_name} (Kubernetes {versions.KUBERNETES_VERSION})",
        (
            "kind",
            "create",
            "cluster",
            "--name",
            target.cluster_name,
            "--config",
            str(config_path),
            "--image",
            versions.NODE_IMAGE,
            "--wait",
            "300s",
        ),
        timeout_s=600,
    )


def kind_delete(target: Target) -> Step:
    return Step(
        "cluster teardown",
        f"delete kind cluster {target.cluster_name}",
        ("kind", "delete", "cluster", "--name", target.cluster_name),
        timeout_s=300,
        ignore_errors=True,
    )


def docker_build(target: Target, dockerfile: Path, context_dir: Path) -> Step:
    return Step(
        "cluster",
        f"build the meshbench image {target.image}",
        (
            "docker",
            "build",
            "--tag",
            target.image,
            "--file",
            str(dockerfile),
            "--build-arg",
            f"BASE_IMAGE={versions.BASE_IMAGE}",
            str(context_dir),
        ),
        timeout_s=1800,
    )


def node_clock(node: str) -> Step:
    """Read a kind node's clock (the node is a container named as the node)."""
    return Step(
        "cluster",
        f"read the clock of node {node}",
        ("docker", "exec", node, "date", "+%s.%N"),
        timeout_s=30,
    )


def kind_load(target: Target) -> Step:
    return Step(
        "cluster",
        f"load {target.image} into the nodes of kind cluster {target.cluster_name}",
        ("kind", "load", "docker-image", target.image, "--name", target.cluster_name),
        timeout_s=600,
    )


CONTROL_PLANE_NODE_SELECTOR = {"node-role.kubernetes.io/control-plane": ""}
"""The label kubeadm (so kind) puts on the control-plane node."""
CONTROL_PLANE_TOLERATIONS = [
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
]
"""Tolerate the control-plane node's taint (kubeadm's NoSchedule)."""


def pin_to_control_plane(target: Target, namespace: str, deployment: str) -> list[Step]:
    """Move a cluster add-on (CoreDNS) onto the control-plane node, then wait for it."""
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": CONTROL_PLANE_NODE_SELECTOR,
                    "tolerations": [
                        *CONTROL_PLANE_TOLERATIONS,
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                    ],
                }
            }
        }
    }
    return [
        Step(
            "cluster",
            f"move {namespace}/{deployment} to the control-plane node (off the measured nodes)",
            kubectl(
                target,
                "patch",
                "deployment",
                deployment,
                "--namespace",
                namespace,
                "--type",
                "merge",
                "--patch",
                json.dumps(patch, separators=(",", ":")),
            ),
            timeout_s=60,
        ),
        Step(
            "cluster",
            f"wait: {namespace}/{deployment} rolled out",
            kubectl(
                target,
                "rollout",
                "status",
                f"deployment/{deployment}",
                "--namespace",
                namespace,
                "--timeout=180s",
            ),
            timeout_s=210,
        ),
    ]


def kubectl_contexts() -> Step:
    return Step(
        "cluster",
        "list kube contexts (the named context must exist)",
        ("kubectl", "config", "get-contexts", "--output=name"),
        timeout_s=30,
    )


def api(phase: str, what: str, key: str = "") -> Step:
    """A check through the Kubernetes API (or a local action) shown in the plan; the
    platform runs it with the handler named ``key``, never as a command."""
    return Step(phase, what, kind="api", key=key)
