"""A deployment found broken between trials is redeployed (recorded in run.json), never
measured broken; one that keeps breaking fails the run with its cause."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.config.topology import Topology
from meshbench.errors import PlatformError
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.planning.plan import plan_trials
from meshbench.platforms.base import Deployment, Platform, PlatformEnvironment, Proof
from meshbench.results.trial_record import TrialRecord
from meshbench.runner.run import MAX_REDEPLOYS, _run_trials, execution_order
from meshbench.testing.fake_deployment import NoSidecarDeployment, canned_load


class _Dep(NoSidecarDeployment):
    def __init__(self, mesh: str, serial: int, broken_after: int | None) -> None:
        self.mesh = mesh
        self.serial = serial
        self.trials = 0
        self.broken_after = broken_after  # trials run before a pod "dies"

    def target_url(self) -> str:
        return "http://127.0.0.1:9/"

    def problems(self) -> list[str]:
        if self.broken_after is not None and self.trials >= self.broken_after:
            return [f"app of pod {self.mesh}/frontend exited with -9"]
        return []

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        assert not self.problems(), "a broken deployment was measured"
        self.trials += 1
        return canned_load(request, out_dir)


class _Platform(Platform):
    name = "fake"
    concurrent_meshes = True

    def __init__(self, broken: dict[int, int | None], dep_class: type[_Dep] = _Dep) -> None:
        self.broken = broken  # deployment serial -> trials before it breaks
        self.dep_class = dep_class
        self.deployed: list[str] = []

    def environment(self) -> PlatformEnvironment:
        return PlatformEnvironment(name=self.name)

    @contextmanager
    def deploy(
        self,
        mesh: str,
        topology: Topology,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> Iterator[Deployment]:
        self.deployed.append(mesh)
        yield self.dep_class(mesh, len(self.deployed), self.broken.get(len(self.deployed)))


def _scenario(repeats: int) -> Scenario:
    return parse_scenario(
        {
            "name": "redeploy",
            "meshes": ["none", "envoy"],
            "repeats": repeats,
            "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
        }
    )


def test_a_pod_that_died_between_trials_is_redeployed_and_recorded(tmp_path: Path) -> None:
    s = _scenario(repeats=3)
    trials = plan_trials(s)
    platform = _Platform({1: 1})  # the first deployment breaks after its first trial
    rows: list[TrialRecord] = []
    events: list[dict[str, Any]] = []
    _run_trials(s, platform, trials, set(), rows, tmp_path, [], events.append)
    assert len(rows) == len(trials) == 6  # every trial measured, none on a broken pod
    assert len(events) == 1
    assert events[0]["problems"] == [f"app of pod {platform.deployed[0]}/frontend exited with -9"]
    assert len(platform.deployed) == 4  # both arms again, so the arms stay alike


def test_a_deployment_that_keeps_breaking_fails_the_run_with_its_cause(tmp_path: Path) -> None:
    s = _scenario(repeats=MAX_REDEPLOYS + 3)
    platform = _Platform({i: 1 for i in range(1, 100)})  # every deployment breaks
    rows: list[TrialRecord] = []
    with pytest.raises(PlatformError, match=f"after {MAX_REDEPLOYS} redeployments: app of pod"):
        _run_trials(s, platform, plan_trials(s), set(), rows, tmp_path, [])
    assert rows  # the trials measured before are kept


class _DiesAtTheStatsRead(_Dep):
    """Healthy at the check, gone when the trial reads its sidecars (a pod that died in
    between): the trial must be retried on a fresh deployment, not fail the run."""

    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        if self.serial == 1:
            raise ConnectionRefusedError(111, "Connection refused")
        return {}


def test_a_pod_dying_between_the_check_and_the_trial_is_redeployed(tmp_path: Path) -> None:
    s = _scenario(repeats=1)
    platform = _Platform({}, _DiesAtTheStatsRead)
    rows: list[TrialRecord] = []
    events: list[dict[str, Any]] = []
    _run_trials(s, platform, plan_trials(s), set(), rows, tmp_path, [], events.append)
    assert len(rows) == 2
    assert len(events) == 1 and "stopped answering before" in events[0]["problems"][0]


class _OneMeshAtATime(_Platform):
    """kind's shape: meshes conflict, the baseline arms can run beside each."""

    concurrent_meshes = False
    baseline_beside_each_mesh = True

    def __init__(self, broken: dict[int, int | None] | None = None) -> None:
        super().__init__(broken or {})
        self.live: list[str] = []
        self.live_at_verify: list[tuple[str, tuple[str, ...]]] = []  # (arm, arms up)
        self.seen_live: list[tuple[str, tuple[str, ...]]] = []  # (mesh measured, arms up)

    @contextmanager
    def deploy(
        self,
        mesh: str,
        topology: Topology,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> Iterator[Deployment]:
        platform = self

        class Watched(_Dep):
            def verify(self) -> Proof:
                platform.live_at_verify.append((self.mesh, tuple(sorted(platform.live))))
                return super().verify()

            def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
                platform.seen_live.append((self.mesh, tuple(sorted(platform.live))))
                return super().run_load(request, out_dir)

        if mesh not in ("none", "none-aa") and any(m not in ("none", "none-aa") for m in self.live):
            raise PlatformError(f"{mesh} deployed while {self.live} is up: meshes conflict")
        self.deployed.append(mesh)
        self.live.append(mesh)
        try:
            yield Watched(mesh, len(self.deployed), self.broken.get(len(self.deployed)))
        finally:
            self.live.remove(mesh)


def test_one_mesh_at_a_time_runs_the_baseline_beside_every_mesh(tmp_path: Path) -> None:
    from meshbench.planning.windows import window_of

    s = parse_scenario(
        {
            "name": "windows",
            "platform": "kind",
            "repeats": 2,
            "meshes": ["none", "istio", "linkerd"],
            "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
        }
    )
    platform = _OneMeshAtATime()
    ordered = execution_order(plan_trials(s), platform)
    rows: list[TrialRecord] = []
    _run_trials(s, platform, ordered, set(), rows, tmp_path, [])
    assert len(rows) == 8  # 2 + 2 mesh trials, the 2 baseline trials once in each window
    # every trial ran with exactly its window's mesh and the baseline deployed
    for (measured, live), row in zip(platform.seen_live, rows, strict=True):
        assert row.mesh == measured and live == tuple(sorted({"none", row.window}))
    windows = [r.window for r in rows]
    assert windows == sorted(windows, key=windows.index)  # each window runs back to back
    for w in ("istio", "linkerd"):  # inside a window: the plan's interleaved order
        assert [r.mesh for r in rows if r.window == w] == [
            t.mesh for t in plan_trials(s) if t.mesh in ("none", w)
        ]
    assert window_of(ordered[0]) == "istio" and rows[0].mesh == "istio"
    assert len(platform.deployed) == 4  # mesh + baseline, once per window
    assert sorted(p.name for p in (tmp_path / "proof").iterdir()) == [
        "istio.json",
        "linkerd.json",
        "none-in-istio.json",
        "none-in-linkerd.json",
    ]
    # the mesh first in each window: the baseline is proven while the mesh is installed
    assert platform.deployed == ["istio", "none", "linkerd", "none"]
    assert [live for arm, live in platform.live_at_verify if arm == "none"] == [
        ("istio", "none"),
        ("linkerd", "none"),
    ]


def test_a_redeploy_inside_a_window_redeploys_the_whole_window(tmp_path: Path) -> None:
    """A baseline found broken is redeployed beside its mesh (the mesh first again), never
    left to run alone until the mesh's next trial."""
    s = parse_scenario(
        {
            "name": "windows",
            "platform": "kind",
            "repeats": 3,
            "meshes": ["none", "istio"],
            "aa_control": True,
            "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
        }
    )
    platform = _OneMeshAtATime({2: 1})  # the first window's `none` breaks after one trial
    ordered = execution_order(plan_trials(s), platform)
    rows: list[TrialRecord] = []
    events: list[dict[str, Any]] = []
    _run_trials(s, platform, ordered, set(), rows, tmp_path, [], events.append)
    assert len(rows) == len(ordered) == 9 and len(events) == 1
    assert platform.deployed == ["istio", "none", "none-aa"] * 2  # all again, mesh first
    for measured, live in platform.seen_live:
        assert live == ("istio", "none", "none-aa"), measured
    for _, live in platform.live_at_verify:
        assert "istio" in live


def test_each_swept_deployment_of_a_mesh_is_a_window_of_its_own(tmp_path: Path) -> None:
    """A mesh swept over mTLS has two install windows named alike ('istio'): they must not
    be deployed together (two istios on one cluster)."""
    s = parse_scenario(
        {
            "name": "windows",
            "platform": "kind",
            "repeats": 1,
            "meshes": ["none", "istio"],
            "sweep": {"mtls": [True, False]},
            "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
        }
    )
    platform = _OneMeshAtATime()
    ordered = execution_order(plan_trials(s), platform)
    rows: list[TrialRecord] = []
    _run_trials(s, platform, ordered, set(), rows, tmp_path, [])
    assert len(rows) == 4
    assert platform.deployed == ["istio", "none", "istio", "none"]
    assert {r.window for r in rows} == {"istio"}  # analysis pairs by window and cell
