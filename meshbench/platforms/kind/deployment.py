"""The sample application with one mesh on a kind cluster: readiness, the sidecar and
crossing proof, the proxies' counters, container cost, and the load run as a Job.

A deployment is given a :class:`KindContext` (the API client, clock and step executor of
:class:`~meshbench.platforms.kind.platform.KindPlatform`), never the platform itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from meshbench.config.scenario import Scenario
from meshbench.errors import MeshbenchError, PlatformError, ReadFailed
from meshbench.load.merge import merge_worker_dirs
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.planning.windows import BASELINE_ARMS
from meshbench.platforms.base import Deployment, Proof, UsageSnapshot
from meshbench.platforms.kind import bundle
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind.kubeapi import KubeApi, PodInfo
from meshbench.platforms.kind.meshes import SIDECAR_CONTAINERS
from meshbench.platforms.kind.meshes.base import Mesh
from meshbench.platforms.kind.plan import PROBE_DONE, PROBE_TIMEOUT_S, KindPlan
from meshbench.platforms.kind.sidecar_stats import (
    has_metric,
    inbound_by_service,
    inbound_requests,
)
from meshbench.platforms.kind.steps import Runner, Step
from meshbench.platforms.kind.target import ROLE_KEY
from meshbench.platforms.kind.unmeshed import AMBIENT_REDIRECTION
from meshbench.platforms.kind.usage import (
    PhaseUsage,
    Sample,
    samples_from_summaries,
)
from meshbench.platforms.kind.usage import snapshot as usage_snapshot
from meshbench.platforms.kind.waits import Clock, wait_for
from meshbench.results.hlog import start_time

log = logging.getLogger(__name__)

LOAD_POLL_S = 2.0
ORIGIN_TOLERANCE_S = 0.01
"""A worker whose schedule origin differs from the shared one by more did not use it (the
origin travels as MB_START_AT with 3 decimals; the generator's own fallback is >= 0.3 s
later)."""
NODE_PROXY_PREFIX = "ztunnel"
JOB_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


Executor = Callable[[Sequence[Step], dict[str, Callable[[], None]]], None]
"""Runs steps in order, an ``api`` step by its handler (keyed by the step's key)."""


@dataclass(frozen=True)
class KindContext:
    """What a kind deployment needs of its platform (built by it at each deploy, once the
    cluster is prepared)."""

    api: KubeApi
    clock: Clock
    """Node time once the platform measured the nodes' clock skew."""
    runner: Runner
    execute: Executor
    """Runs steps as the platform does (with its safety checks)."""
    installed_mesh: str | None
    """The mesh whose control plane runs beside this deployment, if any."""


@dataclass(frozen=True)
class _Counters:
    """One read of every proxy's inbound counter."""

    counts: dict[str, int]  # pod (sidecars) or "<ztunnel pod>/<service>" -> count
    seen: bool  # the metric was in at least one answer


class KindDeployment(Deployment):
    """The sample application with one mesh on the cluster, ready to take load."""

    def __init__(self, context: KindContext, m: Mesh, scenario: Scenario, plan: KindPlan) -> None:
        self.context = context
        self.plan = plan
        """This deployment's steps (a baseline arm's in its own namespaces)."""
        self.target = plan.target
        self.mesh = m.name
        self.scenario = scenario
        self._mesh = m
        self._probes = 0
        self._service_of: dict[str, str] = {}
        self._measured: tuple[UsageSnapshot, UsageSnapshot] | None = None

    def target_url(self) -> str:
        """The entry Service inside meshbench's namespace: the only URL load is sent to."""
        return mf.entry_url(self.scenario, self.target, self.scenario.load.path)

    @property
    def _api(self) -> KubeApi:
        return self.context.api

    def _app_pods(self) -> list[PodInfo]:
        return self._api.list_pods(self.target.app_ns, f"{ROLE_KEY}=app")

    def wait_ready(self) -> None:
        """Every app pod Ready (deadline), then the sidecar check: fail fast, never hang."""
        k = self.scenario.kind
        expected = len(self.scenario.topology.services) * k.replicas

        def check() -> str | None:
            pods = [p for p in self._app_pods() if p.phase not in ("Succeeded", "Failed")]
            if len(pods) < expected:
                return f"{len(pods)}/{expected} pods exist"
            waiting = [f"{p.name} ({p.reason or p.phase})" for p in pods if not p.ready]
            if waiting:
                return "not Ready: " + ", ".join(waiting)
            return None

        wait_for(
            check,
            timeout_s=k.ready_timeout_s,
            what=f"{self.mesh}: app pods Ready in {self.target.app_ns}",
            fix=f"kubectl --context {self.target.kube_context} -n "
            f"{self.target.app_ns} describe pods",
            clock=self.context.clock,
        )
        self._check_sidecars(self._app_pods())

    def problems(self) -> list[str]:
        """App pods missing or not Ready now (a sidecar or app that crashed since the last
        trial): the orchestrator redeploys. A failed read is a problem too: a deployment
        whose pods cannot be read is not known to be healthy."""
        try:
            pods = [p for p in self._app_pods() if p.phase not in ("Succeeded", "Failed")]
        except ReadFailed as e:
            return [f"{self.mesh}: app pods unreadable ({e})"]
        expected = len(self.scenario.topology.services) * self.scenario.kind.replicas
        out = []
        if len(pods) < expected:
            out.append(f"{self.mesh}: {len(pods)}/{expected} app pods exist")
        out += [
            f"{self.mesh}: pod {p.name} not Ready ({p.reason or p.phase})"
            for p in pods
            if not p.ready
        ]
        return out

    def _check_sidecars(self, pods: list[PodInfo]) -> dict[str, bool]:
        m = self._mesh
        has = {p.name: any(p.has_container(s) for s in SIDECAR_CONTAINERS) for p in pods}
        if m.sidecar:
            missing = sorted(p.name for p in pods if not p.has_container(m.sidecar))
            if missing:
                raise PlatformError(
                    f"{m.name}: pod(s) without the {m.sidecar} sidecar: {', '.join(missing)}",
                    fix=f"injection did not happen: check the labels of namespace "
                    f"{self.target.app_ns} and that the {m.name} injector webhook runs "
                    "(kubectl get mutatingwebhookconfigurations)",
                )
        else:
            extra = sorted(name for name, present in has.items() if present)
            if m.name in BASELINE_ARMS:  # nor captured by ztunnel (ambient has no sidecar)
                extra += sorted(
                    f"{p.name} (captured by ztunnel)"
                    for p in pods
                    if p.annotations.get(AMBIENT_REDIRECTION) == "enabled"
                )
            if extra:
                raise PlatformError(
                    f"{m.name}: pod(s) have a mesh proxy but the mesh is {m.name!r}: "
                    f"{', '.join(extra)}",
                    fix=f"check the labels of namespace {self.target.app_ns} and the mutating "
                    "webhooks (kubectl get mutatingwebhookconfigurations): a mesh injects "
                    "there regardless, or a previous mesh was not removed",
                )
        return has

    def _read_counters(self) -> _Counters | None:
        """Each proxy's inbound counter right now; None when the mesh has no stats source.

        An answer without the metric counts 0 (Istio's counter appears only after the first
        request crosses the sidecar); ``seen`` says whether any answer had it at all.
        """
        src = self._mesh.stats
        if src is None:
            return None
        port = self.scenario.topology.port
        app_ns = self.target.app_ns
        counts: dict[str, int] = {}
        seen = False
        if src.node_proxy:
            assert src.proxy_namespace is not None
            for p in self._api.list_pods(src.proxy_namespace, src.proxy_selector):
                text = self._api.pod_proxy_get(src.proxy_namespace, p.name, src.port, src.path)
                seen = seen or has_metric(text, src.metric)
                for svc, n in inbound_by_service(text, src, port, app_ns).items():
                    key = f"{p.name}/{svc}"
                    counts[key] = counts.get(key, 0) + n
                    self._service_of[key] = svc
            return _Counters(counts, seen)
        for p in self._app_pods():
            self._service_of[p.name] = p.labels.get("app", p.name)
            text = self._api.pod_proxy_get(app_ns, p.name, src.port, src.path)
            seen = seen or has_metric(text, src.metric)
            counts[p.name] = inbound_requests(text, src, port, app_ns)
        return _Counters(counts, seen)

    def verify(self) -> Proof:
        """Sidecars present (or absent for ``none``), and probe requests crossed every
        service's proxy (sidecars, or ztunnel for istio-ambient)."""
        pods = self._app_pods()
        sidecars = self._check_sidecars(pods)
        before = self._read_counters()
        self._probes += 1
        name = mf.job_name(f"{self.mesh}-{self._probes}", prefix="probe")
        *probe, delete = self.plan.probe_steps(self._mesh, self.scenario, name)
        try:
            self.context.execute(probe, {PROBE_DONE: lambda: self._wait_probe(name)})
        finally:  # a failed probe's Job goes too (its logs are in the error)
            self.context.execute([delete], {})
        after = self._read_counters()
        details: dict[str, Any] = {
            "probe_requests": mf.PROBE_REQUESTS,
            "entry_url": self.target_url(),
            "mtls": self._mesh.mtls_description(self.scenario),
            "namespaces": {"app": self.target.app_ns, "load": self.target.load_ns},
            # the mesh whose control plane ran while this was verified (a baseline arm's
            # proof of no sidecar is taken beside the mesh of its install window)
            "mesh_installed": self.context.installed_mesh,
        }
        crossed = False
        src = self._mesh.stats
        if src is not None and before is not None and after is not None:
            details["counter"] = f"{src.metric} ({src.unit})"
            if not after.seen:
                details["counters"] = (
                    f"{src.metric} not found on any proxy even after {mf.PROBE_REQUESTS} probe "
                    "requests; crossing not proven"
                )
            else:
                delta = {k: n - before.counts.get(k, 0) for k, n in after.counts.items()}
                details[f"inbound_{src.unit}_delta"] = delta
                by_service = {svc.name: 0 for svc in self.scenario.topology.services}
                for key, n in delta.items():
                    svc = self._service_of.get(key, key)
                    by_service[svc] = by_service.get(svc, 0) + n
                quiet = sorted(s for s, n in by_service.items() if n <= 0)
                if quiet:
                    raise PlatformError(
                        f"{self.mesh}: the probe's requests did not reach the proxies of "
                        f"{', '.join(quiet)} ({src.metric} did not move)",
                        fix="traffic bypasses the mesh's proxy: check the mesh's traffic capture",
                    )
                crossed = True
        return Proof(sidecars=sidecars, crossed_sidecars=crossed, details=details)

    def _wait_probe(self, name: str) -> None:
        """Until the probe Job is Complete; a Failed one stops the wait at once, with the
        last lines of its pods' logs (``kubectl wait --for=condition=Complete`` would sit
        out its whole timeout)."""
        t = self.target

        def check() -> str | None:
            try:
                conditions = self._api.job_conditions(t.load_ns, name)
            except ReadFailed as e:
                return str(e)
            if conditions.get("Complete") == "True":
                return None
            if conditions.get("Failed") == "True":
                raise PlatformError(
                    f"{self.mesh}: probe Job {t.load_ns}/{name} failed: {self._job_logs(name)}",
                    fix="the entry service did not answer through the chain: see the app pod "
                    f"logs (kubectl --context {t.kube_context} -n {t.app_ns} logs -l "
                    f"{ROLE_KEY}=app --all-containers)",
                )
            return f"Job {name} not Complete"

        wait_for(
            check,
            timeout_s=PROBE_TIMEOUT_S,
            what=f"probe Job {t.load_ns}/{name} Complete",
            fix=f"kubectl --context {t.kube_context} -n {t.load_ns} describe job {name}",
            clock=self.context.clock,
        )

    def _job_logs(self, name: str) -> str:
        """The last lines of each pod of Job ``name`` (for an error message)."""
        t = self.target
        out = []
        try:
            for p in self._api.list_pods(t.load_ns, f"meshbench.io/job={name}"):
                for c in p.containers:
                    lines = self._api.pod_log(t.load_ns, p.name, c).strip().splitlines()
                    out.append(f"{p.name} ({p.reason or p.phase}): {' | '.join(lines[-3:])}")
        except ReadFailed as e:
            out.append(f"logs unreadable ({e})")
        return "; ".join(out) or "no pod found"

    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        """Inbound counts each proxy has seen so far (empty without a stats source):
        ``inbound_requests`` per sidecar, ``inbound_connections`` per ztunnel and service."""
        now = self._read_counters()
        src = self._mesh.stats
        if now is None or src is None:
            return {}
        return {k: {f"inbound_{src.unit}": n} for k, n in now.counts.items()}

    def check_accounting(
        self, before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], sent: int
    ) -> list[str]:
        """A service whose sidecars counted fewer inbound requests than were sent to it.

        Only a shortfall is a problem (traffic bypassed a sidecar): kubelet probes that a
        mesh routes through its proxy legitimately add a few requests.
        """
        if not after:
            return []
        per_entry = self.scenario.topology.requests_per_entry_request()
        got: dict[str, int] = {}
        for pod, counters in after.items():
            svc = self._service_of.get(pod)
            if svc is None:
                continue
            if "inbound_requests" not in counters:
                continue  # connections (ztunnel) are not requests: nothing to account
            delta = counters["inbound_requests"] - before.get(pod, {}).get("inbound_requests", 0)
            got[svc] = got.get(svc, 0) + delta
        problems = []
        for svc, n in sorted(got.items()):
            want = sent * per_entry.get(svc, 0)
            if n < want:
                problems.append(
                    f"{svc} sidecars counted {n} inbound requests, expected at least {want}"
                )
        return problems

    def _role_of(self, namespace: str, pod: str, container: str) -> str | None:
        """The role a container's cost is summed under, or None when it is not measured."""
        t = self.target
        src = self._mesh.stats
        node_proxy = src is not None and src.node_proxy
        if namespace in (t.app_ns, t.load_ns):
            if node_proxy and container in SIDECAR_CONTAINERS:
                return "proxy"  # a waypoint: ambient has no sidecars
            return container_role(container)
        if node_proxy and src is not None and namespace == src.proxy_namespace:
            return "proxy" if pod.startswith(NODE_PROXY_PREFIX) else None
        return None

    def _usage_samples(self) -> dict[str, Sample]:
        t = self.target
        nodes = sorted(
            {p.node for p in self._app_pods() if p.node}
            | {p.node for p in self._api.list_pods(t.load_ns) if p.node}
        )
        summaries = [self._api.node_summary(n) for n in nodes]
        return samples_from_summaries(summaries, self._role_of, self.context.clock.wall())

    def usage(self) -> UsageSnapshot:
        """Per-container CPU time and memory of the app and load namespaces (and, for
        istio-ambient, ztunnel under role ``proxy``) as the kubelet last sampled them."""
        return usage_snapshot(self._usage_samples(), self.context.clock.wall())

    def measured_usage(self) -> tuple[UsageSnapshot, UsageSnapshot] | None:
        """Usage at the last trial's measured-phase boundaries (see :class:`PhaseUsage`)."""
        return self._measured

    def _sample_phase(self, phase: PhaseUsage) -> None:
        try:
            phase.add(self._usage_samples())
        except MeshbenchError as e:  # cost is recorded, not required: the trial goes on
            log.warning("kubelet summary unreadable during the trial: %s", e)
            phase.unreadable.append(str(e))

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        """Run the load in-cluster against :attr:`entry_url` (the request's host is ignored).

        Every worker must use the shared schedule origin: the origin each used is read from
        its histogram log, recorded in summary.json, and a worker that missed it fails the
        trial. Usage is sampled around the measured phase's boundaries meanwhile.
        """
        k = self.scenario.kind
        t = self.target
        path = urlsplit(request.target_url).path or self.scenario.load.path
        req = replace(request, target_url=mf.entry_url(self.scenario, t, path))
        start_at = round(self.context.clock.wall() + k.load_start_delay_s, 3)
        phase = PhaseUsage(start_at + req.warmup_s, start_at + req.warmup_s + req.duration_s)
        self._measured = None
        steps = self.plan.load_steps(self._mesh, self.scenario, req, start_at)
        name = mf.job_name(req.label)
        workers = k.load_workers
        try:
            self.context.runner.run(steps[0])
            pods = self._wait_workers(name, workers, req, phase)
            self._sample_phase(phase)
            worker_dirs = []
            origins: dict[str, float | None] = {}
            for p in pods:
                idx = p.labels.get(JOB_INDEX_LABEL, p.name)
                d = out_dir / "workers" / f"w{idx}"
                logs = self._read_log(p.name)
                bundle.extract(logs, d, source=f"{t.load_ns}/{p.name}")
                worker_dirs.append(d)
                origins[f"w{idx}"] = start_time(d / HLOG_FILE)
            summary = merge_worker_dirs(worker_dirs, out_dir)
        finally:
            self.context.runner.run(steps[-1])
        self._measured = phase.snapshots()
        if self._measured[1].note:
            log.warning("%s: %s", req.label, self._measured[1].note)
        return self._check_origins(summary, out_dir, start_at, origins)

    def _check_origins(
        self,
        summary: LoadSummary,
        out_dir: Path,
        start_at: float,
        origins: dict[str, float | None],
    ) -> LoadSummary:
        """Record the origin each worker used; fail the trial if any missed the shared one."""
        missed = {
            w: o for w, o in origins.items() if o is None or abs(o - start_at) > ORIGIN_TOLERANCE_S
        }
        summary.extra["shared_start_epoch_s"] = start_at
        summary.extra["worker_origins_epoch_s"] = origins
        summary.extra["workers_missed_shared_start"] = sorted(missed)
        summary.write(out_dir)
        if missed:
            late = ", ".join(
                f"{w} ({'no origin in its log' if o is None else f'{o - start_at:+.1f} s'})"
                for w, o in sorted(missed.items())
            )
            raise PlatformError(
                f"load worker(s) {late} did not start on the shared schedule origin "
                f"{start_at:.3f}: their intervals would not line up with the others'",
                fix=f"raise kind.load_start_delay_s (now {self.scenario.kind.load_start_delay_s:g}"
                " s) so every worker pod is running before the shared start",
            )
        return summary

    def _read_log(self, pod: str, tries: int = 3) -> str:
        """A load worker's log, read again after a failed API read (a finished pod's log
        stays until its Job is deleted)."""
        for _ in range(tries - 1):
            try:
                return self._api.pod_log(self.target.load_ns, pod, mf.LOAD_CONTAINER)
            except ReadFailed as e:
                log.warning("log of %s unreadable, reading it again: %s", pod, e)
                self.context.clock.sleep(LOAD_POLL_S)
        return self._api.pod_log(self.target.load_ns, pod, mf.LOAD_CONTAINER)

    def _wait_workers(
        self, name: str, workers: int, req: LoadRequest, phase: PhaseUsage | None = None
    ) -> list[PodInfo]:
        t = self.target
        k = self.scenario.kind
        clock = self.context.clock
        selector = f"meshbench.io/job={name}"
        timeout_s = k.load_start_delay_s + req.warmup_s + req.duration_s + req.timeout_s + 120

        def check() -> str | None:
            if phase is not None and phase.wants_read(clock.wall(), LOAD_POLL_S):
                self._sample_phase(phase)
            try:
                pods = self._api.list_pods(t.load_ns, selector)
            except ReadFailed as e:  # a poll that failed: the next one may not
                return str(e)
            failed = [p for p in pods if p.phase == "Failed"]
            if failed:
                tail = self._read_log(failed[0].name)
                last = [ln for ln in tail.splitlines() if not ln.startswith(("-----", " "))][-3:]
                raise PlatformError(
                    f"load worker {failed[0].name} failed: {' | '.join(last) or failed[0].reason}",
                    fix=f"kubectl --context {t.kube_context} -n {t.load_ns} logs {failed[0].name}",
                )
            done = sum(1 for p in pods if p.phase == "Succeeded")
            return None if done >= workers else f"{done}/{workers} workers finished"

        wait_for(
            check,
            timeout_s=timeout_s,
            what=f"load Job {t.load_ns}/{name}",
            fix=f"kubectl --context {t.kube_context} -n {t.load_ns} describe job {name}",
            interval_s=LOAD_POLL_S,
            clock=clock,
        )
        pods = [p for p in self._api.list_pods(t.load_ns, selector) if p.phase == "Succeeded"]
        return sorted(pods, key=lambda p: int(p.labels.get(JOB_INDEX_LABEL, "0")))[:workers]


def container_role(container: str) -> str:
    """``sidecar``, ``app`` or ``load``: the roles the orchestrator sums CPU and memory by."""
    if container in SIDECAR_CONTAINERS:
        return "sidecar"
    if container == mf.LOAD_CONTAINER:
        return "load"
    return container
