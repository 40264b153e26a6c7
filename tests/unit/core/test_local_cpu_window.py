"""The local platform's sidecar and app CPU cover the measured phase only, not the
generator's start and warm-up (as on kind): the schedule origin is fixed before the
generator starts and usage is sampled on timers at the phase's boundaries.

Driven through fakes at the boundary: the generator (``run_workers``, which writes the
interval log whose StartTime says which origin it took) and the process table
(``usage()``), whose CPU counters grow at one rate during the warm-up and another during
the measured phase, so a window that includes the warm-up shows in the figure.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from meshbench.config.scenario import parse_scenario
from meshbench.config.topology import chain
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.platforms.base import UsageSnapshot
from meshbench.platforms.local import deployment as local_deployment
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.results.hlog import LogWriter
from meshbench.testing.contexts import offline_context

WARMUP_S, DURATION_S = 0.4, 0.5
WARMUP_CORES, MEASURED_CORES, AFTER_CORES = 3.0, 0.5, 3.0


class Host:
    """One sidecar whose CPU time grows at a known rate in each phase of the load."""

    def __init__(self) -> None:
        self.begin = self.end = float("inf")

    def cpu_s(self, t: float) -> float:
        if t <= self.begin:
            return WARMUP_CORES * t
        if t <= self.end:
            return WARMUP_CORES * self.begin + MEASURED_CORES * (t - self.begin)
        measured = MEASURED_CORES * (self.end - self.begin)
        return WARMUP_CORES * self.begin + measured + AFTER_CORES * (t - self.end)

    def usage(self) -> UsageSnapshot:
        t = time.time()
        return UsageSnapshot(taken_at_s=t, cpu_s={"frontend/sidecar": self.cpu_s(t)})


def deployment(tmp_path: Path) -> LocalDeployment:
    sc = parse_scenario(
        {"name": "cpu", "meshes": ["none", "envoy"], "load": {"rates_rps": [100], "duration_s": 1}}
    )
    context = offline_context(sc, tmp_path)  # no platform: no root, no namespaces
    return LocalDeployment(context, "envoy", chain(3), index=0)


@pytest.fixture
def wired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A deployment whose generator takes the origin it is given (``origin_off_s`` later,
    when set) and stops after ``runs_s`` of its schedule (default: all of it)."""
    monkeypatch.setattr(local_deployment, "START_DELAY_S", 0.2)
    host = Host()
    dep = deployment(tmp_path)
    monkeypatch.setattr(dep, "usage", host.usage)
    knobs: dict[str, Any] = {
        "dep": dep,
        "host": host,
        "origin_off_s": 0.0,
        "runs_s": WARMUP_S + DURATION_S,
        "seen": {},
    }

    def run_workers(req: LoadRequest, out_dir: Path, *_a: Any, **kw: Any) -> LoadSummary:
        knobs["seen"] = kw
        origin = kw["start_at"] + knobs["origin_off_s"]
        host.begin, host.end = origin + req.warmup_s, origin + req.warmup_s + req.duration_s
        time.sleep(max(0.0, origin + knobs["runs_s"] - time.time()) + 0.15)  # + exit
        out_dir.mkdir(parents=True, exist_ok=True)
        with (out_dir / HLOG_FILE).open("w") as f:
            LogWriter(f, origin)
        return LoadSummary(
            requests=1,
            errors=0,
            warmup_requests=1,
            warmup_errors=0,
            duration_s=req.duration_s,
            achieved_rps=1.0,
            generator_cpu=0.1,
            started_utc="",
        )

    monkeypatch.setattr(local_deployment, "run_workers", run_workers)
    return knobs


def request() -> LoadRequest:
    return LoadRequest("http://198.18.0.11:8080/", 100, DURATION_S, WARMUP_S, label="t001")


def test_sidecar_cpu_covers_the_measured_phase_only(wired: dict[str, Any], tmp_path: Path) -> None:
    dep: LocalDeployment = wired["dep"]
    before = dep.usage()  # what the orchestrator takes around run_load
    dep.run_load(request(), tmp_path / "t001")
    after = dep.usage()
    assert wired["seen"]["start_at"] > 0  # the origin was fixed before the generator ran
    measured = dep.measured_usage()
    assert measured is not None
    start, end = measured
    host: Host = wired["host"]
    late_s = 0.1  # a timer fires late on a busy machine, never early
    assert host.begin <= start.taken_at_s <= host.begin + late_s
    assert host.end <= end.taken_at_s <= host.end + late_s
    assert end.cores_since(start, "sidecar") < MEASURED_CORES + 0.6  # 0.5 when on time
    # the whole load's window, as before: diluted by start, warm-up and exit
    assert after.cores_since(before, "sidecar") > MEASURED_CORES + 1.0


def test_a_generator_that_stops_early_closes_the_window_when_it_returns(
    wired: dict[str, Any], tmp_path: Path
) -> None:
    wired["runs_s"] = WARMUP_S + DURATION_S / 2  # a bound stopped it halfway
    dep: LocalDeployment = wired["dep"]
    dep.run_load(request(), tmp_path / "t001")
    measured = dep.measured_usage()
    assert measured is not None
    start, end = measured
    assert end.taken_at_s < wired["host"].end  # not left waiting for the planned end
    assert end.taken_at_s - start.taken_at_s == pytest.approx(DURATION_S / 2 + 0.15, abs=0.1)


def test_a_generator_off_the_planned_origin_leaves_the_whole_load_window(
    wired: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wired["origin_off_s"] = 0.3  # started late: the timers would miss its phase
    dep: LocalDeployment = wired["dep"]
    dep.run_load(request(), tmp_path / "t001")
    assert dep.measured_usage() is None  # the orchestrator's snapshots stand
    assert "did not start on the planned origin (+0.30 s off)" in caplog.text
