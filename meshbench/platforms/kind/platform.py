"""The kind platform: the sample application on real Kubernetes, with a real mesh.

Life of a run (the orchestrator runs one mesh at a time, meshes conflict on one cluster,
with the baseline arms deployed beside each mesh in their own unmeshed namespaces: one
install window per mesh, :mod:`meshbench.planning.windows`):

1. :meth:`KindPlatform.prepare` (called by :meth:`environment` and :meth:`deploy`):
   create or reuse meshbench's kind cluster (or check the explicitly named context),
   build the one meshbench image and ``kind load`` it.
2. :meth:`KindPlatform.deploy` installs the mesh, creates meshbench's namespaces, applies
   the mesh's mTLS settings and the workload, waits for every pod Ready with its sidecar,
   and yields a :class:`KindDeployment`. Everything is removed on exit, on every path.
   A baseline arm installs nothing: it deploys into its own namespaces, opted out of
   every mesh (:mod:`~meshbench.platforms.kind.unmeshed`), beside the installed mesh.
3. :meth:`KindDeployment.run_load` runs N generator pods as an Indexed Job in the load
   namespace, pulls their results out of their logs and merges them losslessly; every
   worker must have used the shared schedule origin, and container CPU is sampled around
   the measured phase's boundaries (:meth:`KindDeployment.measured_usage`).

Every command is a :class:`~meshbench.platforms.kind.steps.Step` built by
:class:`~meshbench.platforms.kind.plan.KindPlan`, the same code as the ``--dry-run`` plan;
this module executes them, with the safety checks that refuse a cluster or namespace
meshbench does not own. The deployment is :mod:`~meshbench.platforms.kind.deployment`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.errors import MeshbenchError, PlatformError
from meshbench.planning.plan import Trial
from meshbench.planning.windows import BASELINE_ARMS
from meshbench.platforms.base import Platform
from meshbench.platforms.kind import certs, clocks, versions
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind.deployment import KindContext, KindDeployment
from meshbench.platforms.kind.environment import KindCluster, KindEnvironment, KindSetup
from meshbench.platforms.kind.kubeapi import ClientKubeApi, KubeApi
from meshbench.platforms.kind.meshes import mesh as mesh_named
from meshbench.platforms.kind.meshes.linkerd import (
    GATEWAY_API_CRD,
    GATEWAY_API_INSTALL,
    GATEWAY_API_REMOVE,
    LINKERD_CERTS,
    linkerd_cert_dir,
)
from meshbench.platforms.kind.plan import (
    CHECK_CP_NAMESPACE,
    CHECK_NAMESPACES,
    PLAN_WORK_DIR,
    PODS_READY,
    KindPlan,
    plan_steps,
    repo_root,
)
from meshbench.platforms.kind.steps import Runner, Step, format_plan
from meshbench.platforms.kind.target import (
    CLUSTER_MARKER_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    ROLE_KEY,
    Target,
    target_for,
)
from meshbench.platforms.kind.usage import timing_statement
from meshbench.platforms.kind.waits import Clock
from meshbench.results import rundir

log = logging.getLogger(__name__)


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
    baseline_beside_each_mesh = True
    """The baseline arms run in their own unmeshed namespaces inside every mesh's install
    window (:mod:`meshbench.planning.windows`, :mod:`~meshbench.platforms.kind.unmeshed`)."""

    @classmethod
    def plan(cls, scenario: Scenario, trials: list[Trial]) -> str:
        """Every command of a run on kind, in order (:func:`plan_steps`)."""
        return format_plan(plan_steps(scenario))

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
        self.source_dir = source_dir or repo_root()
        self.steps = KindPlan(scenario, self.target, self.source_dir)
        """The steps this platform runs, built as data (:mod:`~meshbench.platforms.kind.plan`)."""
        self.runner = runner or Runner()
        self._api_factory = api_factory
        self._api: KubeApi | None = None
        self.clock = clock or Clock()
        self._prepared = False
        self._created_cluster = False
        self._gateway_api_preexisting = False
        self._cluster: KindCluster | None = None
        self._clock_skew: dict[str, Any] | str = "not measured: not a kind cluster"
        self.installed_mesh: str | None = None
        """The mesh whose control plane is installed now (one at a time), if any."""

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
        if t.cluster_name:
            self._use_node_clock()
        for step in self.steps.placement_steps():
            self.runner.run(step)
        self._cluster = self._ask_cluster()
        self._prepared = True

    def _check_cluster_marker(self) -> None:
        nodes = self.api.node_labels()
        foreign = sorted(
            n for n, labels in nodes.items() if labels.get(CLUSTER_MARKER_KEY) != MANAGED_BY_VALUE
        )
        if not nodes or foreign:
            raise PlatformError(
                f"kind cluster {self.target.cluster_name!r} exists but meshbench did not create "
                f"it (nodes without {CLUSTER_MARKER_KEY}={MANAGED_BY_VALUE}: "
                f"{', '.join(foreign) or 'none found'}); refusing to use it",
                fix=f"set kind.context: {self.target.kube_context} to use it anyway, or choose "
                "another kind.cluster_name",
            )

    def _use_node_clock(self) -> None:
        """Measure the nodes' clock skew; from now on wall time is node time (or refuse).

        A node whose clock cannot be read (another kind provider than Docker) leaves the
        host's clock in use, and run.json says it was not measured.
        """
        host = self.clock

        def read(node: str) -> str:
            return self.runner.run(cmd.node_clock(node))

        try:
            measured = clocks.measure(sorted(self.api.node_labels()), read, host.wall)
        except (MeshbenchError, ValueError) as e:
            log.warning("node clocks not measured, taken to be this host's: %s", e)
            self._clock_skew = f"not measured ({e}); taken to be this host's"
            return
        skew_s = clocks.skew_to_use(measured)  # refuses what it cannot correct
        self._clock_skew = clocks.record(measured, skew_s)
        if skew_s:
            log.warning("kind nodes' clock is %+.3f s off this host's: corrected", skew_s)
            self.clock = replace(host, wall=lambda: host.wall() + skew_s)

    def _check_owned(self, namespace: str) -> None:
        labels = self.api.namespace_labels(namespace)
        if labels is not None and labels.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
            raise PlatformError(
                f"namespace {namespace!r} exists and is not managed by meshbench; refusing to "
                "deploy into it",
                fix="set kind.namespace_prefix to another value, or remove that namespace "
                "(and the mesh in it) yourself",
            )

    def _ask_cluster(self) -> KindCluster:
        t = self.target
        nodes = self.api.node_labels()
        server = self.api.server_version()
        kind_client = None
        if t.cluster_name:
            try:
                kind_client = self.runner.run(
                    Step("cluster", "kind version", ("kind", "version"), timeout_s=30)
                ).strip()
            except MeshbenchError as e:
                kind_client = f"unknown ({e})"
        return KindCluster(
            kubernetes_server=server,
            nodes={
                n: {
                    k: v
                    for k, v in labels.items()
                    if k in (ROLE_KEY, "kubernetes.io/arch", "kubernetes.io/os")
                }
                for n, labels in nodes.items()
            },
            created_by_this_run=self._created_cluster,
            clock_skew=self._clock_skew,
            kind_client=kind_client,
        )

    def environment(self) -> KindEnvironment:
        """Versions, names and settings recorded in run.json (prepares the cluster first)."""
        t = self.target
        s = self.scenario
        setup = KindSetup(
            pinned_versions=versions.pinned(),
            kube_context=t.kube_context,
            own_cluster=t.own_cluster,
            cluster_name=t.cluster_name,
            namespaces={
                "app": t.app_ns,
                "load": t.load_ns,
                # the baseline arms': unmeshed, beside every mesh in its install window
                "baseline": {
                    arm: {"app": t.for_mesh(arm).app_ns, "load": t.for_mesh(arm).load_ns}
                    for arm in s.arms
                    if arm in BASELINE_ARMS
                },
            },
            image=t.image,
            mtls={m: mesh_named(m).mtls_description(s) for m in s.meshes},
            mtls_always_on=sorted(m for m in s.meshes if mesh_named(m).mtls_always_on),
            resilience_policies={m: mesh_named(m).resilience(s) for m in s.meshes},
            placement=(
                "control planes and CoreDNS on the control-plane node (tolerations and node "
                "selectors through the charts' values); app pods on the app node, load on "
                "the load node; node agents (kindnet, kube-proxy, istio-cni, ztunnel) on every "
                "node"
                if t.pin_nodes
                else "not pinned: a cluster meshbench did not create"
            ),
            kubernetes_tested_ranges={
                m: r for m, r in versions.tested_matrix().items() if m in s.meshes
            },
            client_sidecar=s.client_sidecar,
            load_workers=s.kind.load_workers,
            cpu_timing=timing_statement(s.load.duration_s),
            resources={
                "app_cpu_request": s.kind.app_cpu_request,
                "app_cpu_limit": s.kind.app_cpu_limit,
                "app_memory_limit": s.kind.app_memory_limit,
                "load_cpu_request": s.kind.load_cpu_request,
            },
        )
        recorded: dict[str, str] = {
            "kubernetes": versions.KUBERNETES_VERSION,
            "kind": versions.KIND_VERSION,
            "node_image": versions.NODE_IMAGE,
            **versions.mesh_versions(s.meshes),
        }
        if self.dry_run:
            return KindEnvironment(name=self.name, versions=recorded, setup=setup)
        self.prepare()
        assert self._cluster is not None
        recorded.update(self._cluster.versions())
        return KindEnvironment(
            name=self.name, versions=recorded, setup=setup, cluster=self._cluster
        )

    @contextmanager
    def deploy(
        self,
        mesh: str,
        topology: Topology | None = None,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> Iterator[KindDeployment]:
        """Install ``mesh`` and ``topology`` (default: the scenario's) with ``mtls`` (default:
        ``kind.mtls``); remove both on exit, on every path. ``none-aa`` deploys like ``none``.
        ``name``: what its pods' logs are kept as (default: the mesh, and the mesh whose
        install window a baseline arm ran in). ``capture`` is refused: attribution runs on
        the local platform only (the scenario check says so first).
        """
        if capture:
            raise PlatformError(
                "attribution's captures run on the local platform only",
                fix="set platform: local, or attribution: false",
            )
        self.prepare()
        m = mesh_named(mesh)
        plan = self.steps.for_mesh(m.name)
        sc = plan.variant(topology, mtls)
        undo = _Undo(self.runner)
        primary: BaseException | None = None
        handlers: dict[str, Callable[[], None]] = {
            LINKERD_CERTS: self._linkerd_certs,
            CHECK_NAMESPACES: lambda: self._check_workload_namespaces(plan.target),
        }
        install = plan.mesh_install_steps(m, sc)
        logs = name or (
            m.name
            if install or self.installed_mesh is None
            else (
                f"{m.name}-in-{self.installed_mesh}"  # a baseline arm, once per install window
            )
        )
        try:
            if install:
                if self.installed_mesh is not None:  # the orchestrator never does this
                    raise PlatformError(
                        f"cannot install {m.name} while {self.installed_mesh} is installed: "
                        "meshes conflict on one cluster"
                    )
                self._gateway_api_preexisting = False
                if m.cp_namespace:
                    self._check_owned(m.cp_namespace)  # before anything that undo would remove
                self.installed_mesh = m.name
                undo.push(m.uninstall_steps(sc, plan.target))
                self._execute([s for s in install if s.key != CHECK_CP_NAMESPACE], handlers)
            deployment = KindDeployment(self._context(), m, sc, plan)
            handlers[PODS_READY] = deployment.wait_ready
            self._check_workload_namespaces(plan.target)  # before undo could remove another's
            undo.push(plan.workload_undo_steps(m, sc))
            self._execute(plan.workload_steps(m, sc), handlers)
            yield deployment
        except BaseException as e:
            primary = e
            raise
        finally:
            self._save_logs(plan.target, logs)
            undo.run(primary, self._skip_cleanup)
            if install:
                shutil.rmtree(linkerd_cert_dir(self.target), ignore_errors=True)
                self.installed_mesh = None

    def _context(self) -> KindContext:
        """What a deployment made now needs of this platform (the cluster prepared)."""
        return KindContext(
            api=self.api,
            clock=self.clock,
            runner=self.runner,
            execute=self._execute,
            installed_mesh=self.installed_mesh,
        )

    def _save_logs(self, target: Target, name: str) -> None:
        """Keep every app pod's logs (app and sidecar) before the namespace goes away."""
        dest = target.work_dir / "logs" / name
        try:
            for p in self.api.list_pods(target.app_ns):
                for c in (*p.containers, *p.init_containers):
                    text = self.api.pod_log(target.app_ns, p.name, c)
                    dest.mkdir(parents=True, exist_ok=True)
                    (dest / f"{p.name}.{c}.log").write_text(text)
        except MeshbenchError as e:
            log.warning("could not save the logs of %s pods: %s", name, e)

    def collect_logs(self, dest: Path) -> None:
        """Copy the pod logs saved before each mesh was removed into ``dest`` (atomically,
        never through a link: :mod:`meshbench.results.rundir`)."""
        src = self.target.work_dir / "logs"
        if self.dry_run or not src.is_dir():
            return
        logs = sorted(p for p in src.rglob("*") if p.is_file() or p.is_symlink())
        rundir.copy_all_in(dest.parent, dest.name, src, logs)

    def _check_workload_namespaces(self, target: Target) -> None:
        self._check_owned(target.app_ns)
        self._check_owned(target.load_ns)

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


def create_platform(scenario: Scenario, *, dry_run: bool = False) -> KindPlatform:
    """The kind platform for ``scenario`` (nothing runs until environment() / deploy())."""
    return KindPlatform(scenario, dry_run=dry_run)
