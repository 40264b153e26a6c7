"""A full disk (a small tmpfs) and a read-only one (a tmpfs remounted read-only): `run`,
`--resume`, `report`, `compare` and `clean`'s tidying end in one line that names the
path and the fix, the first error first; no traceback, no torn file.

Mounting needs root (CAP_SYS_ADMIN); where the test cannot mount it is skipped with the
reason. Every mount is undone on every path."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshbench.cli import main
from meshbench.platforms.local import cleanup
from meshbench.results import rundir
from meshbench.results.store import read_run_json, read_trial_rows
from meshbench.runner import run
from meshbench.testing.synthetic import small_run

from .grouped_platform import GroupedPlatform, use_grouped_platform


def _mount(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards whatever happened."""
    where = tmp_path / "disk"
    _mount(where, "2m")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` until a write fails with ENOSPC; returns the filler file."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f:  # unbuffered: nothing left to flush at close
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


def _read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("meshbench: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_report_on_a_full_disk_says_which_file_and_how_to_fix_it(
    disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = small_run(disk / "run", ["none", "envoy"])
    filler = _fill(disk)
    assert main(["report", str(run_dir)]) == 2
    line = _one_error_line(capsys)
    assert f"cannot write {run_dir}/plots/" in line and "No space left on device" in line
    assert f"fix: free space on the filesystem of {run_dir}/plots (see `df -h" in line
    names = [p.name for p in (run_dir / "plots").iterdir()] if (run_dir / "plots").exists() else []
    assert names == []  # nothing torn, no temporary left
    filler.unlink()
    assert main(["report", str(run_dir)]) == 0


def test_a_run_that_fills_its_disk_fails_in_one_line_and_resumes_once_freed(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The disk fills during trial 3. The run ends `failed` on the first error (naming
    the run directory and how to finish it); keeping the logs, which fails on the full
    disk too, is added to that line, not put in its place; a resume once space is
    freed completes the run and keeps the two trials measured before."""

    class CopiesLogs(GroupedPlatform):
        def collect_logs(self, dest: Path) -> None:
            logs = sorted(self.state.rglob("*.log"))
            rundir.copy_all_in(dest.parent, dest.name, self.state, logs)

    scenario = use_grouped_platform(tmp_path, monkeypatch)
    monkeypatch.setattr(run, "platform_class", lambda name: CopiesLogs)
    fillers: list[Path] = []
    GroupedPlatform.before_load = lambda n: fillers.append(_fill(disk)) if n == 3 else None
    results = disk / "results"
    assert main(["run", str(scenario), "--results", str(results)]) == 2
    line = _one_error_line(capsys)
    (run_dir,) = results.iterdir()
    assert "No space left on device" in line
    assert f"then finish the run with `meshbench run --resume {run_dir}" in line
    assert "; keeping the logs failed too: cannot write " in line
    assert line.index("--resume") < line.index("keeping the logs")  # the first error first
    assert len(read_trial_rows(run_dir)) == 2

    fillers[0].unlink()
    GroupedPlatform.before_load, GroupedPlatform.loads = None, 0
    assert run.run_scenario(scenario, results, resume=run_dir) == run_dir
    assert read_run_json(run_dir)["status"] == "complete"
    assert len(read_trial_rows(run_dir)) == 4


@pytest.fixture
def read_only(disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """On one disk, then remounted read-only: a complete run, a failed run to resume, a
    killed run with a temporary file for `clean` to tidy."""
    done = small_run(disk / "results" / "done", ["none", "envoy"])
    scenario = use_grouped_platform(tmp_path, monkeypatch)
    GroupedPlatform.fail_at = 2
    with pytest.raises(Exception, match="pod exploded"):
        run.run_scenario(scenario, disk / "results")
    (failed,) = [p for p in (disk / "results").iterdir() if p.name != "done"]
    (failed / ".trials.csv.0123abcd").write_text("half a file")
    _read_only(disk)
    GroupedPlatform.fail_at, GroupedPlatform.loads, GroupedPlatform.built = None, 0, 0
    return {"done": done, "failed": failed, "scenario": scenario, "root": disk / "results"}


def test_a_read_only_results_directory_is_one_line_for_every_command(
    read_only: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    done, failed, root = read_only["done"], read_only["failed"], read_only["root"]
    fix = "is on a read-only filesystem: remount it read-write, or give a writable directory"

    assert main(["report", str(done)]) == 2
    line = _one_error_line(capsys)
    assert f"cannot write {done}/plots/" in line and "Read-only file system" in line
    assert fix in line
    assert main(["report", str(done), "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "report.html").exists()

    assert main(["compare", str(done), str(done)]) == 2
    assert fix in _one_error_line(capsys)

    argv = ["run", str(read_only["scenario"]), "--results", str(root)]
    assert main([*argv, "--resume", str(failed)]) == 2
    line = _one_error_line(capsys)
    assert f"cannot write into {failed}: Read-only file system" in line and fix in line
    assert GroupedPlatform.built == 0  # refused before the platform created anything

    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert f"cannot create {root}/" in line and "Read-only file system" in line

    monkeypatch.setattr(cleanup, "clean", lambda force=False: ([], []))
    assert main(["clean", "--results", str(root)]) == 2
    line = _one_error_line(capsys)
    assert f"cannot remove {failed}/.trials.csv.0123abcd: Read-only file system" in line
