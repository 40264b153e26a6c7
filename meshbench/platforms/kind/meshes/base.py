"""What the kind platform does with a declared mesh (:class:`Mesh`; ``none`` is the plain
one), plus the chart and namespace helpers every mesh's install shares."""

from __future__ import annotations

from dataclasses import dataclass

from meshbench.config.meshes import MeshDecl, StatsSource
from meshbench.config.scenario import Scenario
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind.manifests import Obj, namespace
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import Target


@dataclass(frozen=True)
class Mesh:
    """How the kind platform installs, configures and removes one declared mesh (``none``
    included: it installs nothing); the facts come from its :class:`MeshDecl`."""

    decl: MeshDecl

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def sidecar(self) -> str | None:
        """The container injected into every workload pod (None: no sidecar)."""
        return self.decl.sidecar_container

    @property
    def ns_labels(self) -> dict[str, str]:
        return self.decl.ns_labels

    @property
    def ns_annotations(self) -> dict[str, str]:
        return self.decl.ns_annotations

    @property
    def client_annotations(self) -> dict[str, str]:
        """Annotations of meshed Job pods (probe and load with ``client_sidecar``)."""
        return self.decl.client_annotations

    @property
    def stats(self) -> StatsSource | None:
        return self.decl.stats

    @property
    def mtls_always_on(self) -> bool:
        return self.decl.mtls_always_on

    @property
    def cp_namespace(self) -> str:
        """The control plane's namespace ("" when the mesh installs none)."""
        return self.decl.cp_namespace

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


def control_plane_placement(target: Target, prefix: str = "") -> list[tuple[str, object]]:
    """Chart values that put a control plane on the control-plane node (own cluster only:
    another cluster may have no schedulable control-plane node)."""
    if not target.pin_nodes:
        return []
    return [
        (f"{prefix}nodeSelector", cmd.CONTROL_PLANE_NODE_SELECTOR),
        (f"{prefix}tolerations", cmd.CONTROL_PLANE_TOLERATIONS),
    ]


def cp_namespace(
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
