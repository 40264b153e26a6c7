"""`meshbench clean` tells a live owner from a reused PID, and tidies killed runs' results."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from meshbench.platforms.local.cleanup import OWNER_FILE, owner, write_owner
from meshbench.results import locks
from meshbench.results.sweep import sweep_results


@pytest.fixture
def sleeper() -> Iterator[psutil.Process]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield psutil.Process(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_the_owner_is_alive_only_with_its_own_start_time(
    tmp_path: Path, sleeper: psutil.Process
) -> None:
    (tmp_path / OWNER_FILE).write_text(f"{sleeper.pid} {sleeper.create_time():.3f}\n")
    assert owner(tmp_path) == f"pid {sleeper.pid} ({sleeper.name()}) is alive"
    # the same PID, started at another time: a reused PID, not our run's owner
    (tmp_path / OWNER_FILE).write_text(f"{sleeper.pid} {sleeper.create_time() - 3600:.3f}\n")
    assert owner(tmp_path) is None
    (tmp_path / OWNER_FILE).write_text(f"{sleeper.pid}\n")  # older runs wrote the PID alone
    assert owner(tmp_path) is not None
    (tmp_path / OWNER_FILE).write_text("999999999 1.0\n")
    assert owner(tmp_path) is None
    (tmp_path / OWNER_FILE).write_text("garbage")
    assert owner(tmp_path) is None


def test_write_owner_records_this_process_which_owner_then_ignores(tmp_path: Path) -> None:
    write_owner(tmp_path)
    pid, started = (tmp_path / OWNER_FILE).read_text().split()
    me = psutil.Process()
    assert int(pid) == me.pid and abs(float(started) - me.create_time()) < 0.01
    assert owner(tmp_path) is None  # clean never counts its own process as a live run


def _run(root: Path, name: str, status: str) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"schema_version": 1, "status": status}))
    (d / locks.RUN_LOCK).touch()
    (d / ".trials.csv.ab12cd34").write_text("half a file")
    return d


def test_sweep_tidies_killed_runs_and_leaves_live_ones(tmp_path: Path) -> None:
    dead = _run(tmp_path, "dead", "running")
    live = _run(tmp_path, "live", "running")
    done = _run(tmp_path, "done", "complete")
    with locks.run_directory(live):
        sweep = sweep_results(tmp_path)
    tidied, skipped = sweep.done, sweep.skipped
    assert json.loads((dead / "run.json").read_text())["status"] == "interrupted"
    assert "killed" in json.loads((dead / "run.json").read_text())["error"]
    assert not (dead / ".trials.csv.ab12cd34").exists()
    assert not (done / ".trials.csv.ab12cd34").exists()
    assert json.loads((done / "run.json").read_text())["status"] == "complete"
    assert (live / ".trials.csv.ab12cd34").exists()  # maybe being written right now
    assert json.loads((live / "run.json").read_text())["status"] == "running"
    assert skipped == [f"run {live}: in progress (its lock is held)"]
    assert f"status of {dead}: running -> interrupted (killed)" in tidied
    assert (dead / locks.RUN_LOCK).exists() and (dead / "run.json").exists()
