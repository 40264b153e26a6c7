"""Files inside a run directory are held inside it: a link there is refused or replaced,
never followed out of it, and every write is atomic."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from meshbench.errors import ResultsError, StorageError
from meshbench.results import locks, rundir
from meshbench.results.store import (
    SCHEMA_VERSION,
    read_run_json,
    read_trial_rows,
    write_json,
    write_trials,
)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the run with a file meshbench must never touch."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret").write_text("not meshbench's\n")
    return d


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    return d


def _untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "not meshbench's\n"


def test_a_linked_directory_is_refused_and_nothing_is_written_through_it(
    run_dir: Path, outside: Path
) -> None:
    (run_dir / "plots").symlink_to(outside)
    with pytest.raises(rundir.LinkRefused, match=r"plots is a symbolic link .*rm .*plots"):
        rundir.write_bytes(run_dir, "plots/cdf.png", b"png")
    with pytest.raises(rundir.LinkRefused):
        rundir.make_dir(run_dir, "plots/sub")
    (run_dir / "proof").symlink_to(outside)
    with pytest.raises(rundir.LinkRefused):
        write_json(run_dir / "proof" / "envoy.json", {}, root=run_dir)
    _untouched(outside)


def test_a_link_at_the_files_own_name_is_replaced_not_written_through(
    run_dir: Path, outside: Path
) -> None:
    (run_dir / "run.json").symlink_to(outside / "secret")
    write_json(run_dir / "run.json", {"schema_version": SCHEMA_VERSION}, root=run_dir)
    assert not (run_dir / "run.json").is_symlink()
    assert read_run_json(run_dir)["schema_version"] == SCHEMA_VERSION
    _untouched(outside)


def test_reads_that_resolve_outside_the_run_are_refused(run_dir: Path, outside: Path) -> None:
    (outside / "run.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
    (run_dir / "run.json").symlink_to(outside / "run.json")
    with pytest.raises(rundir.LinkRefused, match="resolves outside the run directory"):
        read_run_json(run_dir)
    (outside / "trials.csv").write_text("trial_id\nt001\n")
    (run_dir / "trials.csv").symlink_to(outside / "trials.csv")
    with pytest.raises(rundir.LinkRefused, match=r"trials\.csv resolves outside"):
        read_trial_rows(run_dir)
    (run_dir / "histograms").symlink_to(outside)
    with pytest.raises(rundir.LinkRefused):
        rundir.read_text(run_dir, "histograms/secret")


def test_a_link_that_stays_inside_the_run_is_read(run_dir: Path) -> None:
    (run_dir / "real.csv").write_text("trial_id,mesh\nt001,none\n")
    (run_dir / "trials.csv").symlink_to("real.csv")
    assert read_trial_rows(run_dir) == [{"trial_id": "t001", "mesh": "none"}]


def test_a_named_pipe_is_not_read_and_does_not_block(run_dir: Path) -> None:
    os.mkfifo(run_dir / "trials.csv")
    with pytest.raises(ResultsError, match="not a regular file"):
        read_trial_rows(run_dir)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(run_dir: Path) -> None:
    rundir.write_text(run_dir, "summary.md", "old\n")

    def half(f: object) -> None:
        f.write(b"new, but only ha")  # type: ignore[attr-defined]
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        rundir.write_atomic(run_dir, "summary.md", half)
    assert (run_dir / "summary.md").read_text() == "old\n"
    assert sorted(p.name for p in run_dir.iterdir()) == ["summary.md"]


def test_written_files_follow_the_umask_as_plain_files_do(run_dir: Path) -> None:
    old = os.umask(0o027)
    try:
        path = rundir.write_text(run_dir, "a/b.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.parent.stat().st_mode & 0o777 == 0o750


def test_trials_and_histograms_dirs_that_are_links_stop_a_trial(
    run_dir: Path, outside: Path
) -> None:
    (run_dir / "trials").symlink_to(outside)
    with pytest.raises(rundir.LinkRefused):
        rundir.make_dir(run_dir, "trials/t001-none-100rps-r1")
    (run_dir / "trials.csv").symlink_to(outside / "secret")
    write_trials(run_dir, [])  # replaces the link
    assert (run_dir / "trials.csv").read_text().startswith("trial_id,")
    (run_dir / "leftover").symlink_to(outside)
    rundir.remove(run_dir, "leftover")  # the link goes, never what it points to
    assert not (run_dir / "leftover").exists()
    _untouched(outside)


def test_a_lock_file_that_is_a_link_is_refused_not_truncated(run_dir: Path, outside: Path) -> None:
    (run_dir / locks.RUN_LOCK).symlink_to(outside / "secret")
    with pytest.raises(rundir.LinkRefused, match="symbolic link"), locks.run_directory(run_dir):
        pass
    assert locks.is_held(run_dir) is None
    _untouched(outside)


def test_a_permission_error_names_its_path_and_fix() -> None:
    got = rundir._failure(OSError(errno.EACCES, "Permission denied"), Path("/r/run.json"), "read")
    assert isinstance(got, StorageError)
    assert str(got) == (
        f"cannot read /r/run.json: Permission denied (fix: let this user (uid {os.geteuid()}) "
        "read /r, or give another directory (run --results DIR, report/compare --out DIR))"
    )
