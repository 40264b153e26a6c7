"""The kind platform: the sample application on real Kubernetes, with a real mesh.

Life of a run (the orchestrator runs one mesh at a time: meshes conflict on one cluster):

1. :meth:`KindPlatform.prepare` (called by :meth:`environment` and :meth:`deploy`):
   create or reuse meshbench's kind cluster (or check the explicitly named context),
   build the one meshbench image and ``kind load`` it.
2. :meth:`KindPlatform.deploy` installs the mesh, creates meshbench's namespaces, applies
   the mesh's mTLS settings and the workload, waits for every pod Ready with its sidecar,
   and yields a :class:`KindDeployment`. Everything is removed on exit, on every path.
3. :meth:`KindDeployment.run_load` runs N generator pods as an Indexed Job in the load
   namespace, pulls their results out of their logs and merges them losslessly; every
   worker must have used the shared schedule origin, and container CPU is sampled around
   the measured phase's boundaries (:meth:`KindDeployment.measured_usage`).

Every command is a :class:`~meshbench.platforms.kind.steps.Step` built by the same code
as the ``--dry-run`` plan (:func:`plan_steps`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import meshbench
from meshbench.errors import MeshbenchError, PlatformError
from meshbench.load.merge import merge_worker_dirs
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.plan import plan_trials
from meshbench.platforms.base import Deployment, Platform, Proof, UsageSnapshot
from meshbench.platforms.kind import bundle, certs, versions
from meshbench.platforms.kind import commands as cmd
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind.kubeapi import ClientKubeApi, KubeApi, PodInfo
from meshbench.platforms.kind.meshes import (
    GATEWAY_API_CRD,
    GATEWAY_API_INSTALL,
    GATEWAY_API_REMOVE,
    LINKERD_CERTS,
    SIDECAR_CONTAINERS,
    Mesh,
    linkerd_cert_dir,
)
from meshbench.platforms.kind.meshes import mesh as mesh_named
from meshbench.platforms.kind.sidecar_stats import (
    has_metric,
    inbound_by_service,
    inbound_requests,
)
from meshbench.platforms.kind.steps import Runner, Step
from meshbench.platforms.kind.target import (
    CLUSTER_MARKER_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    ROLE_KEY,
    Target,
    target_for,
)
from meshbench.platforms.kind.usage import (
    PhaseUsage,
    Sample,
    samples_from_summaries,
)
from meshbench.platforms.kind.usage import snapshot as usage_snapshot
from meshbench.platforms.kind.waits import Clock, wait_for
from meshbench.results.hlog import start_time
from meshbench.scenario import Scenario
from meshbench.topology import Topology

log = logging.getLogger(__name__)

# Keys of the plan's "api" steps, each run by a handler of the platform.
CHECK_CLUSTER_MARKER = "check-cluster-marker"
CHECK_CP_NAMESPACE = "check-cp-namespace"
CHECK_NAMESPACES = "check-namespaces"
PODS_READY = "pods-ready"

LOAD_POLL_S = 2.0
ORIGIN_TOLERANCE_S = 0.01
"""A worker whose schedule origin differs from the shared one by more did not use it (the
origin travels as MB_START_AT with 3 decimals; the generator's own fallback is >= 0.3 s
later)."""
NODE_PROXY_PREFIX = "ztunnel"
JOB_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
PLAN_WORK_DIR = Path("<run-work-dir>")


def repo_root() -> Path:
    """The source checkout meshbench runs from (holds manifests/image/Dockerfile)."""
    return Path(meshbench.__file__).resolve().parent.parent


class _Undo:
    """Cleanup steps run in reverse order; failures are collected, never hide the cause."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._groups: list[list[Step]] = []

    def push(self, steps: Sequence[Step]) -> None:
        self._groups.append(list(steps))

    def run(self, primary: BaseException | None, skip: Callable[[Step], bool]) -> None:
        errors: list[str] = []
        while self._groups:
            for step in self._groups.pop():
                if skip(step):
                    continue
                try:
                    self._runner.run(step)
                except MeshbenchError as e:
                    errors.append(str(e))
        if errors and primary is None:
            raise PlatformError(
                "cleanup failed: " + "; ".join(errors),
                fix="remove leftovers with kubectl delete namespace / helm uninstall",
            )
        for message in errors:
            log.error("cleanup failed (after an earlier error): %s", message)


class KindPlatform(Platform):
    """The scenario's topology on a kind cluster (or a context the scenario names)."""

    name = "kind"
    concurrent_meshes = False

    def __init__(
        self,
        scenario: Scenario,
        *,
        dry_run: bool = False,
        runner: Runner | None = None,
        api_factory: Callable[[str], KubeApi] = ClientKubeApi,
        work_dir: Path | None = None,
        clock: Clock | None = None,
        source_dir: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.dry_run = dry_run
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            if dry_run:
                work_dir = PLAN_WORK_DIR
            else:
                self._tmp = tempfile.TemporaryDirectory(prefix="meshbench-kind-")
                work_dir = Path(self._tmp.name)
        self.target: Target = target_for(scenario, work_dir)
        self.runner = runner or Runner()
        self._api_factory = api_factory
        self._api: KubeApi | None = None
        self.clock = clock or Clock()
        self.source_dir = source_dir or repo_root()
        self._prepared = False
        self._created_cluster = False
        self._gateway_api_preexisting = False
        self._env: dict[str, Any] = {}

    # ----- the plan (pure) -------------------------------------------------------------

    def cluster_steps(self) -> list[Step]:
        """Cluster and image steps, in order."""
        t = self.target
        steps: list[Step] = []
        if t.own_cluster:
            steps += [
                cmd.kind_get_clusters(),
                cmd.api(
                    "cluster",
                    f"when kind cluster {t.cluster_name} exists: every node must carry "
                    f"{CLUSTER_MARKER_KEY}={MANAGED_BY_VALUE}, else refuse",
                    CHECK_CLUSTER_MARKER,
                ),
                replace(
                    cmd.kind_create(t, t.work_dir / "kind-cluster.yaml"),
                    what=f"create kind cluster {t.cluster_name} when absent (config = "
                    f"manifests/kind/cluster.yaml, Kubernetes {versions.KUBERNETES_VERSION})",
                ),
            ]
        else:
            steps.append(cmd.kubectl_contexts())
        if t.build_image:
            steps += [
                cmd.docker_build(
                    t, self.source_dir / "manifests" / "image" / "Dockerfile", self.source_dir
                ),
                cmd.kind_load(t),
            ]
        return steps + self.placement_steps()

    def placement_steps(self) -> list[Step]:
        """On meshbench's own cluster: CoreDNS onto the control-plane node, so the app and
        load nodes carry only what is measured (mesh control planes go there through their
        charts' values, :mod:`meshes`)."""
        if not self.target.pin_nodes:
            return []
        return cmd.pin_to_control_plane(self.target, "kube-system", "coredns")

    def mesh_install_steps(self, m: Mesh, sc: Scenario) -> list[Step]:
        steps: list[Step] = []
        if m.cp_namespace:
            steps.append(
                cmd.api(
                    f"mesh {m.name}",
                    f"namespace {m.cp_namespace} must be absent or labelled "
                    f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}, else refuse",
                    CHECK_CP_NAMESPACE,
                )
            )
        return steps + m.install_steps(sc, self.target)

    def _namespace_objects(self, m: Mesh, sc: Scenario) -> list[mf.Obj]:
        t = self.target
        app = mf.namespace(t.app_ns, m.ns_labels, m.ns_annotations)
        if sc.client_sidecar:
            load = mf.namespace(t.load_ns, m.ns_labels, m.ns_annotations)
        else:
            load = mf.namespace(t.load_ns, {}, {})
        return [app, load]

    def workload_steps(self, m: Mesh, sc: Scenario) -> list[Step]:
        t = self.target
        k = sc.kind
        phase = f"workload {m.name}"
        policies = m.policies(sc, t)
        steps = [
            cmd.api(
                phase,
                f"namespaces {t.app_ns}, {t.load_ns} must be absent or labelled "
                f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}, else refuse",
                CHECK_NAMESPACES,
            ),
            cmd.delete_namespace(t, phase, t.app_ns),  # leftovers of a killed run (ours)
            cmd.delete_namespace(t, phase, t.load_ns),
            cmd.apply(t, phase, "create meshbench's namespaces", self._namespace_objects(m, sc)),
        ]
        if policies:
            steps.append(cmd.apply(t, phase, f"{m.name} mTLS settings", policies))
        steps += [
            cmd.apply(t, phase, "deploy the sample services", mf.workload(sc, t)),
            cmd.wait_deployments(t, phase, t.app_ns, k.ready_timeout_s),
            cmd.api(
                phase,
                "wait: every app pod Ready; then each must have "
                + (f"its {m.sidecar} sidecar" if m.sidecar else "no sidecar"),
                PODS_READY,
            ),
        ]
        return steps

    def workload_undo_steps(self, m: Mesh, sc: Scenario) -> list[Step]:
        t = self.target
        phase = f"teardown {m.name}"
        steps = [
            cmd.delete_namespace(t, phase, t.app_ns),
            cmd.delete_namespace(t, phase, t.load_ns),
        ]
        outside = [
            o for o in m.policies(sc, t)
            if o["metadata"].get("namespace") not in (t.app_ns, t.load_ns)
        ]  # the rest goes with the namespaces
        if outside:
            steps.append(cmd.delete_objects(t, phase, f"remove {m.name} mesh settings", outside))
        return steps

    def probe_steps(self, m: Mesh, sc: Scenario, name: str) -> list[Step]:
        t = self.target
        phase = f"verify {m.name}"
        job = mf.probe_job(sc, t, name, self._client_annotations(m, sc))
        return [
            cmd.apply(t, phase, f"probe: {mf.PROBE_REQUESTS} requests through the entry", [job]),
            cmd.wait_job(t, phase, t.load_ns, name, 150),
            cmd.delete_job(t, phase, t.load_ns, name),
        ]

    def load_steps(
        self, m: Mesh, sc: Scenario, request: LoadRequest, start_at_epoch_s: float
    ) -> list[Step]:
        t = self.target
        job = mf.load_job(sc, t, request, start_at_epoch_s, self._client_annotations(m, sc))
        name = job["metadata"]["name"]
        return [
            cmd.apply(
                t, "load", f"start {sc.kind.load_workers} load worker pod(s)", [job]
            ),
            cmd.api("load", f"wait: every pod of Job {name} Succeeded (any Failed: stop)"),
            cmd.api("load", "read each worker's result bundle from its log; merge histograms"),
            cmd.delete_job(t, "load", t.load_ns, name),
        ]

    def _client_annotations(self, m: Mesh, sc: Scenario) -> dict[str, str]:
        return dict(m.client_annotations) if sc.client_sidecar else {}

    def variant(self, topology: Topology | None = None, mtls: bool | None = None) -> Scenario:
        """The scenario as one deployment sees it: a swept topology and mTLS setting."""
        update: dict[str, object] = {}
        if topology is not None:
            update["topology"] = topology
        if mtls is not None:
            update["kind"] = self.scenario.kind.model_copy(update={"mtls": mtls})
        return self.scenario.model_copy(update=update) if update else self.scenario

    # ----- execution --------------------------------------------------------------------

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            self._api = self._api_factory(self.target.kube_context)
        return self._api

    def _refuse_dry_run(self) -> None:
        if self.dry_run:
            raise PlatformError("this kind platform was created for a dry run; nothing executes")

    def _execute(self, steps: Sequence[Step], handlers: dict[str, Callable[[], None]]) -> None:
        for step in steps:
            if step.kind == "api":
                handler = handlers.get(step.key)
                if handler is not None:
                    handler()
                continue
            if step.key == GATEWAY_API_INSTALL and self.api.crd_exists(GATEWAY_API_CRD):
                self._gateway_api_preexisting = True
                log.info("Gateway API CRDs already present: not installing (nor removing) them")
                continue
            self.runner.run(step)

    def _skip_cleanup(self, step: Step) -> bool:
        return step.key == GATEWAY_API_REMOVE and self._gateway_api_preexisting

    def prepare(self) -> None:
        """Create or reuse the cluster and load the image (idempotent; safety checks first).

        Same order as :meth:`cluster_steps`, which the dry-run plan prints.
        """
        self._refuse_dry_run()
        if self._prepared:
            return
        t = self.target
        if t.own_cluster:
            out = self.runner.run(cmd.kind_get_clusters())
            exists = t.cluster_name in out.split()
            if exists:
                self._check_cluster_marker()
            else:
                config = t.work_dir / "kind-cluster.yaml"
                config.write_text(mf.to_yaml([mf.kind_cluster_config()]))
                self.runner.run(cmd.kind_create(t, config))
                self._created_cluster = True
        else:
            out = self.runner.run(cmd.kubectl_contexts())
            if t.kube_context not in out.split():
                raise PlatformError(
                    f"kube context {t.kube_context!r} (kind.context) is not in your kubeconfig",
                    fix="kubectl config get-contexts lists the contexts that exist",
                )
        if t.build_image:
            if not t.cluster_name:
                raise PlatformError(
                    f"context {t.kube_context!r} is not a kind cluster, so meshbench cannot "
                    "`kind load` its image into it",
                    fix="push the image built from manifests/image to a registry the cluster "
                    "can pull from and set kind.image",
                )
            dockerfile = self.source_dir / "manifests" / "image" / "Dockerfile"
            if not dockerfile.exists():
                raise PlatformError(
                    f"{dockerfile} not found",
                    fix="run from a meshbench source checkout, or set kind.image",
                )
            self.runner.run(cmd.docker_build(t, dockerfile, self.source_dir))
            self.runner.run(cmd.kind_load(t))
        for step in self.placement_steps():
            self.runner.run(step)
        self._env = self._collect_environment()
        self._prepared = True

    def _check_cluster_marker(self) -> None:
        nodes = self.api.node_labels()
        foreign = sorted(n for n, labels in nodes.items()
                         if labels.get(CLUSTER_MARKER_KEY) != MANAGED_BY_VALUE)
        if not nodes or foreign:
            raise PlatformError(
                f"kind cluster {self.target.cluster_name!r} exists but meshbench did not create "
                f"it (nodes without {CLUSTER_MARKER_KEY}={MANAGED_BY_VALUE}: "
                f"{', '.join(foreign) or 'none found'}); refusing to use it",
                fix=f"set kind.context: {self.target.kube_context} to use it anyway, or choose "
                "another kind.cluster_name",
            )

    def _check_owned(self, namespace: str) -> None:
        labels = self.api.namespace_labels(namespace)
        if labels is not None and labels.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
            raise PlatformError(
                f"namespace {namespace!r} exists and is not managed by meshbench; refusing to "
                "deploy into it",
                fix="set kind.namespace_prefix to another value, or remove that namespace "
                "(and the mesh in it) yourself",
            )

    def _collect_environment(self) -> dict[str, Any]:
        t = self.target
        nodes = self.api.node_labels()
        env: dict[str, Any] = {
            "kubernetes_server": self.api.server_version(),
            "nodes": {
                n: {k: v for k, v in labels.items()
                    if k in (ROLE_KEY, "kubernetes.io/arch", "kubernetes.io/os")}
                for n, labels in nodes.items()
            },
            "cluster_created_by_this_run": self._created_cluster,
        }
        if t.cluster_name:
            try:
                env["kind_client"] = self.runner.run(
                    Step("cluster", "kind version", ("kind", "version"), timeout_s=30)
                ).strip()
            except MeshbenchError as e:
                env["kind_client"] = f"unknown ({e})"
        return env

    def environment(self) -> dict[str, Any]:
        """Versions, names and settings recorded in run.json (prepares the cluster first)."""
        t = self.target
        s = self.scenario
        env: dict[str, Any] = {
            "name": self.name,  # what analysis and compare read as the platform
            "platform": "kind",
            "pinned_versions": versions.pinned(),
            "kube_context": t.kube_context,
            "own_cluster": t.own_cluster,
            "cluster_name": t.cluster_name,
            "namespaces": {"app": t.app_ns, "load": t.load_ns},
            "image": t.image,
            "mtls": {m: mesh_named(m).mtls_description(s) for m in s.meshes},
            "mtls_always_on": sorted(m for m in s.meshes if mesh_named(m).mtls_always_on),
            "resilience_policies": {m: mesh_named(m).resilience(s) for m in s.meshes},
            "placement": (
                "control planes and CoreDNS on the control-plane node (tolerations and node "
                "selectors through the charts' values); app pods on the app node, load on "
                "the load node; node agents (kindnet, kube-proxy, istio-cni, ztunnel) on every "
                "node" if t.pin_nodes else "not pinned: a cluster meshbench did not create"
            ),
            "kubernetes_tested_ranges": {
                m: r for m, r in versions.tested_matrix().items() if m in s.meshes
            },
            "client_sidecar": s.client_sidecar,
            "load_workers": s.kind.load_workers,
            "load_coordination": (
                "Locust-based open-loop generator per worker pod (Indexed Job), each taking "
                "1/N of the schedule from a shared origin; coordinated and merged by meshbench "
                "(no Locust master)"
            ),
            "resources": {
                "app_cpu_request": s.kind.app_cpu_request,
                "app_cpu_limit": s.kind.app_cpu_limit,
                "app_memory_limit": s.kind.app_memory_limit,
                "load_cpu_request": s.kind.load_cpu_request,
            },
        }
        env["versions"] = {
            "kubernetes": versions.KUBERNETES_VERSION,
            "kind": versions.KIND_VERSION,
            "node_image": versions.NODE_IMAGE,
            **{m: versions.pinned()[m] for m in ("istio", "linkerd", "kuma") if m in s.meshes},
        }
        if self.dry_run:
            env["dry_run"] = True
            return env
        self.prepare()
        env.update(self._env)
        env["versions"]["kubernetes_server"] = self._env["kubernetes_server"]
        if "kind_client" in self._env:
            env["versions"]["kind_client"] = self._env["kind_client"]
        return env

    @contextmanager
    def deploy(
        self, mesh: str, topology: Topology | None = None, mtls: bool | None = None
    ) -> Iterator[KindDeployment]:
        """Install ``mesh`` and ``topology`` (default: the scenario's) with ``mtls`` (default:
        ``kind.mtls``); remove both on exit, on every path. ``none-aa`` deploys like ``none``.
        """
        self.prepare()
        m = mesh_named(mesh)
        sc = self.variant(topology, mtls)
        undo = _Undo(self.runner)
        primary: BaseException | None = None
        handlers: dict[str, Callable[[], None]] = {
            LINKERD_CERTS: self._linkerd_certs,
            CHECK_NAMESPACES: self._check_workload_namespaces,
        }
        self._gateway_api_preexisting = False
        try:
            install = self.mesh_install_steps(m, sc)
            if install:
                if m.cp_namespace:
                    self._check_owned(m.cp_namespace)  # before anything that undo would remove
                undo.push(m.uninstall_steps(sc, self.target))
                self._execute([s for s in install if s.key != CHECK_CP_NAMESPACE], handlers)
            deployment = KindDeployment(self, m, sc)
            handlers[PODS_READY] = deployment.wait_ready
            self._check_workload_namespaces()  # before undo could remove someone else's
            undo.push(self.workload_undo_steps(m, sc))
            self._execute(self.workload_steps(m, sc), handlers)
            yield deployment
        except BaseException as e:
            primary = e
            raise
        finally:
            self._save_logs(m)
            undo.run(primary, self._skip_cleanup)
            shutil.rmtree(linkerd_cert_dir(self.target), ignore_errors=True)

    def _save_logs(self, m: Mesh) -> None:
        """Keep every app pod's logs (app and sidecar) before the namespace goes away."""
        dest = self.target.work_dir / "logs" / m.name
        try:
            for p in self.api.list_pods(self.target.app_ns):
                for c in (*p.containers, *p.init_containers):
                    text = self.api.pod_log(self.target.app_ns, p.name, c)
                    dest.mkdir(parents=True, exist_ok=True)
                    (dest / f"{p.name}.{c}.log").write_text(text)
        except MeshbenchError as e:
            log.warning("could not save the logs of %s pods: %s", m.name, e)

    def collect_logs(self, dest: Path) -> None:
        """Copy the pod logs saved before each mesh was removed into ``dest``."""
        src = self.target.work_dir / "logs"
        if not self.dry_run and src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)

    def _check_workload_namespaces(self) -> None:
        self._check_owned(self.target.app_ns)
        self._check_owned(self.target.load_ns)

    def _linkerd_certs(self) -> None:
        certs.generate(linkerd_cert_dir(self.target))

    def close(self) -> None:
        """Delete the kind cluster if this run created it and the scenario does not keep it."""
        try:
            if self._created_cluster and not self.scenario.kind.keep_cluster:
                self.runner.run(cmd.kind_delete(self.target))
                self._created_cluster = False
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None


@dataclass(frozen=True)
class _Counters:
    """One read of every proxy's inbound counter."""

    counts: dict[str, int]  # pod (sidecars) or "<ztunnel pod>/<service>" -> count
    seen: bool  # the metric was in at least one answer


class KindDeployment(Deployment):
    """The sample application with one mesh on the cluster, ready to take load."""

    def __init__(self, platform: KindPlatform, m: Mesh, scenario: Scenario) -> None:
        self.platform = platform
        self.mesh = m.name
        self.scenario = scenario
        self._mesh = m
        self._probes = 0
        self._service_of: dict[str, str] = {}
        self._measured: tuple[UsageSnapshot, UsageSnapshot] | None = None

    def target_url(self) -> str:
        """The entry Service inside meshbench's namespace: the only URL load is sent to."""
        return mf.entry_url(self.scenario, self.platform.target, self.scenario.load.path)

    @property
    def _api(self) -> KubeApi:
        return self.platform.api

    def _app_pods(self) -> list[PodInfo]:
        return self._api.list_pods(self.platform.target.app_ns, f"{ROLE_KEY}=app")

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
            what=f"{self.mesh}: app pods Ready in {self.platform.target.app_ns}",
            fix=f"kubectl --context {self.platform.target.kube_context} -n "
            f"{self.platform.target.app_ns} describe pods",
            clock=self.platform.clock,
        )
        self._check_sidecars(self._app_pods())

    def _check_sidecars(self, pods: list[PodInfo]) -> dict[str, bool]:
        m = self._mesh
        has = {p.name: any(p.has_container(s) for s in SIDECAR_CONTAINERS) for p in pods}
        if m.sidecar:
            missing = sorted(p.name for p in pods if not p.has_container(m.sidecar))
            if missing:
                raise PlatformError(
                    f"{m.name}: pod(s) without the {m.sidecar} sidecar: {', '.join(missing)}",
                    fix=f"injection did not happen: check the labels of namespace "
                    f"{self.platform.target.app_ns} and that the {m.name} injector webhook runs "
                    "(kubectl get mutatingwebhookconfigurations)",
                )
        else:
            extra = sorted(name for name, present in has.items() if present)
            if extra:
                raise PlatformError(
                    f"{m.name}: pod(s) have a sidecar but the mesh is {m.name!r}: "
                    f"{', '.join(extra)}",
                    fix="a previous mesh was not removed: delete its mutating webhook and "
                    "namespace, then re-run",
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
        app_ns = self.platform.target.app_ns
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
        self.platform._execute(self.platform.probe_steps(self._mesh, self.scenario, name), {})
        after = self._read_counters()
        details: dict[str, Any] = {
            "probe_requests": mf.PROBE_REQUESTS,
            "entry_url": self.target_url(),
            "mtls": self._mesh.mtls_description(self.scenario),
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
            delta = counters["inbound_requests"] - before.get(pod, {}).get(
                "inbound_requests", 0
            )
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
        t = self.platform.target
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
        t = self.platform.target
        nodes = sorted({p.node for p in self._app_pods() if p.node}
                       | {p.node for p in self._api.list_pods(t.load_ns) if p.node})
        summaries = [self._api.node_summary(n) for n in nodes]
        return samples_from_summaries(summaries, self._role_of, self.platform.clock.wall())

    def usage(self) -> UsageSnapshot:
        """Per-container CPU time and memory of the app and load namespaces (and, for
        istio-ambient, ztunnel under role ``proxy``) as the kubelet last sampled them."""
        return usage_snapshot(self._usage_samples(), self.platform.clock.wall())

    def measured_usage(self) -> tuple[UsageSnapshot, UsageSnapshot] | None:
        """Usage at the last trial's measured-phase boundaries (see :class:`PhaseUsage`)."""
        return self._measured

    def _sample_phase(self, phase: PhaseUsage) -> None:
        try:
            phase.add(self._usage_samples())
        except MeshbenchError as e:  # cost is recorded, not required: the trial goes on
            log.warning("kubelet summary unreadable during the trial: %s", e)

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        """Run the load in-cluster against :attr:`entry_url` (the request's host is ignored).

        Every worker must use the shared schedule origin: the origin each used is read from
        its histogram log, recorded in summary.json, and a worker that missed it fails the
        trial. Usage is sampled around the measured phase's boundaries meanwhile.
        """
        k = self.scenario.kind
        t = self.platform.target
        path = urlsplit(request.target_url).path or self.scenario.load.path
        req = replace(request, target_url=mf.entry_url(self.scenario, t, path))
        start_at = round(self.platform.clock.wall() + k.load_start_delay_s, 3)
        phase = PhaseUsage(start_at + req.warmup_s, start_at + req.warmup_s + req.duration_s)
        self._measured = None
        steps = self.platform.load_steps(self._mesh, self.scenario, req, start_at)
        name = mf.job_name(req.label)
        workers = k.load_workers
        try:
            self.platform.runner.run(steps[0])
            pods = self._wait_workers(name, workers, req, phase)
            self._sample_phase(phase)
            worker_dirs = []
            origins: dict[str, float | None] = {}
            for p in pods:
                idx = p.labels.get(JOB_INDEX_LABEL, p.name)
                d = out_dir / "workers" / f"w{idx}"
                logs = self._api.pod_log(t.load_ns, p.name, mf.LOAD_CONTAINER)
                bundle.extract(logs, d, source=f"{t.load_ns}/{p.name}")
                worker_dirs.append(d)
                origins[f"w{idx}"] = start_time(d / HLOG_FILE)
            summary = merge_worker_dirs(worker_dirs, out_dir)
        finally:
            self.platform.runner.run(steps[-1])
        self._measured = phase.snapshots()
        if self._measured[1].note:
            log.warning("%s: %s", req.label, self._measured[1].note)
        return self._check_origins(summary, out_dir, start_at, origins)

    def _check_origins(
        self, summary: LoadSummary, out_dir: Path, start_at: float,
        origins: dict[str, float | None],
    ) -> LoadSummary:
        """Record the origin each worker used; fail the trial if any missed the shared one."""
        missed = {
            w: o for w, o in origins.items()
            if o is None or abs(o - start_at) > ORIGIN_TOLERANCE_S
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

    def _wait_workers(
        self, name: str, workers: int, req: LoadRequest, phase: PhaseUsage | None = None
    ) -> list[PodInfo]:
        t = self.platform.target
        k = self.scenario.kind
        clock = self.platform.clock
        selector = f"meshbench.io/job={name}"
        timeout_s = k.load_start_delay_s + req.warmup_s + req.duration_s + req.timeout_s + 120

        def check() -> str | None:
            if phase is not None and phase.wants_read(clock.wall(), LOAD_POLL_S):
                self._sample_phase(phase)
            pods = self._api.list_pods(t.load_ns, selector)
            failed = [p for p in pods if p.phase == "Failed"]
            if failed:
                tail = self._api.pod_log(t.load_ns, failed[0].name, mf.LOAD_CONTAINER)
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


def create_platform(scenario: Scenario, *, dry_run: bool = False) -> KindPlatform:
    """The kind platform for ``scenario`` (nothing runs until environment() / deploy())."""
    return KindPlatform(scenario, dry_run=dry_run)


def plan_steps(scenario: Scenario) -> list[Step]:
    """Every step of a run of ``scenario`` on kind, in order, without executing anything.

    One block per deployment (a mesh, plus any swept depth, payload or mTLS setting), in
    the order the orchestrator runs them: install, namespaces + mTLS settings + workload,
    readiness and sidecar checks, the verification probe, one load Job per trial (listed
    once, as a template), teardown.
    """
    p = KindPlatform(scenario, dry_run=True)
    steps = p.cluster_steps()
    trials = plan_trials(scenario)
    groups: dict[tuple[str, int | None, int | None, bool | None], int] = {}
    for trial in trials:
        key = (trial.mesh, trial.payload_bytes, trial.depth, trial.mtls)
        groups[key] = groups.get(key, 0) + 1
    for (name, payload, depth, mtls), count in groups.items():
        m = mesh_named(name)
        sc = p.variant(scenario.topology_for(depth, payload), mtls)
        label = name + "".join(
            f" {part}" for part in (
                f"depth={depth}" if depth is not None else "",
                f"payload={payload}B" if payload is not None else "",
                "" if mtls is None else ("mtls" if mtls else "plaintext"),
            ) if part
        )
        block = p.mesh_install_steps(m, sc)
        block += p.workload_steps(m, sc)
        block += p.probe_steps(m, sc, mf.job_name(f"{name}-1", prefix="probe"))
        example = LoadRequest(
            target_url=mf.entry_url(sc, p.target, sc.load.path),
            rate_rps=scenario.load.rates_rps[0],
            duration_s=scenario.load.duration_s,
            warmup_s=scenario.load.warmup_s,
            connections=scenario.load.connections,
            schedule=scenario.load.schedule,
            timeout_s=scenario.load.timeout_s,
            seed=scenario.seed,
            label="TRIAL",
        )
        block += [
            replace(s, phase=f"load {name} (each of {count} trial(s); TRIAL = trial id)")
            for s in p.load_steps(m, sc, example, 0.0)
        ]
        block += p.workload_undo_steps(m, sc)
        block += m.uninstall_steps(sc, p.target)
        if label != name:
            block = [replace(s, phase=s.phase.replace(name, label, 1)) for s in block]
        steps += block
    if p.target.own_cluster and not scenario.kind.keep_cluster:
        steps.append(cmd.kind_delete(p.target))
    return steps
