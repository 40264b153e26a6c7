"""Names of everything the kind platform creates, derived once from the scenario.

Safety lives here: meshbench only ever talks to the kube context it derives (its own kind
cluster ``kind-<cluster_name>``) or to the one the scenario names explicitly, and every
namespace it deploys into carries :data:`MANAGED_BY`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from meshbench import __version__
from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.config.scenario import Scenario

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "meshbench"
MANAGED_BY = {MANAGED_BY_KEY: MANAGED_BY_VALUE}
"""Label on every namespace and object meshbench creates; nothing else is ever touched."""

CLUSTER_MARKER_KEY = "meshbench.io/created-by"
"""Node label set by manifests/kind/cluster.yaml: proves a kind cluster is meshbench's own."""

ROLE_KEY = "meshbench.io/role"
"""Node and pod label: ``app`` (the sample services) or ``load`` (the generator)."""

DEFAULT_IMAGE = f"meshbench:{__version__}"

BASELINE_NAMESPACE_INFIX = {BASELINE: "base", AA_CONTROL: "base-aa"}
"""A baseline arm's namespaces: ``<prefix>-base-app`` / ``<prefix>-base-load`` for ``none``,
``<prefix>-base-aa-*`` for ``none-aa``, so each can run beside a mesh in its install window
(:mod:`meshbench.planning.windows`) without sharing the mesh's namespaces."""


@dataclass(frozen=True)
class Target:
    """Where and under which names the kind platform works for one scenario."""

    cluster_name: str
    namespace_prefix: str
    kube_context: str
    own_cluster: bool  # True: meshbench's kind cluster (created or reused); False: named context
    app_ns: str
    load_ns: str
    image: str
    build_image: bool  # build manifests/image/Dockerfile and `kind load` it
    pin_nodes: bool
    work_dir: Path  # per-run scratch: kind config, Linkerd certificates

    @property
    def pull_policy(self) -> str:
        """``Never`` for an image kind loaded into the nodes, ``IfNotPresent`` otherwise."""
        return "Never" if self.build_image else "IfNotPresent"

    def for_mesh(self, mesh: str) -> Target:
        """Where a deployment of ``mesh`` works: a baseline arm in namespaces of its own
        (:data:`BASELINE_NAMESPACE_INFIX`), a mesh in ``<prefix>-app`` / ``<prefix>-load``."""
        infix = BASELINE_NAMESPACE_INFIX.get(mesh)
        if infix is None:
            return self
        p = f"{self.namespace_prefix}-{infix}"
        return replace(self, app_ns=f"{p}-app", load_ns=f"{p}-load")


def target_for(scenario: Scenario, work_dir: Path) -> Target:
    """The :class:`Target` of ``scenario``; ``work_dir`` holds per-run files."""
    k = scenario.kind
    own = k.context is None
    context = f"kind-{k.cluster_name}" if own else str(k.context)
    if own:
        cluster = k.cluster_name
    else:
        cluster = context.removeprefix("kind-") if context.startswith("kind-") else ""
    return Target(
        cluster_name=cluster,
        namespace_prefix=k.namespace_prefix,
        kube_context=context,
        own_cluster=own,
        app_ns=f"{k.namespace_prefix}-app",
        load_ns=f"{k.namespace_prefix}-load",
        image=k.image or DEFAULT_IMAGE,
        build_image=k.image is None,
        pin_nodes=k.pin_nodes and own,
        work_dir=work_dir,
    )
