"""Attribution on the real local platform, against known answers: a service with a fixed
work time shows it as that pod's app time in every arm and nowhere else, a fixed delay
added to one sidecar's inbound path shows up in that pod's inbound part and nowhere else,
and every measured request is followed through every pod in HTTP/1.1 and gRPC (HTTP/2
multiplexed between sidecars), with and without mutual TLS (opened with the sidecars'
key logs)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from meshbench.analysis import load_run
from meshbench.analysis.attribution import HOPS_DTYPE, TrialParts, request_parts, trial_parts
from meshbench.results.store import read_trial_rows
from meshbench.runner.run import run_scenario
from meshbench.service.worktime import WorkClock
from meshbench.testing.stalls import assert_valid_or_host_stalled

pytestmark = pytest.mark.integration

WORK_MS = 4.0  # the backend's fixed work time in the second run
DELAY_MS = 3.0  # the fault filter's delay on the middle sidecar's inbound path
NOT_THERE_MS = 0.8 * DELAY_MS
"""A part holding the delay would show at least ``DELAY_MS`` at its p50; every other part
must stay below this (gRPC's app parts run 1.0-1.5 ms of grpcio's own time here)."""
CHAIN = ["load", "frontend", "middle", "backend"]
SLACK_MS = 0.1
"""Beyond the host's own timer overshoot (below), how far the backend's app part may grow
past its work time, and how far short of it it may fall."""


def timer_overshoot_ms(cpu: int = 1, n: int = 200) -> float:
    """The 99th percentile (ms) of how late a 4 ms :class:`WorkClock` sleep returns on
    ``cpu`` when that core is otherwise idle: the known work time is exact, but waking an
    idle core is not (0.18 ms p50 and 0.31 ms p99 on the 2-vCPU VM this was written on,
    timer slack or not). That lateness is the app's own time, rightly, so the known answer
    is the work time plus at most this."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:

        async def late() -> list[float]:
            clock, out = WorkClock(), []
            for _ in range(n):
                t = time.perf_counter()
                await clock.sleep(WORK_MS / 1e3)
                out.append((time.perf_counter() - t) * 1e3 - WORK_MS)
                await asyncio.sleep(0.005)
            clock.close()
            return out

        return float(np.percentile(asyncio.run(late()), 99))
    finally:
        os.sched_setaffinity(0, before)


def _scenario(work_ms: float) -> dict[str, object]:
    """The chain; gRPC beside HTTP/1.1 in the first run only (the second checks the
    HTTP/1.1 service's work time)."""
    protocols = ["http1", "grpc"] if work_ms == 0 else ["http1"]
    return {
        "name": f"attribution-work{work_ms:g}",
        "meshes": ["none", "envoy", "envoy-mtls"],
        "topology": {
            "entry": "frontend",
            "services": [
                {"name": "frontend", "calls": ["middle"]},
                {"name": "middle", "calls": ["backend"]},
                {"name": "backend", "work_ms": work_ms},
            ],
        },
        "sweep": {"protocol": protocols},
        "load": {"rates_rps": [50], "duration_s": 2, "warmup_s": 0.5, "connections": 4},
        "repeats": 1,
        "attribution": {"enabled": True, "observer": False},
        "validity": {"max_send_lag_p99_ms": 50},
        "local": {
            "load_cpus": "0",
            "pod_cpus": "1",
            # the delay only where the work is 0: with the backend working 4 ms, Envoy
            # 1.40 held 60-90 % of the middle's requests for twice the fault's 3 ms (its
            # own access log agrees: DS_RX_BEG to US_TX_BEG p50 6.4 ms), which would hide
            # a work time leaking into that part
            **({"sidecar_inbound_delay_ms": {"middle": DELAY_MS}} if work_ms == 0 else {}),
        },
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[float, Path]:
    """The same chain twice: the backend without work (and a fault delay in the middle's
    inbound sidecar), then with a fixed work time (and no delay)."""
    out = {}
    for work_ms in (0.0, WORK_MS):
        path = tmp_path_factory.mktemp("sc") / "attribution.yaml"
        path.write_text(yaml.safe_dump(_scenario(work_ms)))
        run_dir = run_scenario(path, tmp_path_factory.mktemp("results"))
        assert run_dir is not None
        out[work_ms] = run_dir
    return out


def _parts(run_dir: Path) -> dict[tuple[str, str], TrialParts]:
    """(mesh, protocol) -> that trial's parts."""
    r = load_run(run_dir)
    out = {}
    for t in r.trials.itertuples():
        tp = trial_parts(r, str(t.trial_id))
        assert tp is not None, t.trial_id
        out[(str(t.mesh), str(t.protocol))] = tp
    return out


def test_every_measured_request_is_followed_through_every_pod(runs: dict[float, Path]) -> None:
    for run_dir in runs.values():
        assert_valid_or_host_stalled(read_trial_rows(run_dir), max_stalled=1)
        for key, tp in _parts(run_dir).items():
            assert tp.problems == [], (key, tp.problems)
            assert tp.followed == tp.requested == 100, key


def test_a_work_time_is_that_pods_app_time_in_every_arm_and_nowhere_else(
    runs: dict[float, Path],
) -> None:
    """The second run's backend works 4 ms a request: over HTTP/1.1 its app part grows by
    at least 4 ms less :data:`SLACK_MS` and by no more than 4 ms plus the host's timer
    overshoot and :data:`SLACK_MS`, with or without sidecars, and no other part grows by
    as much as a tenth of it. (Other parts may shrink: with the backend waiting, the other
    processes on the pods' one core contend less on the way back. gRPC is left out here: grpcio's
    server answers 0.1-0.3 ms later after a wait than at once, and its parts move that
    much between two runs; it is followed and paired in the other tests.)"""
    idle, working = _parts(runs[0.0]), _parts(runs[WORK_MS])
    assert len(working) == 3
    late_ms = timer_overshoot_ms()
    for key in working:
        grew = {p: working[key].p50[p] - idle[key].p50[p] for p in idle[key].p50 if p != "total"}
        low, high = WORK_MS - SLACK_MS, WORK_MS + late_ms + SLACK_MS
        assert low <= grew["backend app"] <= high, (key, grew["backend app"], late_ms)
        others = {p: g for p, g in grew.items() if p not in ("backend app", "middle inbound")}
        assert all(g < WORK_MS / 10 for g in others.values()), (key, others)
        # the middle's inbound part held the fault delay in the first run only: here it
        # must hold neither the delay nor the work
        assert working[key].p50["middle inbound"] < WORK_MS / 4, (key, working[key].p50)


def test_a_delay_in_one_sidecars_inbound_path_is_found_there_and_nowhere_else(
    runs: dict[float, Path],
) -> None:
    for key, tp in _parts(runs[0.0]).items():
        mesh = key[0]
        if mesh == "none":
            assert tp.means["middle inbound"] == 0, key  # no sidecar, no delay
            continue
        assert tp.p50["middle inbound"] >= DELAY_MS, (key, tp.p50)
        for part, value in tp.p50.items():
            if part not in ("total", "middle inbound"):
                assert value < NOT_THERE_MS, (key, part, value)


def test_the_parts_add_up_to_the_round_trip_on_the_load_pods_wire(
    runs: dict[float, Path],
) -> None:
    for run_dir in runs.values():
        for trial_dir in (run_dir / "trials").iterdir():
            hops = pd.read_csv(trial_dir / "hops.csv.gz", dtype=HOPS_DTYPE)
            parts = request_parts(hops, CHAIN)
            summed = parts.drop(columns=["request_id", "total"]).sum(axis=1)
            assert (summed - parts["total"]).abs().max() < 1e-6, trial_dir.name
