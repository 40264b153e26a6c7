"""What a kind run records about its platform (run.json ``platform``): the cluster and
its namespaces, each mesh's settings, the pods' resources, and, once the cluster is
prepared, what the cluster says of itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshbench.platforms.base import PlatformEnvironment

LOAD_COORDINATION = (
    "Locust-based open-loop generator per worker pod (Indexed Job), each taking "
    "1/N of the schedule from a shared origin; coordinated and merged by meshbench "
    "(no Locust master)"
)


@dataclass(frozen=True)
class KindCluster:
    """The prepared cluster as it answered: server version, nodes, clock skew."""

    kubernetes_server: str
    nodes: dict[str, dict[str, str]]
    """Per node, its role, architecture and OS labels."""
    created_by_this_run: bool
    clock_skew: dict[str, Any] | str
    """The nodes' clock skew as measured (:func:`~meshbench.platforms.kind.clocks.record`),
    or why it was not."""
    kind_client: str | None = None
    """``kind version`` (or why it is unknown); None: not a kind cluster."""

    def versions(self) -> dict[str, str]:
        """What run.json's versions take from the cluster."""
        out = {"kubernetes_server": self.kubernetes_server}
        if self.kind_client is not None:
            out["kind_client"] = self.kind_client
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kubernetes_server": self.kubernetes_server,
            "nodes": self.nodes,
            "cluster_created_by_this_run": self.created_by_this_run,
            "clock_skew": self.clock_skew,
        }
        if self.kind_client is not None:
            out["kind_client"] = self.kind_client
        return out


@dataclass(frozen=True)
class KindSetup:
    """The target, the meshes' settings and the pods' resources as the scenario sets
    them: known without a cluster (a dry run records them too)."""

    pinned_versions: dict[str, str]
    kube_context: str
    own_cluster: bool
    cluster_name: str
    namespaces: dict[str, Any]
    """``app`` and ``load``, and per baseline arm its own (unmeshed) ``app`` and ``load``."""
    image: str
    mtls: dict[str, str]
    mtls_always_on: list[str]
    resilience_policies: dict[str, str]
    placement: str
    kubernetes_tested_ranges: dict[str, str]
    client_sidecar: bool
    load_workers: int
    cpu_timing: str
    resources: dict[str, str | None]

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": "kind",
            "pinned_versions": self.pinned_versions,
            "kube_context": self.kube_context,
            "own_cluster": self.own_cluster,
            "cluster_name": self.cluster_name,
            "namespaces": self.namespaces,
            "image": self.image,
            "mtls": self.mtls,
            "mtls_always_on": self.mtls_always_on,
            "resilience_policies": self.resilience_policies,
            "placement": self.placement,
            "kubernetes_tested_ranges": self.kubernetes_tested_ranges,
            "client_sidecar": self.client_sidecar,
            "load_workers": self.load_workers,
            "load_coordination": LOAD_COORDINATION,
            "cpu_timing": self.cpu_timing,
            "resources": self.resources,
        }


@dataclass(frozen=True, kw_only=True)
class KindEnvironment(PlatformEnvironment):
    """The scenario's setup, and the cluster once prepared (None: a dry run, which
    prepares nothing and says so)."""

    setup: KindSetup
    cluster: KindCluster | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, **self.setup.to_json(), "versions": dict(self.versions)}
        if self.cluster is None:
            out["dry_run"] = True
        else:
            out.update(self.cluster.to_json())
        return out
