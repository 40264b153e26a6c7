"""run_scenario on a fake platform: every deployment's logs and proof named by its
deployment group and kept across a resume, a completed resume clearing the stale error,
a failed start leaving no directory, and cleanup errors added to the first error, never
put in its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.cli import main
from meshbench.config.scenario import parse_scenario
from meshbench.errors import PlatformError
from meshbench.host import activity
from meshbench.results.store import read_run_json, read_trial_rows
from meshbench.runner import run

from .grouped_platform import GroupedPlatform, use_grouped_platform


@pytest.fixture
def scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_grouped_platform(tmp_path, monkeypatch)


def test_a_resume_after_a_failure_keeps_every_deployments_logs(
    scenario_file: Path, tmp_path: Path
) -> None:
    """Group 2 fails on its first trial; the resume deploys group 2 again. Each of the six
    deployments keeps its own logs and proof, named by group; the first attempt's are
    untouched; the completed run no longer carries the failure's error."""
    GroupedPlatform.fail_at = 3  # the first trial of deployment group 2
    with pytest.raises(PlatformError, match="pod exploded"):
        run.run_scenario(scenario_file, tmp_path / "results")
    (run_dir,) = (tmp_path / "results").iterdir()
    first = {p: p.read_text() for p in (run_dir / "logs").rglob("*.log")}
    assert sorted(p.parent.name for p in first) == ["envoy", "envoy-g2", "none", "none-g2"]
    assert read_run_json(run_dir)["error"].startswith("pod exploded")

    GroupedPlatform.attempt, GroupedPlatform.loads, GroupedPlatform.fail_at = 2, 0, None
    assert run.run_scenario(scenario_file, tmp_path / "results", resume=run_dir) == run_dir
    logs = {p.parent.name: p.read_text() for p in (run_dir / "logs").rglob("*.log")}
    assert logs == {
        "none": "none of attempt 1\n",
        "envoy": "envoy of attempt 1\n",
        "none-g2": "none-g2 of attempt 1\n",
        "envoy-g2": "envoy-g2 of attempt 1\n",
        "none-g2-redeploy1": "none-g2-redeploy1 of attempt 2\n",
        "envoy-g2-redeploy1": "envoy-g2-redeploy1 of attempt 2\n",
    }
    proofs = sorted(p.stem for p in (run_dir / "proof").iterdir())
    assert proofs == sorted(logs)
    meta = read_run_json(run_dir)
    assert meta["status"] == "complete" and "error" not in meta
    (resume,) = meta["resumes"]
    assert resume["previous"]["status"] == "failed"
    assert resume["previous"]["error"].startswith("pod exploded")
    assert len(read_trial_rows(run_dir)) == 4


def test_a_start_that_fails_leaves_no_run_directory(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    GroupedPlatform.broken_init = PlatformError("the local platform needs root", fix="run as root")
    assert main(["run", str(scenario_file), "--results", str(results)]) == 2
    assert "needs root" in capsys.readouterr().err
    assert list(results.iterdir()) == []
    GroupedPlatform.broken_init = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        run.run_scenario(scenario_file, results)
    assert list(results.iterdir()) == []


def test_a_cleanup_error_is_added_to_the_first_error_not_put_in_its_place(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    GroupedPlatform.fail_at = 2
    GroupedPlatform.broken_logs = PlatformError(
        "cannot write results/x/logs/none/app.log: No space left on device",
        fix="free space",
    )
    results = tmp_path / "results"
    assert main(["run", str(scenario_file), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("meshbench: error:")]
    assert line.startswith("meshbench: error: pod exploded; keeping the logs failed too: ")
    assert "No space left on device (fix: free space)" in line
    (run_dir,) = results.iterdir()
    assert read_run_json(run_dir)["error"] == "pod exploded"

    GroupedPlatform.loads, GroupedPlatform.failure = 0, PlatformError("pod exploded")
    with pytest.raises(PlatformError, match="pod exploded") as e:
        run.run_scenario(scenario_file, results)
    (note,) = e.value.__notes__
    assert note.startswith("keeping the logs failed too: cannot write")


def _load(steal_pct: float, foreign_cpu: float) -> activity.HostLoad:
    return activity.HostLoad(steal_pct, 50.0, foreign_cpu, 2000.0, [("1 busy", foreign_cpu)])


def test_host_flags_fire_beyond_the_limit_as_recorded_never_at_it() -> None:
    """One convention for every threshold: a value at its limit passes, one beyond it
    fires; decided on the value as stored, so the table and the flag always agree."""
    load = {"rates_rps": [100], "duration_s": 1}
    sc = parse_scenario({"name": "x", "meshes": ["none"], "load": load})
    at_limit = run._host_row(sc, _load(5.004, 0.2004))  # stored as 5.0 % and 0.2 cores
    assert (at_limit["host_steal_pct"], at_limit["host_foreign_cpu"]) == (5.0, 0.2)
    assert at_limit["host_flag"] == ""
    beyond = run._host_row(sc, _load(5.006, 0.2006))  # stored as 5.01 % and 0.201 cores
    assert "CPU steal 5.01% > 5%" in beyond["host_flag"]
    assert "foreign load 0.201 cores > 0.2" in beyond["host_flag"]
