"""The kind platform's plan as pure data: every command of a run, built without running it.

:class:`KindPlan` builds the :class:`~meshbench.platforms.kind.steps.Step` lists that
:class:`~meshbench.platforms.kind.platform.KindPlatform` executes, and :func:`plan_steps`
prints for ``--dry-run`` from the same code (build apart from send, as lightkube does).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import meshbench
from meshbench.config.dimensions import deployment_phrase
from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.load.spec import LoadRequest
from meshbench.planning.plan import Trial, plan_trials
from meshbench.planning.windows import BASELINE_ARMS, deploy_rank, in_windows, window_key, window_of
from meshbench.platforms.kind import clocks, versions
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind import tool_steps as cmd
from meshbench.platforms.kind.meshes import mesh as mesh_named
from meshbench.platforms.kind.meshes.base import Mesh
from meshbench.platforms.kind.steps import Step
from meshbench.platforms.kind.target import (
    CLUSTER_MARKER_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    Target,
    target_for,
)
from meshbench.platforms.kind.unmeshed import unmeshed_namespace

# Keys of the plan's "api" steps, each run by a handler of the platform.
CHECK_CLUSTER_MARKER = "check-cluster-marker"
CHECK_CLOCKS = "check-clocks"
CHECK_CP_NAMESPACE = "check-cp-namespace"
CHECK_NAMESPACES = "check-namespaces"
PODS_READY = "pods-ready"
PROBE_DONE = "probe-done"
PROBE_TIMEOUT_S = 150.0

PLAN_WORK_DIR = Path("<run-work-dir>")
"""Where a dry-run plan says the run's files go (a real run uses a temporary folder)."""


def repo_root() -> Path:
    """The source checkout meshbench runs from (holds manifests/image/Dockerfile)."""
    return Path(meshbench.__file__).resolve().parent.parent


class KindPlan:
    """The steps of one scenario on one target (a cluster and its namespaces)."""

    def __init__(self, scenario: Scenario, target: Target, source_dir: Path) -> None:
        self.scenario = scenario
        self.target = target
        self.source_dir = source_dir

    def for_mesh(self, mesh: str) -> KindPlan:
        """The plan of a deployment of ``mesh``: a baseline arm's works in its own
        namespaces (:meth:`Target.for_mesh`), so it can run beside a mesh."""
        target = self.target.for_mesh(mesh)
        return self if target == self.target else KindPlan(self.scenario, target, self.source_dir)

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
        if t.cluster_name:
            steps.append(
                cmd.api(
                    "cluster",
                    "read every node's clock (docker exec NODE date +%s.%N) against this "
                    "host's: the skew is applied to the load workers' shared start and the "
                    f"CPU windows, and refused beyond ±{clocks.MAX_SKEW_S:g} s or when the "
                    "nodes disagree",
                    CHECK_CLOCKS,
                )
            )
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
        if m.name in BASELINE_ARMS:  # unmeshed even beside a mesh that is installed
            return [unmeshed_namespace(t.app_ns), unmeshed_namespace(t.load_ns)]
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
        baseline = m.name in BASELINE_ARMS
        steps = [
            cmd.api(
                phase,
                f"namespaces {t.app_ns}, {t.load_ns} must be absent or labelled "
                f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}, else refuse",
                CHECK_NAMESPACES,
            ),
            cmd.delete_namespace(t, phase, t.app_ns),  # leftovers of a killed run (ours)
            cmd.delete_namespace(t, phase, t.load_ns),
            cmd.apply(
                t,
                phase,
                "create the baseline's namespaces, opted out of every mesh's injection"
                if baseline
                else "create meshbench's namespaces",
                self._namespace_objects(m, sc),
            ),
        ]
        if policies:
            steps.append(cmd.apply(t, phase, f"{m.name} mTLS settings", policies))
        steps += [
            cmd.apply(t, phase, "deploy the sample services", mf.workload(sc, t)),
            cmd.wait_deployments(t, phase, t.app_ns, k.ready_timeout_s),
            cmd.api(
                phase,
                "wait: every app pod Ready; then each must have "
                + (
                    f"its {m.sidecar} sidecar"
                    if m.sidecar
                    else "no sidecar, nor ztunnel's capture (even beside a mesh)"
                    if baseline
                    else "no sidecar"
                ),
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
            o
            for o in m.policies(sc, t)
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
            cmd.api(
                phase,
                f"wait: Job {t.load_ns}/{name} Complete (Failed: stop at once, with its pods' "
                f"logs), at most {PROBE_TIMEOUT_S:g} s",
                PROBE_DONE,
            ),
            cmd.delete_job(t, phase, t.load_ns, name),
        ]

    def load_steps(
        self, m: Mesh, sc: Scenario, request: LoadRequest, start_at_epoch_s: float
    ) -> list[Step]:
        t = self.target
        job = mf.load_job(sc, t, request, start_at_epoch_s, self._client_annotations(m, sc))
        name = job["metadata"]["name"]
        return [
            cmd.apply(t, "load", f"start {sc.kind.load_workers} load worker pod(s)", [job]),
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


def plan_steps(scenario: Scenario) -> list[Step]:
    """Every step of a run of ``scenario`` on kind, in order, without executing anything.

    One block per install window (:func:`~meshbench.planning.windows.in_windows`: a mesh, plus any
    swept depth, payload or mTLS setting, and beside it the baseline arms in their own
    unmeshed namespaces), in the order the orchestrator runs them: the mesh's install,
    each arm's namespaces + mTLS settings + workload, readiness and sidecar checks and
    verification probe (the mesh first, so the baseline is proven unmeshed beside it), the
    window's trials in the plan's interleaved order, one load Job per trial (listed once
    per arm, as a template), teardown in reverse. Without a mesh, each baseline arm alone.
    """
    p = KindPlan(scenario, target_for(scenario, PLAN_WORK_DIR), repo_root())
    steps = p.cluster_steps()
    blocks: dict[tuple[object, ...], list[Trial]] = {}
    for trial in in_windows(plan_trials(scenario)):  # the orchestrator's order on kind
        blocks.setdefault(window_key(trial) or trial.deployment_key, []).append(trial)
    for block in blocks.values():
        steps += _window_steps(p, scenario, block)
    if p.target.own_cluster and not scenario.kind.keep_cluster:
        steps.append(cmd.kind_delete(p.target))
    return steps


def _window_steps(p: KindPlan, scenario: Scenario, trials: list[Trial]) -> list[Step]:
    """One install window (or one baseline arm alone): deploy, verify, load, remove."""
    window = window_of(trials[0])
    arms: dict[tuple[object, ...], list[Trial]] = {}
    for t in sorted(trials, key=lambda t: deploy_rank(t.mesh)):  # the mesh first
        arms.setdefault(t.deployment_key, []).append(t)
    up: list[Step] = []
    loads: list[Step] = []
    down: list[list[Step]] = []
    labels: dict[str, str] = {}
    for group in arms.values():
        first = group[0]
        name = first.mesh
        m = mesh_named(name)
        arm = p.for_mesh(name)
        sc = arm.variant(first.topology(scenario), first.mtls)
        label = deployment_phrase(name, first.to_dict())
        if window and name != window:
            label += f" beside {deployment_phrase(window, first.to_dict())}"
        labels[name] = label
        block = arm.mesh_install_steps(m, sc)
        block += arm.workload_steps(m, sc)
        block += arm.probe_steps(m, sc, mf.job_name(f"{name}-1", prefix="probe"))
        example = replace(
            first.load_request(scenario, mf.entry_url(sc, arm.target, sc.load.path)),
            label="TRIAL",
        )
        load = [
            replace(s, phase=f"load {name} (each of {len(group)} trial(s); TRIAL = trial id)")
            for s in arm.load_steps(m, sc, example, 0.0)
        ]
        undo = arm.workload_undo_steps(m, sc) + m.uninstall_steps(sc, arm.target)
        up += _labelled(block, name, label)
        loads += _labelled(load, name, label)
        down.append(_labelled(undo, name, label))
    if window:
        order = " | ".join(
            f"repeat {r}: " + ", ".join(t.mesh for t in trials if t.repeat == r)
            for r in dict.fromkeys(t.repeat for t in trials)
        )
        loads.insert(
            0,
            cmd.api(
                f"window {labels[window]}",
                f"{len(trials)} trials in the plan's interleaved order, each against its "
                f"arm's deployment ({order})",
            ),
        )
    return up + loads + [s for undo in reversed(down) for s in undo]


def _labelled(steps: list[Step], name: str, label: str) -> list[Step]:
    """``steps`` with the arm's name in their phase replaced by its full label."""
    if label == name:
        return steps
    return [replace(s, phase=s.phase.replace(name, label, 1)) for s in steps]
