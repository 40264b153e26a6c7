"""One local run per host, one writer per run directory, and no stale locks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshbench.results import locks
from meshbench.runner.run import run_scenario


def test_a_second_holder_is_refused_with_the_first_named(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    busy = r"the thing is busy: run A \(pid 1\)"
    with locks.exclusive(lock, "the thing", "run A (pid 1)", fix="wait"):
        with (
            pytest.raises(locks.BusyError, match=busy) as e,
            locks.exclusive(lock, "the thing", "run B", fix="wait"),
        ):
            pass
        assert "wait" in str(e.value)
    with locks.exclusive(lock, "the thing", "run B", fix="wait"):  # free again
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    code = (
        "import sys, time; from pathlib import Path; from meshbench.results import locks\n"
        "with locks.exclusive(Path(sys.argv[1]), 'x', 'holder', fix='-'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(locks.BusyError, match="holder"),
            locks.exclusive(lock, "x", "me", fix="-"),
        ):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + 5
        while True:
            try:
                with locks.exclusive(lock, "x", "me", fix="-"):
                    break
            except locks.BusyError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_local_run_is_refused_while_another_holds_the_host(
    tmp_path: Path,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Refused before anything is created: no run directory, no namespace."""
    monkeypatch.setattr(locks, "HOST_LOCK", tmp_path / "host.lock")
    results = tmp_path / "results"
    busy = r"this host is busy: meshbench run .*other-run"
    with locks.host(Path("results/other-run")), pytest.raises(locks.BusyError, match=busy):
        run_scenario(repo / "scenarios" / "smoke.yaml", results)
    assert not results.exists() or not any(results.iterdir())


def test_two_resumes_of_one_run_are_refused(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "HOST_LOCK", tmp_path / "host.lock")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    meta = json.loads((repo / "tests" / "data" / "smoke-run" / "run.json").read_text())
    meta["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(meta))
    scenario_file = tmp_path / "stored.json"  # the scenario the run started from
    scenario_file.write_text(json.dumps(meta["scenario"]))
    busy = f"run directory {run_dir} is busy"
    with locks.run_directory(run_dir), pytest.raises(locks.BusyError, match=busy):
        run_scenario(scenario_file, tmp_path, resume=run_dir)


def test_a_killed_run_is_told_apart_from_a_running_one(tmp_path: Path) -> None:
    assert locks.is_held(tmp_path) is None  # a run from before the locks
    with locks.run_directory(tmp_path):
        assert locks.is_held(tmp_path) is True
    assert locks.is_held(tmp_path) is False  # the holder is gone: killed, or finished


def test_report_says_a_running_run_nobody_holds_was_killed(tmp_path: Path, repo: Path) -> None:
    import shutil

    from meshbench.analysis import load_run

    run_dir = tmp_path / "run"
    shutil.copytree(repo / "tests" / "data" / "smoke-run", run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["status"] = "running"
    (run_dir / "run.json").write_text(json.dumps(meta))
    with locks.run_directory(run_dir):  # really running: no such warning
        assert not any("was killed" in w for w in load_run(run_dir).warnings)
    assert any(
        "no meshbench process holds this run: it was killed" in w
        for w in load_run(run_dir).warnings
    )


def test_a_resume_with_a_changed_scenario_is_refused(tmp_path: Path, repo: Path) -> None:
    import yaml

    from meshbench.errors import ScenarioError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    meta = json.loads((repo / "tests" / "data" / "smoke-run" / "run.json").read_text())
    meta["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(meta))
    changed = dict(meta["scenario"])
    changed["repeats"] = changed["repeats"] + 1
    changed_file = tmp_path / "changed.yaml"
    changed_file.write_text(yaml.safe_dump(changed))
    with pytest.raises(
        ScenarioError,
        match=r"changed.yaml differs from the scenario stored in "
        r".*run.json in: repeats",
    ):
        run_scenario(changed_file, tmp_path, resume=run_dir)
    assert not (run_dir / locks.RUN_LOCK).exists()  # refused before anything was touched
