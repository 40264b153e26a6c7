"""What the kind platform needs to know about a mesh (:class:`Mesh`; ``none`` is the
plain one) and where its proxies count requests (:class:`StatsSource`), plus the chart and
namespace helpers every mesh's install shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshbench.config.scenario import Scenario
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind.manifests import Obj, namespace
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import CONTROL_PLANE_NAMESPACE, Target


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
