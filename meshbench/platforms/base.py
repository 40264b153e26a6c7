"""The interface every platform implements.

The orchestrator (:mod:`meshbench.runner.run`) only talks to these two classes, so a scenario
runs unchanged on the local platform and on Kubernetes.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.host.pinning import Pinning
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.planning.plan import PlanProblem, Trial, estimate


@dataclass
class UsageSnapshot:
    """Cumulative CPU time (s) and current memory (bytes) per container, at one instant."""

    taken_at_s: float  # seconds (monotonic locally; epoch on kind)
    cpu_s: dict[str, float] = field(default_factory=dict)  # key: "<pod>/<container>"
    rss_bytes: dict[str, int] = field(default_factory=dict)
    # When a container's figures were sampled, where the platform's samples carry their own
    # time (the kubelet's are cached, up to ~15 s old); same clock as taken_at_s.
    sampled_at_s: dict[str, float] = field(default_factory=dict)
    note: str = ""  # why these figures may be unreliable ('' = no known reason)
    # Per container, the relative bound on cores since the snapshot before that the sample
    # times' resolution leaves (kind: the kubelet's whole-second stamps); absent: exact.
    cpu_rel_bound: dict[str, float] = field(default_factory=dict)

    def cores_since(self, before: UsageSnapshot, role: str) -> float:
        """Cores used by the containers of ``role`` between ``before`` and this snapshot:
        per container, Δ CPU time ÷ Δ its own sample time."""
        total = 0.0
        for key, cpu in self.cpu_s.items():
            if not key.endswith("/" + role) or key not in before.cpu_s:
                continue
            dt = self.sampled_at_s.get(key, self.taken_at_s) - before.sampled_at_s.get(
                key, before.taken_at_s
            )
            total += (cpu - before.cpu_s[key]) / max(1e-9, dt)
        return total


@dataclass
class Proof:
    """Evidence that the deployment is what the mesh name says it is."""

    sidecars: dict[str, bool]  # pod -> has a sidecar
    crossed_sidecars: bool  # a probe request was seen by the sidecars
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PlatformEnvironment:
    """What a run records about its platform: run.json's ``platform`` (:meth:`to_json`;
    each platform's own fields in its subclass), with the parts the orchestrator reads
    itself as typed fields."""

    name: str
    """The platform, as analysis and compare read it."""
    versions: dict[str, str] = field(default_factory=dict)
    """Tool versions; run.json's top-level ``versions`` takes them in too."""
    pinning: Pinning | None = None
    """The CPUs each role is pinned to, where the platform pins them (local): run.json's
    ``pinning``, and the CPUs whose load each trial records."""
    host_warnings: tuple[str, ...] = ()
    """What the host check says about the pinned CPUs, printed as the run starts."""

    def to_json(self) -> dict[str, Any]:
        """run.json's ``platform``: the name, and the versions and pinning where known."""
        out: dict[str, Any] = {"name": self.name}
        if self.versions:
            out["versions"] = dict(self.versions)
        if self.pinning is not None:
            out["pinning"] = self.pinning.to_json()
        return out


class Deployment(abc.ABC):
    """The sample application deployed with one mesh, ready to take load."""

    mesh: str
    scenario: Scenario

    @abc.abstractmethod
    def target_url(self) -> str:
        """The URL the load generator sends to (the entry service, as clients reach it)."""

    @abc.abstractmethod
    def verify(self) -> Proof:
        """Check sidecars are present (or absent for ``none``) and a request crossed them.

        Raises :class:`~meshbench.errors.PlatformError` when the check fails.
        """

    def problems(self) -> list[str]:
        """What is wrong with the deployment now (a dead sidecar or app), checked between
        trials; empty when it is healthy or the platform cannot tell."""
        return []

    @abc.abstractmethod
    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        """Every sidecar's counters, keyed by pod name (empty for ``none``)."""

    @abc.abstractmethod
    def usage(self) -> UsageSnapshot:
        """CPU and memory of every sidecar, service and the generator right now."""

    @abc.abstractmethod
    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        """Run the bounded load; leave summary.json, latency.hlog, locust_stats.json in
        ``out_dir`` (made by the run, inside the run directory, before it is called)."""

    def measured_usage(self) -> tuple[UsageSnapshot, UsageSnapshot] | None:
        """Usage sampled at the measured phase's boundaries during the last
        :meth:`run_load`, where the platform samples them (kind); None: the orchestrator's
        own snapshots around run_load stand."""
        return None

    def check_accounting(
        self, before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], sent: int
    ) -> list[str]:
        """Problems found comparing sidecar counters (before/after a trial) with ``sent``.

        An empty list means the sidecars account for every request (or the platform cannot
        tell); each problem makes the trial invalid.
        """
        return []


class Platform(abc.ABC):
    """Where the sample application runs."""

    name: str
    scenario: Scenario
    concurrent_meshes: bool = False
    """True when several meshes can be deployed side by side (then trials interleave freely)."""
    baseline_beside_each_mesh: bool = False
    """True when meshes run one at a time but the baseline arms can be deployed beside each
    (their own unmeshed namespaces): trials then run in install windows
    (:mod:`meshbench.planning.windows`), the baseline interleaved with every mesh."""
    shares_host: bool = False
    """True when the pods and the generator run on this host's CPUs: a run then holds the
    host lock, so two runs never measure each other."""
    logs_dest: Path | None = None
    """Where :meth:`collect_logs` will copy the logs (set by the run), so that error
    messages point where the logs will be, not into state that cleanup removes."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    @classmethod
    def check_scenario(cls, scenario: Scenario) -> None:
        """Refuse, before anything starts, a scenario this host cannot run."""
        return None

    @classmethod
    def plan(cls, scenario: Scenario, trials: list[Trial]) -> str:
        """What a run would do, printed by ``run --dry-run`` without executing anything:
        by default the estimate and the trials in order."""
        est = estimate(scenario, trials)
        lines = [
            f"scenario {scenario.name}: platform {scenario.platform}, {len(trials)} trials, "
            f"seed {scenario.seed}",
            f"estimate: {est}",
        ]
        if est.excesses():
            lines.append(f"beyond the limits ({'; '.join(est.excesses())}): `run` needs --yes")
        lines += [f"  {t.order:3d}. {t.trial_id}" for t in trials]
        return "\n".join(lines)

    @abc.abstractmethod
    def environment(self) -> PlatformEnvironment:
        """Versions, core pinning and anything else recorded in run.json."""

    @classmethod
    def capacity_problems(cls, scenario: Scenario, trials: list[Trial]) -> list[PlanProblem]:
        """What a quick estimate says this platform cannot serve (a topology too big for
        the host's cores at a rate): checked by the dry run and before a run starts."""
        return []

    @abc.abstractmethod
    def deploy(
        self,
        mesh: str,
        topology: Topology,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> AbstractContextManager[Deployment]:
        """Deploy ``topology`` with ``mesh``; removed on exit, on every path.

        ``mtls`` None means the mesh's default (the scenario's); ``none-aa`` deploys like
        ``none`` (the A/A control arm). ``name``: what this deployment's artefacts (its
        logs) are called, unique within the run (the run names it by deployment group:
        ``envoy-g2``); None: the mesh. ``capture``: attribution mode's captures for the
        deployment's whole life (local platform only).
        """

    def collect_logs(self, dest: Path) -> None:  # noqa: B027 - optional hook
        """Copy component logs (sidecars, apps) into ``dest`` before they are removed,
        each file atomically and never through a link (:mod:`meshbench.results.rundir`)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release platform-wide resources (a cluster it created, a bridge namespace)."""
