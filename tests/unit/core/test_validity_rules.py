"""Every validity rule on the side where it must say no, beside a control that passes.

``validity()`` decides which trials are stored ``valid=false``; a rule that never fires
in a test could be deleted without a test noticing. Each row below changes one figure of
an otherwise valid trial, at the threshold (still valid) and just past it (invalid with
that rule's reason, and only that one). The multi-worker cases go through
``merge_summaries`` first, the way a trial with ``load.workers > 1`` is judged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from meshbench.config.scenario import Scenario, parse_scenario
from meshbench.load.merge import merge_summaries
from meshbench.load.spec import HLOG_FILE, LoadRequest, LoadSummary
from meshbench.planning.plan import Trial
from meshbench.platforms.base import Deployment, Proof, UsageSnapshot
from meshbench.results.hlog import LogWriter, new_histogram
from meshbench.results.store import read_trial_rows, write_trials
from meshbench.runner.run import run_trial, validity

RATE_RPS = 100.0
TRIAL = Trial("t001-envoy-100rps-r1", 1, "envoy", RATE_RPS, 1, 8)


def scenario(**limits: float) -> Scenario:
    """Thresholds as written in a scenario's ``validity:`` section (defaults otherwise:
    send lag 5 ms, generator CPU 0.95 cores, no errors, 95 % of the target rate)."""
    return parse_scenario(
        {
            "name": "rules",
            "meshes": ["none", "envoy"],
            "load": {"rates_rps": [RATE_RPS], "duration_s": 10},
            "validity": limits,
        }
    )


def summary(**changes: Any) -> LoadSummary:
    """A trial that did exactly what was asked: 10 s at 100 rps, no error, a quiet
    generator, stopped by its schedule."""
    base = LoadSummary(
        requests=1000,
        errors=0,
        warmup_requests=100,
        warmup_errors=0,
        duration_s=10.0,
        achieved_rps=RATE_RPS,
        generator_cpu=0.3,
        started_utc="2026-01-01T00:00:00+00:00",
        error_kinds={},
        stopped_by="schedule",
        dispatch_lag_p99_ms=0.1,
    )
    return replace(base, **changes)


# (id, scenario limits, summary changes, send lag p99 ms, accounting, expected reason or None)
RULES: list[tuple[str, dict[str, float], dict[str, Any], float, list[str], str | None]] = [
    ("all-within-limits", {}, {}, 1.0, [], None),
    # error ratio: the default allows none
    ("one-error", {}, {"errors": 1, "error_kinds": {"HTTP 503": 1}}, 1.0, [], "errors 1/1000"),
    ("errors-at-ratio", {"max_error_ratio": 0.01}, {"errors": 10}, 1.0, [], None),
    (
        "errors-above-ratio",
        {"max_error_ratio": 0.01},
        {"errors": 11, "error_kinds": {"timeout": 11}},
        1.0,
        [],
        "errors 11/1000",
    ),
    (
        "no-request",
        {},
        {"requests": 0, "achieved_rps": RATE_RPS},
        1.0,
        [],
        "no request completed in the measured phase",
    ),
    # generator CPU (cores)
    ("cpu-at-limit", {}, {"generator_cpu": 0.95}, 1.0, [], None),
    ("cpu-above-limit", {}, {"generator_cpu": 0.96}, 1.0, [], "generator CPU 0.96 cores > 0.95"),
    (
        "cpu-custom-limit",
        {"max_generator_cpu": 0.5},
        {"generator_cpu": 0.51},
        1.0,
        [],
        "generator CPU 0.51 cores > 0.5",
    ),
    # achieved rate: at least 95 % of the target
    ("rate-at-ratio", {}, {"achieved_rps": 95.0}, 1.0, [], None),
    (
        "rate-below-ratio",
        {},
        {"achieved_rps": 94.9},
        1.0,
        [],
        "achieved 94.9 rps < 0.95 x target 100 rps",
    ),
    (
        "rate-far-below",
        {"min_achieved_ratio": 0.5},
        {"achieved_rps": 40.0},
        1.0,
        [],
        "achieved 40 rps < 0.5 x target 100 rps",
    ),
    # what stopped the load
    (
        "stopped-by-time-bound",
        {},
        {"stopped_by": "time_bound"},
        1.0,
        [],
        "load stopped by its time bound",
    ),
    (
        "stopped-by-request-bound",
        {},
        {"stopped_by": "request_bound"},
        1.0,
        [],
        "load stopped by its request bound",
    ),
    (
        "killed-by-the-harness",
        {},
        {"stopped_by": "killed", "killed_after_s": 20.0},
        1.0,
        [],
        "generator starved: did not finish within 20 s of its time bound; killed",
    ),
    # send lag: the cause is named from the dispatcher's own lag (half the limit)
    ("lag-at-limit", {}, {}, 5.0, [], None),
    (
        "lag-above-limit-generator",
        {},
        {"dispatch_lag_p99_ms": 2.6},
        5.01,
        [],
        "send lag p99 5.01 ms > 5 ms: the generator's own schedule fell behind",
    ),
    (
        "lag-above-limit-saturated",
        {},
        {"dispatch_lag_p99_ms": 2.5},
        5.01,
        [],
        "send lag p99 5.01 ms > 5 ms: every connection was busy",
    ),
    ("lag-custom-limit", {"max_send_lag_p99_ms": 20}, {}, 19.0, [], None),
    # sidecar accounting: whatever the platform found is carried, one reason each
    (
        "accounting",
        {},
        {},
        1.0,
        ["middle sidecar saw 999 inbound requests, expected 1100"],
        "sidecar accounting: middle sidecar saw 999 inbound requests, expected 1100",
    ),
]


@pytest.mark.parametrize(
    ("limits", "changes", "lag_ms", "accounting", "expected"),
    [r[1:] for r in RULES],
    ids=[r[0] for r in RULES],
)
def test_each_rule_says_no_past_its_threshold_and_only_there(
    limits: dict[str, float],
    changes: dict[str, Any],
    lag_ms: float,
    accounting: list[str],
    expected: str | None,
) -> None:
    reasons = validity(scenario(**limits), TRIAL, summary(**changes), lag_ms, accounting)
    if expected is None:
        assert reasons == []
    else:
        assert len(reasons) == 1, reasons  # the rule that fired, and no other
        assert reasons[0].startswith(expected), reasons


def test_error_reason_names_the_kinds() -> None:
    [reason] = validity(
        scenario(),
        TRIAL,
        summary(errors=3, error_kinds={"HTTP 503": 2, "ConnectionResetError": 1}),
        1.0,
        [],
    )
    assert "max_error_ratio 0" in reason
    assert reason.endswith("(HTTP 503: 2, ConnectionResetError: 1)")  # most frequent first


def test_every_broken_rule_is_reported_not_just_the_first() -> None:
    s = summary(
        errors=5,
        generator_cpu=1.2,
        achieved_rps=50.0,
        stopped_by="time_bound",
        dispatch_lag_p99_ms=9.0,
    )
    reasons = validity(scenario(), TRIAL, s, 12.0, ["frontend sidecar saw 0 inbound requests"])
    assert len(reasons) == 6, reasons
    for start in (
        "errors 5/1000",
        "send lag p99 12.00 ms",
        "generator CPU 1.20",
        "achieved 50 rps",
        "load stopped by its time bound",
        "sidecar accounting",
    ):
        assert any(r.startswith(start) for r in reasons), (start, reasons)


def test_target_rate_comes_from_the_trial() -> None:
    """190 rps is fine for a 200 rps trial at 0.95, not enough at 250 rps."""
    s = summary(achieved_rps=190.0)
    assert validity(scenario(), replace(TRIAL, rate_rps=200.0), s, 1.0, []) == []
    [reason] = validity(scenario(), replace(TRIAL, rate_rps=250.0), s, 1.0, [])
    assert reason.startswith("achieved 190 rps < 0.95 x target 250 rps")


# -- several workers: merge_summaries must keep what makes the trial invalid ------------


def worker(**changes: Any) -> LoadSummary:
    """One of two workers sharing the trial's schedule (half of everything)."""
    return summary(
        **{"requests": 500, "warmup_requests": 50, "achieved_rps": RATE_RPS / 2, **changes}
    )


@pytest.mark.parametrize("cut", [0, 1], ids=["first-worker-cut", "second-worker-cut"])
@pytest.mark.parametrize("bound", ["time_bound", "request_bound"])
def test_a_worker_cut_off_by_its_bound_makes_the_merged_trial_invalid(cut: int, bound: str) -> None:
    workers = [worker(), worker()]
    workers[cut] = worker(stopped_by=bound)
    merged = merge_summaries(workers)
    assert merged.stopped_by == bound
    assert merged.extra["workers"][cut]["stopped_by"] == bound
    [reason] = validity(scenario(), TRIAL, merged, 1.0, [])
    assert reason == f"load stopped by its {bound.replace('_', ' ')}"


@pytest.mark.parametrize("cut", [0, 1], ids=["first-worker-killed", "second-worker-killed"])
def test_a_killed_worker_makes_the_merged_trial_invalid_with_the_cause(cut: int) -> None:
    workers = [worker(), worker()]
    workers[cut] = worker(stopped_by="killed", killed_after_s=20.0)
    merged = merge_summaries(workers)
    assert (merged.stopped_by, merged.killed_after_s) == ("killed", 20.0)
    [reason] = validity(scenario(), TRIAL, merged, 1.0, [])
    assert reason == "generator starved: did not finish within 20 s of its time bound; killed"


def test_workers_all_on_schedule_merge_valid() -> None:
    merged = merge_summaries(
        [worker(), worker(), worker(achieved_rps=0.0, requests=0, warmup_requests=0)]
    )
    assert merged.stopped_by == "schedule"
    assert merged.requests == 1000 and merged.achieved_rps == RATE_RPS
    assert validity(scenario(), TRIAL, merged, 1.0, []) == []


@pytest.mark.parametrize("order", [(0.2, 4.0), (4.0, 0.2)], ids=["late-last", "late-first"])
def test_the_laggiest_dispatcher_names_the_cause(order: tuple[float, float]) -> None:
    """One worker's own schedule fell 4 ms behind: the merged trial must blame the
    generator, not the system under test (the minimum lag would blame the system)."""
    merged = merge_summaries(
        [worker(dispatch_lag_p99_ms=order[0]), worker(dispatch_lag_p99_ms=order[1])]
    )
    assert merged.dispatch_lag_p99_ms == 4.0
    [reason] = validity(scenario(), TRIAL, merged, 8.0, [])
    assert "the generator's own schedule fell behind (dispatch lag p99 4.00 ms)" in reason


def test_the_busiest_generator_decides_its_cpu_rule() -> None:
    """Each worker is its own process: one at 1.1 cores is over, whatever the others."""
    merged = merge_summaries(
        [worker(generator_cpu=0.1), worker(generator_cpu=1.1), worker(generator_cpu=0.2)]
    )
    assert merged.generator_cpu == 1.1
    assert merged.extra["generator_cpu_total"] == pytest.approx(1.4)
    [reason] = validity(scenario(), TRIAL, merged, 1.0, [])
    assert reason.startswith("generator CPU 1.10 cores > 0.95")


def test_merged_counts_add_up_and_errors_are_judged_on_the_sum() -> None:
    a = worker(
        errors=1,
        error_kinds={"timeout": 1},
        warmup_errors=2,
        duration_s=10.0,
        started_utc="2026-01-01T00:00:01+00:00",
        generator_rss_mib=40.25,
    )
    b = worker(
        errors=2,
        error_kinds={"timeout": 1, "HTTP 500": 1},
        duration_s=10.5,
        started_utc="2026-01-01T00:00:00+00:00",
        generator_rss_mib=41.5,
    )
    merged = merge_summaries([a, b])
    assert (merged.requests, merged.errors, merged.warmup_requests, merged.warmup_errors) == (
        1000,
        3,
        100,
        2,
    )
    assert merged.error_kinds == {"timeout": 2, "HTTP 500": 1}
    assert merged.duration_s == 10.5  # the longest worker
    assert merged.started_utc == "2026-01-01T00:00:00+00:00"  # the earliest start
    assert merged.generator_rss_mib == 81.8  # every worker's memory, rounded to 0.1
    assert merged.extra["worker_count"] == 2
    assert [w["errors"] for w in merged.extra["workers"]] == [1, 2]
    [reason] = validity(scenario(max_error_ratio=0.002), TRIAL, merged, 1.0, [])
    assert reason.startswith("errors 3/1000")
    assert validity(scenario(max_error_ratio=0.003), TRIAL, merged, 1.0, []) == []


def test_merging_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no worker summaries"):
        merge_summaries([])


# -- end to end through run_trial: what is stored -----------------------------------------


class CannedDeployment(Deployment):
    """A deployment whose load is canned: worker summaries merged as the real workers'
    are, a latency log written as the generator writes it, sidecar counters that move
    by ``crossed`` requests per sidecar during the load."""

    mesh = "envoy"

    def __init__(self, workers: list[LoadSummary], send_lag_us: int, crossed: int) -> None:
        self.workers = workers
        self.send_lag_us = send_lag_us
        self.crossed = crossed
        self.inbound = 0

    def target_url(self) -> str:
        return "http://127.0.0.1:9/"

    def verify(self) -> Proof:
        return Proof(sidecars={"frontend": True}, crossed_sidecars=True)

    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        return {"frontend": {"http.inbound.downstream_rq_total": self.inbound}}

    def check_accounting(
        self, before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], sent: int
    ) -> list[str]:
        got = (
            after["frontend"]["http.inbound.downstream_rq_total"]
            - before["frontend"]["http.inbound.downstream_rq_total"]
        )
        return [] if got == sent else [f"frontend sidecar saw {got}, expected {sent}"]

    def usage(self) -> UsageSnapshot:
        return UsageSnapshot(taken_at_s=0.0)

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        out_dir.mkdir(parents=True, exist_ok=True)
        merged = merge_summaries(self.workers)
        hists = {tag: new_histogram() for tag in ("latency", "service", "send_lag")}
        for v in range(merged.requests):
            hists["latency"].record_value(1000 + v)
            hists["service"].record_value(900 + v)
            hists["send_lag"].record_value(self.send_lag_us)
        with (out_dir / HLOG_FILE).open("w") as f:
            writer = LogWriter(f, 1.7e9, "canned")
            for tag, h in hists.items():
                writer.write(tag, 1.7e9, 1.7e9 + merged.duration_s, h)
        self.inbound += self.crossed
        return merged


CASES = {
    "valid": ([worker(), worker()], 200, 1100, ""),
    "worker-cut-by-time-bound": (
        [worker(), worker(stopped_by="time_bound")],
        200,
        1100,
        "load stopped by its time bound",
    ),
    "dispatcher-late": (
        [worker(dispatch_lag_p99_ms=4.0), worker()],
        8000,
        1100,
        "the generator's own schedule fell behind",
    ),
    "too-few-requests-at-the-sidecar": (
        [worker(), worker()],
        200,
        1099,
        "sidecar accounting: frontend sidecar saw 1099",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_run_trial_stores_the_verdict(tmp_path: Path, case: str) -> None:
    workers, lag_us, crossed, reason = CASES[case]
    sc = scenario()
    row = run_trial(sc, CannedDeployment(workers, lag_us, crossed), TRIAL, tmp_path)
    write_trials(tmp_path, [row])
    stored = read_trial_rows(tmp_path)[0]
    assert stored["valid"] == ("true" if not reason else "false")
    assert (reason in stored["invalid_reason"]) if reason else stored["invalid_reason"] == ""
    assert int(stored["requests"]) == 1000
