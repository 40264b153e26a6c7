"""The local platform: every pod a network namespace, every meshed pod a real Envoy.

Layout of one deployment (mesh ``envoy``, default chain)::

    mb-<run>-hub            bridge br0 (198.18.0.1/16)
    mb-<run>-envoy-load     Locust generator            198.18.<m>.10 (+ sidecar if asked)
    mb-<run>-envoy-frontend app + Envoy (uid 1337)      198.18.<m>.11
    mb-<run>-envoy-middle   app + Envoy                 198.18.<m>.12
    mb-<run>-envoy-backend  app + Envoy                 198.18.<m>.13

All meshes are deployed side by side (one address block each), so trials interleave
without redeploying. The generator is pinned to ``local.load_cpus``, the apps to
``local.pod_cpus`` and the sidecars to ``local.sidecar_cpus``; those left unset are
chosen from a host preflight (:mod:`meshbench.host.cores`), which run.json records.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meshbench import __version__
from meshbench.config.cpu_list import parse_cpu_list
from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.errors import PlatformError, ScenarioError
from meshbench.host.cores import resolve
from meshbench.host.preflight import run_preflight
from meshbench.planning.plan import PlanProblem, Trial
from meshbench.platforms import commands
from meshbench.platforms.base import Deployment, Platform
from meshbench.platforms.local import capacity, netns
from meshbench.platforms.local.cleanup import write_owner
from meshbench.platforms.local.deployment import LocalContext, LocalDeployment
from meshbench.platforms.local.environment import LocalEnvironment
from meshbench.platforms.local.envoy import (
    envoy_version,
)
from meshbench.platforms.local.names import (
    PROXY_UID,
    RUN_KEY_ENV,
    STATE_PREFIX,
    STATE_ROOT,
    hub_address,
    netns_name,
    new_run_key,
)
from meshbench.results import rundir


def check_privileges() -> None:
    """Fail in one line, with the fix, when we cannot create namespaces."""
    if os.geteuid() != 0:
        raise PlatformError(
            "the local platform needs root: it creates network namespaces, iptables rules "
            f"and runs each sidecar as uid {PROXY_UID}",
            fix="run it as root, e.g. sudo .venv/bin/meshbench run SCENARIO",
        )
    for tool in ("ip", "iptables-restore", "iptables-save", "taskset", "setpriv"):
        commands.require(tool)


class LocalPlatform(Platform):
    """Network namespaces on this machine; see the module docstring."""

    name = "local"
    concurrent_meshes = True
    shares_host = True

    @classmethod
    def check_scenario(cls, scenario: Scenario) -> None:
        """The CPUs the scenario pins to must exist (and be allowed) on this host, and
        attribution mode's capture tool must be here: refused before anything is made."""
        if scenario.attribution.enabled:
            commands.require("tcpdump")
        allowed = os.sched_getaffinity(0)
        for field in ("load_cpus", "pod_cpus", "sidecar_cpus"):
            spec = getattr(scenario.local, field)
            if spec is None:  # chosen by measurement from this host's CPUs
                continue
            missing = [c for c in parse_cpu_list(spec) if c not in allowed]
            if missing:
                raise ScenarioError(
                    f"local.{field} {spec!r} names CPU(s) {missing} that this host does not "
                    f"let meshbench use (allowed: {sorted(allowed)})",
                    fix=f"set local.{field} to CPUs of this host, e.g. "
                    f"{min(allowed)}-{max(allowed)}",
                )

    def __init__(self, scenario: Scenario) -> None:
        check_privileges()
        self.scenario = scenario
        local = scenario.local
        # the host as found, and the CPUs chosen from it where the scenario sets none
        self.preflight = run_preflight()
        # the host lock excludes a live run, so these are a killed run's (its Envoys and
        # apps may still be using CPU)
        self.leftovers = netns.ours(netns.list_netns())
        self.pinning = resolve(
            self.preflight,
            scenario.load.workers,
            local.load_cpus,
            local.pod_cpus,
            local.sidecar_cpus,
        )
        self.run_key = new_run_key()
        self.process_env = {**os.environ, RUN_KEY_ENV: self.run_key}
        self.state_dir = Path(
            tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{self.run_key}-", dir=STATE_ROOT)
        )
        self.state_dir.chmod(0o755)
        write_owner(self.state_dir)
        self.hub = netns_name(self.run_key, "hub")
        self._hub_up = False
        self._mesh_index = 0
        self._copies: dict[str, int] = {}

    def environment(self) -> LocalEnvironment:
        killed_run = (
            [
                f"{len(self.leftovers)} network namespace(s) of a killed meshbench run are "
                "still here, with whatever runs in them: `meshbench clean` removes them"
            ]
            if self.leftovers
            else []
        )
        return LocalEnvironment(
            name=self.name,
            versions={
                "envoy": envoy_version(),
                "meshbench": __version__,
                "iproute2": commands.run(["ip", "-V"]).stdout.strip(),
                "iptables": commands.run(["iptables", "--version"]).stdout.strip(),
            },
            pinning=self.pinning,
            host_warnings=(*self.preflight.warnings(self.pinning.cpus()), *killed_run),
            run_key=self.run_key,
            state_dir=self.state_dir,
            envoy_concurrency=self.scenario.local.envoy_concurrency,
            preflight=self.preflight,
            leftover_namespaces=self.leftovers,
        )

    @classmethod
    def capacity_problems(cls, scenario: Scenario, trials: list[Trial]) -> list[PlanProblem]:
        return capacity.problems(scenario, trials)

    @contextmanager
    def deploy(
        self,
        mesh: str,
        topology: Topology,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> Iterator[Deployment]:
        if mtls is not None:
            raise PlatformError(
                "the local platform sets mTLS by mesh name", fix="use meshes envoy and envoy-mtls"
            )
        if not self._hub_up:
            self._hub_up = True
            netns.add_hub(self.hub, hub_address())
        self._copies[mesh] = self._copies.get(mesh, 0) + 1
        dep = LocalDeployment(
            self.context(), mesh, topology, self._mesh_index, self._copies[mesh], name, capture
        )
        self._mesh_index += 1
        try:
            dep.up()
            yield dep
        finally:
            dep.down()

    def context(self) -> LocalContext:
        """What a deployment of this run needs of it (the run has set ``logs_dest``)."""
        return LocalContext(
            scenario=self.scenario,
            run_key=self.run_key,
            hub=self.hub,
            state_dir=self.state_dir,
            pinning=self.pinning,
            process_env=self.process_env,
            logs_dest=self.logs_dest,
        )

    def collect_logs(self, dest: Path) -> None:
        """Every log under the state directory into ``dest/<deployment>/<pod>/...``."""
        logs = sorted(self.state_dir.rglob("*.log"))
        rundir.copy_all_in(dest.parent, dest.name, self.state_dir, logs)

    def close(self) -> None:
        if self._hub_up:
            netns.delete(self.hub)
            self._hub_up = False
        shutil.rmtree(self.state_dir, ignore_errors=True)
