"""run_scenario end to end on a fake platform: what run.json and trials.csv say after a
complete, a failed and an interrupted run, and that a resume runs only what is missing.
(The integration tests do this on the local platform as root; these run everywhere, so
mutation testing, which runs the unit tests only, sees the run loop too.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from meshbench.config.scenario import Scenario
from meshbench.config.topology import Topology
from meshbench.host.pinning import Pinning
from meshbench.load import spec, workers
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.load.workers import run_workers
from meshbench.platforms.base import Deployment, Platform, PlatformEnvironment
from meshbench.results.store import read_run_json, read_trial_rows
from meshbench.runner import run
from meshbench.testing.fake_deployment import NoSidecarDeployment, canned_load

STOPS_ITSELF = ["sh", "-c", 'kill -STOP $$ && exec "$@"', "sh"]
"""A launcher that stops itself before the generator runs: a generator starved for good."""
PINNING = {"load_cpus": "0", "pod_cpus": "1", "sidecar_cpus": "1", "chosen_by": "fake"}


class _Dep(NoSidecarDeployment):
    def __init__(self, platform: _Platform, mesh: str) -> None:
        self.platform = platform
        self.mesh = mesh

    def target_url(self) -> str:
        return "http://127.0.0.1:9/"

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        self.platform.loads += 1
        if self.platform.loads == self.platform.fail_at:
            raise self.platform.failure
        if self.platform.loads == self.platform.starve_at:  # a generator that never runs
            return run_workers(request, out_dir, prefix=STOPS_ITSELF)
        return canned_load(request, out_dir)


class _Platform(Platform):
    """Deploys nothing; records what the run asked of it (class-wide, as the run builds
    the platform itself)."""

    name = "fake"
    concurrent_meshes = True
    fail_at: ClassVar[int | None] = None
    starve_at: ClassVar[int | None] = None
    failure: ClassVar[BaseException] = RuntimeError("pod exploded")
    calls: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.loads = 0

    def environment(self) -> PlatformEnvironment:
        return PlatformEnvironment(
            name=self.name, versions={"fake": "1.0"}, pinning=Pinning(**PINNING)
        )

    @contextmanager
    def deploy(
        self,
        mesh: str,
        topology: Topology,
        mtls: bool | None = None,
        name: str | None = None,
        capture: bool = False,
    ) -> Iterator[Deployment]:
        self.calls.append(("deploy", (mesh, mtls)))
        yield _Dep(self, mesh)

    def collect_logs(self, dest: Path) -> None:
        self.calls.append(("collect_logs", dest))

    def close(self) -> None:
        self.calls.append(("close", None))


@pytest.fixture
def scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _Platform.calls = []
    _Platform.fail_at, _Platform.failure = None, RuntimeError("pod exploded")
    _Platform.starve_at = None
    monkeypatch.setattr(run, "platform_class", lambda name: _Platform)
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "fake-run",
                "meshes": ["none", "envoy", "envoy-mtls"],
                "repeats": 2,
                "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
            }
        )
    )
    return path


def test_a_complete_run_records_everything(scenario_file: Path, tmp_path: Path) -> None:
    run_dir = run.run_scenario(scenario_file, tmp_path / "results")
    assert run_dir is not None
    meta = read_run_json(run_dir)
    assert meta["status"] == "complete" and meta["finished_utc"]
    assert meta["pinning"] == PINNING
    assert meta["platform"]["name"] == "fake"
    assert meta["versions"]["fake"] == "1.0"
    assert len(meta["plan"]) == 6  # 3 meshes x 2 repeats
    rows = read_trial_rows(run_dir)
    assert sorted(r["trial_id"] for r in rows) == sorted(t["trial_id"] for t in meta["plan"])
    assert all(r["valid"] == "true" for r in rows), [r["invalid_reason"] for r in rows]
    deployed = {arg for call, arg in _Platform.calls if call == "deploy"}
    assert deployed == {("none", None), ("envoy", None), ("envoy-mtls", None)}
    assert ("collect_logs", run_dir / "logs") in _Platform.calls
    assert _Platform.calls[-2:] == [("collect_logs", run_dir / "logs"), ("close", None)]


def test_a_starved_trial_is_stored_invalid_and_the_run_goes_on(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third trial's generator never finishes: the harness stops it past its time
    bound (shortened here to seconds), stores that trial invalid with the cause, and
    measures the other five."""
    monkeypatch.setattr(workers, "START_DELAY_S", 0.1)
    monkeypatch.setattr(workers, "OVERRUN_GRACE_S", 0.5)
    monkeypatch.setattr(spec, "GENERATOR_GRACE_S", 0.0)
    _Platform.starve_at = 3
    run_dir = run.run_scenario(scenario_file, tmp_path / "results")
    assert run_dir is not None
    assert read_run_json(run_dir)["status"] == "complete"
    meta_plan = read_run_json(run_dir)["plan"]
    rows = {r["trial_id"]: r for r in read_trial_rows(run_dir)}
    assert len(rows) == 6
    starved = rows.pop(meta_plan[2]["trial_id"])
    assert starved["valid"] == "false"
    assert (
        "generator starved: did not finish within 0.5 s of its time bound; killed"
        in starved["invalid_reason"]
    )
    assert all(r["valid"] == "true" for r in rows.values()), rows


def test_a_failed_run_keeps_its_trials_and_says_why(scenario_file: Path, tmp_path: Path) -> None:
    _Platform.fail_at = 3
    with pytest.raises(RuntimeError, match="pod exploded"):
        run.run_scenario(scenario_file, tmp_path / "results")
    (run_dir,) = (tmp_path / "results").iterdir()
    meta = read_run_json(run_dir)
    assert meta["status"] == "failed" and meta["error"] == "pod exploded"
    assert meta["finished_utc"]
    assert len(read_trial_rows(run_dir)) == 2  # the two trials before the failure
    assert _Platform.calls[-1] == ("close", None)


def test_an_interrupted_run_is_kept_and_a_resume_runs_only_the_rest(
    scenario_file: Path, tmp_path: Path
) -> None:
    _Platform.fail_at, _Platform.failure = 4, KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        run.run_scenario(scenario_file, tmp_path / "results")
    (run_dir,) = (tmp_path / "results").iterdir()
    meta = read_run_json(run_dir)
    assert meta["status"] == "interrupted" and meta["finished_utc"]
    kept = {r["trial_id"] for r in read_trial_rows(run_dir)}
    assert len(kept) == 3
    _Platform.fail_at, _Platform.calls = None, []
    assert run.run_scenario(scenario_file, tmp_path / "results", resume=run_dir) == run_dir
    meta = read_run_json(run_dir)
    assert meta["status"] == "complete"
    rows = read_trial_rows(run_dir)
    assert len(rows) == 6 and kept < {r["trial_id"] for r in rows}
    assert len({r["trial_id"] for r in rows}) == 6  # nothing measured twice
    assert meta["pinning"] == PINNING


def test_the_swept_mtls_setting_reaches_the_deployment(scenario_file: Path, tmp_path: Path) -> None:
    scenario_file.write_text(
        yaml.safe_dump(
            {
                "name": "fake-mtls",
                "platform": "kind",
                "meshes": ["none", "istio"],
                "sweep": {"mtls": [True, False]},
                "load": {"rates_rps": [20], "duration_s": 1, "warmup_s": 0},
            }
        )
    )
    run_dir = run.run_scenario(scenario_file, tmp_path / "results")
    assert run_dir is not None and read_run_json(run_dir)["status"] == "complete"
    deployed = {arg for call, arg in _Platform.calls if call == "deploy"}
    assert ("istio", True) in deployed and ("istio", False) in deployed, deployed
