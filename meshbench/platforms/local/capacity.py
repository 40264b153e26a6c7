"""Whether this host's cores can serve a plan on the local platform: a quick estimate,
made by the dry run and before a run creates anything.

A topology too big for the cores the pods get cannot give a valid result: at start its
apps and sidecars do not all answer before the readiness deadline, and under load the
pods saturate, so every trial's send lag makes it invalid. The estimate counts CPU
time per request and per process start, measured on the reference 2-vCPU VM (the
figures below, and each protocol's ``app_cpu_ms`` in :mod:`meshbench.config.protocols`);
a host with faster cores serves more, which is why what it refuses can still be run with
``--yes``. It counts requests, not bytes: large payloads cost more than it says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from meshbench.config.cpu_list import parse_cpu_list
from meshbench.config.protocols import PROTOCOLS
from meshbench.config.scenario import Scenario
from meshbench.host.cores import MAX_POD_CORES
from meshbench.planning.plan import PlanProblem, Trial
from meshbench.platforms.local.deployment import READY_DEADLINE_S, SIDECAR_MESHES

SIDECAR_CPU_MS = 0.4
"""CPU time of one pod's sidecar per request through that pod, inbound and outbound
(the default run at 400 rps: sidecar CPU 0.42-0.51 cores for three sidecars; 0.25 at
150 rps)."""
APP_START_CPU_S = 0.3
"""CPU time of one app from ``python -m meshbench.service`` to its first answer
(measured: 0.27-0.31 s, five starts)."""
SIDECAR_START_CPU_S = 0.05
"""CPU time of one Envoy from exec to its first answer (measured: 0.03-0.05 s)."""
BUSY_SHARE = 0.7
"""Above this share of the pods' cores, queueing shapes the tail: warned."""


@dataclass(frozen=True)
class PodCores:
    """How many CPUs the apps and the sidecars get, and whether they share them."""

    apps: int
    sidecars: int
    shared: bool

    def load(self, app_cores: float, sidecar_cores: float) -> float:
        """The busiest share of the pods' CPUs for this demand (1.0: saturated)."""
        if self.shared:
            return (app_cores + sidecar_cores) / max(self.apps, self.sidecars)
        return max(app_cores / self.apps, sidecar_cores / self.sidecars)

    def __str__(self) -> str:
        if self.shared:
            return f"{self.apps} CPU(s) shared by apps and sidecars"
        return f"{self.apps} CPU(s) for apps and {self.sidecars} for sidecars"


def pod_cores(scenario: Scenario) -> PodCores:
    """The scenario's CPU lists where set; else what the automatic choice would give on
    this host's physical cores (:func:`meshbench.host.cores.choose`, without its preflight)."""
    local = scenario.local
    if local.pod_cpus:
        apps = set(parse_cpu_list(local.pod_cpus))
        sidecars = set(parse_cpu_list(local.sidecar_cpus or local.pod_cpus))
        shared = bool(apps & sidecars)
        return PodCores(len(apps | sidecars) if shared else len(apps), len(sidecars), shared)
    cpus = len(os.sched_getaffinity(0))
    cores = min(cpus, psutil.cpu_count(logical=False) or cpus)
    if cores <= 2:
        return PodCores(1, 1, True)
    ranked = cores - 1 if cores - 1 >= 3 else cores  # CPU 0's core avoided when it can be
    rest = max(1, ranked - max(1, min(scenario.load.workers, ranked - 2)))
    pods = max(1, min(MAX_POD_CORES, rest // 2))
    return PodCores(pods, pods, rest < 2)


def problems(scenario: Scenario, trials: list[Trial]) -> list[PlanProblem]:
    """The worst start and the worst load of the plan against the pods' cores."""
    cores = pod_cores(scenario)
    more = "give the pods more CPUs (local.pod_cpus, local.sidecar_cpus)"
    fix = f"lower the rate, use a smaller topology, or {more}"
    start_fix = f"use a smaller topology (fewer services), or {more}"
    out: list[PlanProblem] = []
    worst_load: tuple[float, str] = (0.0, "")
    for t in trials:
        topology = t.topology(scenario)
        served = sum(topology.requests_per_entry_request().values())
        app_ms = PROTOCOLS[topology.protocol].app_cpu_ms
        app = t.rate_rps * served * app_ms / 1000
        through = served + (1 if scenario.client_sidecar else 0)
        sidecar = t.rate_rps * through * SIDECAR_CPU_MS / 1000 if t.mesh in SIDECAR_MESHES else 0
        share = cores.load(app, sidecar)
        if share > worst_load[0]:
            worst_load = (
                share,
                f"at {t.rate_rps:g} rps the {t.mesh} arm needs about {app + sidecar:.2g} "
                f"cores ({served} request(s) per entry request at ~{app_ms:g} ms of app"
                + (f" and ~{SIDECAR_CPU_MS:g} ms of sidecar" if sidecar else "")
                + f" CPU each); this host gives its pods {cores}",
            )
    share, text = worst_load
    if share > 1:
        out.append(PlanProblem("estimate", f"{text}: the pods would saturate", fix))
    elif share > BUSY_SHARE:
        out.append(
            PlanProblem("warn", f"{text}: {share:.0%} busy, where queueing shapes the tail", fix)
        )
    worst_start: tuple[float, str] = (0.0, "")
    for key in dict.fromkeys(t.deployment_key for t in trials):
        t = next(x for x in trials if x.deployment_key == key)
        services = len(list(t.topology(scenario).reachable()))
        sidecars = services + (1 if scenario.client_sidecar else 0)
        app_s = services * APP_START_CPU_S
        sidecar_s = sidecars * SIDECAR_START_CPU_S if t.mesh in SIDECAR_MESHES else 0.0
        start_s = cores.load(app_s, sidecar_s)
        if start_s > worst_start[0]:
            worst_start = (
                start_s,
                f"deploying the {t.mesh} arm starts {services} app(s)"
                + (f" and {sidecars} sidecar(s)" if sidecar_s else "")
                + f", about {start_s:.0f} s of CPU on {cores}, against a readiness "
                f"deadline of {READY_DEADLINE_S:g} s",
            )
    start_s, text = worst_start
    if start_s > READY_DEADLINE_S:
        out.append(PlanProblem("estimate", f"{text}: it would not get ready", start_fix))
    elif start_s > READY_DEADLINE_S / 2:
        out.append(PlanProblem("warn", f"{text}: it may not get ready in time", start_fix))
    return out
