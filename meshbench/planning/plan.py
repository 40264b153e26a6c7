"""Turn a scenario into an ordered list of trials.

Order matters: machines drift (thermal, page cache, background work), so a mesh that
always runs first is flattered or punished. Each repeat runs every cell once: the sweep
cells (rate x connections x payload x depth x mTLS) in an order shuffled with the
recorded seed, and within each the meshes in a shuffled order rotated by one per repeat,
so every mesh takes every position equally often over ``len(meshes)`` repeats. With
``deployments: N`` the repeats are split into N consecutive groups, each run against
fresh deployments of every arm.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from meshbench.config import dimensions
from meshbench.config.protocols import Protocol
from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.errors import MeshbenchError
from meshbench.load.spec import LoadRequest


@dataclass(frozen=True)
class Trial:
    """One measured cell: a mesh at one point of the sweep, one repetition. The sweep
    fields are :data:`~meshbench.config.dimensions.DIMENSIONS`, as planned.

    Words about deploying, each with one meaning:

    - a *deployment*: one arm's running pods (and sidecars), built for a set of settings
      (:class:`meshbench.platforms.base.Deployment`);
    - :meth:`deployed_settings`: this trial's values of the settings a deployment is built
      for (:data:`~meshbench.config.dimensions.DEPLOYED`);
    - the *deployment group* (field ``deployment``, stored under that name): which of the
      scenario's ``deployments`` fresh deployments of each arm this trial runs against;
    - :attr:`deployment_key`: the trials that share one deployment (arm, settings, group).
    """

    trial_id: str
    order: int
    mesh: str
    rate_rps: float
    repeat: int
    connections: int
    payload_bytes: int | None = None  # None: as the topology says
    depth: int | None = None  # None: the scenario's own topology
    mtls: bool | None = None  # None: the mesh's default (kind: kind.mtls)
    protocol: Protocol | None = None  # None: the topology's
    requests_per_connection: int | None = None  # None: the topology's
    capture: str | None = None  # "on"/"off" in attribution mode; None: no attribution
    deployment: int = 1  # the deployment group: which fresh deployment of the arm (1-based)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def record_keys(self) -> dict[str, Any]:
        """What names this trial in its stored record (trials.csv): id, order, arm,
        repeat, deployment group, install window ('' outside windows) and the sweep."""
        return {
            "trial_id": self.trial_id,
            "order": self.order,
            "mesh": self.mesh,
            "repeat": self.repeat,
            "deployment": self.deployment,
            "window": str(getattr(self, "window", "")),
            "sweep": {d.name: getattr(self, d.name) for d in dimensions.DIMENSIONS},
        }

    def topology(self, scenario: Scenario) -> Topology:
        """The topology this trial's deployment runs (the scenario's, or a swept variant)."""
        return scenario.topology_for(
            self.depth,
            self.payload_bytes,
            self.protocol,
            self.requests_per_connection,
        )

    def load_request(self, scenario: Scenario, target_url: str) -> LoadRequest:
        """What the generator is asked to send in this trial: the scenario's load at this
        trial's rate and connections, seeded per trial from the run's seed."""
        load = scenario.load
        topology = self.topology(scenario)
        return LoadRequest(
            target_url=target_url,
            rate_rps=self.rate_rps,
            duration_s=load.duration_s,
            warmup_s=load.warmup_s,
            connections=self.connections,
            schedule=load.schedule,
            timeout_s=load.timeout_s,
            seed=scenario.seed * 1000 + self.order,
            label=self.trial_id,
            protocol=topology.protocol,
            requests_per_connection=topology.requests_per_connection,
            stream=topology.service(topology.entry).stream_chunks > 0,
            request_id_prefix=f"t{self.order}" if self.capture == "on" else "",
        )

    @property
    def deployment_key(self) -> tuple[object, ...]:
        """Trials with the same key run against the same deployment: the mesh, the settings
        a deployment is built for (:data:`~meshbench.config.dimensions.DEPLOYED`), the group."""
        return (self.mesh, *self.deployed_settings(), self.deployment)

    def deployed_settings(self) -> tuple[object, ...]:
        """This trial's values of the settings a deployment is built for."""
        return tuple(getattr(self, d.name) for d in dimensions.DEPLOYED)

    @property
    def deployment_name(self) -> str:
        """A file-name-safe name of this trial's deployment (``envoy-d3-1024B-g2``)."""
        return dimensions.deployment_label(self.mesh, self.to_dict(), self.deployment)


def deployment_of(repeat: int, repeats: int, deployments: int) -> int:
    """The deployment group (1-based) of a repeat: ``repeats`` split into ``deployments``
    consecutive groups of (nearly) equal size."""
    return (repeat - 1) * deployments // repeats + 1


def plan_trials(scenario: Scenario) -> list[Trial]:
    """All trials of ``scenario`` in execution order (deterministic for a given seed)."""
    rng = random.Random(scenario.seed)
    meshes = list(scenario.arms)
    rng.shuffle(meshes)
    return interleave(scenario.model_dump(mode="json"), meshes, rng.shuffle)


def interleave(
    stored: Mapping[str, Any],
    meshes: list[str],
    shuffle: Callable[[list[dict[str, Any]]], None] = lambda cells: None,
) -> list[Trial]:
    """Trials of a scenario as run.json stores it: each repeat runs every sweep cell (in
    the order ``shuffle`` leaves them), each cell every mesh, the meshes rotated by one per
    repeat; repeats split into the scenario's fresh-deployment groups."""
    cells = dimensions.expand(stored)
    repeats = int(stored["repeats"])
    trials: list[Trial] = []
    for repeat in range(1, repeats + 1):
        rot = (repeat - 1) % len(meshes)
        mesh_order = meshes[rot:] + meshes[:rot]
        shuffled = list(cells)
        shuffle(shuffled)
        group = deployment_of(repeat, repeats, int(stored.get("deployments", 1)))
        for cell in shuffled:
            label = dimensions.cell_label(cell, stored)
            for mesh in mesh_order:
                order = len(trials) + 1
                trials.append(
                    Trial(
                        trial_id=f"t{order:03d}-{mesh}-{label}-r{repeat}",
                        order=order,
                        mesh=mesh,
                        repeat=repeat,
                        deployment=group,
                        **cell,
                    )
                )
    return trials


TRIAL_OVERHEAD_S = 1.1
"""Per trial beyond its warm-up and measured time (start, counters, files): measured on
the default scenario (12.1 s a trial for 3 + 8 s of load)."""
DEPLOY_S = 2.0
"""A fresh local deployment of one arm, proven (measured: ~2 s)."""


HLOG_BYTES_PER_S = 1100
"""Stored histogram log per second of trial (measured: 8.4 kB for an 8 s trial)."""
GENERATOR_MEMORY_MB = 80
"""Resident memory of one generator worker, bounded whatever the rate: the schedule is
lazy and at most ``load.generator.MAX_QUEUED`` sends wait. Measured peak RSS
(``generator_rss_mib``, VmHWM) against an instant local service for 1 + 3 s: 64 MiB at
150 rps, 66 MiB at 20,000 rps, 67 MiB at 1 M rps."""

CAPTURE_BYTES_PER_REQUEST = 4500
"""Captured bytes per request per pod in attribution mode (full packets, both the veth and
the loopback): measured on the three-hop chain with sidecars, 1 KiB replies (16.7 kB a
request over its four pods). Gzip keeps about a twentieth of a plaintext capture and a
half of a mutual-TLS one."""

PLAN_LIMIT_S = 24 * 3600.0
"""A plan longer than this is refused unless confirmed (``--yes``)."""
PLAN_LIMIT_REQUESTS = 100_000_000
"""A plan sending more requests than this is refused unless confirmed (``--yes``)."""


@dataclass(frozen=True)
class Estimate:
    """What a plan will cost before it runs (local platform figures)."""

    trials: int
    requests: int
    duration_s: float
    disk_bytes: int = 0
    memory_mb: int = 0
    capture_bytes: int = 0  # attribution mode's captures, raw, over the whole plan
    captures_kept: bool = False

    def __str__(self) -> str:
        text = (
            f"{self.trials} trials, about {self.requests:,} requests, about "
            f"{_human_s(self.duration_s)}, {_human_bytes(self.disk_bytes)} of histograms, "
            f"generator memory under {self.memory_mb} MB"
        )
        if self.capture_bytes:
            text += f", about {_human_bytes(self.capture_bytes)} of packet captures " + (
                "(kept gzipped under RUN/captures)"
                if self.captures_kept
                else "(each deployment's removed once read)"
            )
        return text

    def excesses(self) -> list[str]:
        """What exceeds the limits that need confirming, in words (empty: nothing)."""
        out = []
        if self.duration_s > PLAN_LIMIT_S:
            out.append(f"about {_human_s(self.duration_s)} (limit {_human_s(PLAN_LIMIT_S)})")
        if self.requests > PLAN_LIMIT_REQUESTS:
            out.append(f"about {self.requests:,} requests (limit {PLAN_LIMIT_REQUESTS:,})")
        return out


def confirm_limits(est: Estimate, confirmed: bool, what: str) -> None:
    """Refuse a plan beyond the limits unless ``confirmed`` (the CLI's ``--yes``)."""
    excess = est.excesses()
    if excess and not confirmed:
        raise MeshbenchError(
            f"{what} would take {' and '.join(excess)}",
            fix="shorten it (fewer repeats, rates or seconds), or pass --yes to run it anyway",
        )


def estimate(scenario: Scenario, trials: list[Trial]) -> Estimate:
    """Trials, requests and wall time of ``trials`` (deploying included, cluster set-up and
    mesh installs on kind not)."""
    per_trial_s = scenario.load.warmup_s + scenario.load.duration_s
    requests = sum(int(t.rate_rps * per_trial_s) for t in trials)
    deployments = len({t.deployment_key for t in trials})
    duration = len(trials) * (per_trial_s + TRIAL_OVERHEAD_S) + deployments * DEPLOY_S
    disk = int(len(trials) * per_trial_s * HLOG_BYTES_PER_S)
    captured = sum(
        int(t.rate_rps * per_trial_s)
        * (len(list(t.topology(scenario).reachable())) + 1)
        * CAPTURE_BYTES_PER_REQUEST
        for t in trials
        if t.capture == "on"
    )
    return Estimate(
        len(trials),
        requests,
        duration,
        disk,
        scenario.load.workers * GENERATOR_MEMORY_MB,
        captured,
        scenario.attribution.keep_captures == "compressed",
    )


def load_estimate(rate_rps: float, warmup_s: float, duration_s: float, workers: int) -> Estimate:
    """The cost of one ``meshbench load`` invocation (rate and times already finite)."""
    per_s = warmup_s + duration_s
    return Estimate(
        1,
        int(rate_rps * per_s),
        per_s,
        int(per_s * HLOG_BYTES_PER_S),
        workers * GENERATOR_MEMORY_MB,
    )


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} TB"


def _human_s(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


Severity = Literal["refuse", "estimate", "warn"]


@dataclass(frozen=True)
class PlanProblem:
    """Why a plan may not give a valid, baselined result. ``refuse``: it cannot, whatever
    the host; ``estimate``: a quick estimate says this host cannot (refused unless
    confirmed with ``--yes``, as an estimate may be wrong); ``warn``: it runs, with less."""

    severity: Severity
    text: str
    fix: str

    def __str__(self) -> str:
        return f"{self.text} (fix: {self.fix})"


def plan_problems(scenario: Scenario, trials: list[Trial]) -> list[PlanProblem]:
    """What makes ``trials`` unable to give a valid, baselined result on any platform:
    trials too short for their rate to pass the achieved-rate rule, no baseline arm."""
    out = []
    ratio = scenario.validity.min_achieved_ratio
    duration_s = scenario.load.duration_s
    # a trial one request short of its plan achieves (n - 1) / n of its rate: with fewer
    # than 1 / (1 - ratio) requests that alone fails validity.min_achieved_ratio
    need = math.ceil(1 / (1 - ratio) - 1e-9) if ratio < 1 else 1
    for rate in sorted({t.rate_rps for t in trials}):
        n = rate * duration_s
        if n < need:
            out.append(
                PlanProblem(
                    "refuse",
                    f"at {rate:g} rps a {duration_s:g} s trial plans {n:.3g} measured "
                    f"request(s); below {need} a single request fewer fails "
                    f"validity.min_achieved_ratio {ratio:g}, so its trials would be invalid",
                    f"raise load.duration_s to at least {need / rate:.3g} s or the rate to "
                    f"at least {need / duration_s:.3g} rps",
                )
            )
    if dimensions.BASELINE not in scenario.meshes:
        out.append(
            PlanProblem(
                "warn",
                f"meshes {list(scenario.meshes)} have no {dimensions.BASELINE!r} arm: the run "
                "measures each mesh's latency but no overhead against a baseline",
                f"add {dimensions.BASELINE!r} to meshes",
            )
        )
    return out


def refuse_problems(problems: list[PlanProblem], confirmed: bool) -> None:
    """Raise for the first problem that refuses the plan (``estimate`` ones only when not
    ``confirmed``); warnings pass."""
    for p in problems:
        if p.severity == "refuse" or (p.severity == "estimate" and not confirmed):
            more = "; or pass --yes to run it anyway" if p.severity == "estimate" else ""
            raise MeshbenchError(
                f"this plan cannot give a valid result: {p.text}", fix=p.fix + more
            )
