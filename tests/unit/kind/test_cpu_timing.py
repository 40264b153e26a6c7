"""CPU from kubelet stamps that are whole seconds (issue 27): the phase boundaries respect
the second a stamp stands for, and each container's cores carry the bound it leaves."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from meshbench.platforms.kind.usage import (
    PhaseUsage,
    Sample,
    bound_at_duration,
    cpu_bound,
    samples_from_summaries,
    timing_statement,
)

from .conftest import Build
from .fakes import scenario


def _summary(stamp: str, cpu_ns: int) -> dict[str, object]:
    return {
        "pods": [
            {
                "podRef": {"name": "a", "namespace": "mb-app"},
                "containers": [
                    {"name": "app", "cpu": {"time": stamp, "usageCoreNanoSeconds": cpu_ns}}
                ],
            }
        ]
    }


def _app(ns: str, pod: str, container: str) -> str | None:
    return "app"


def test_a_stamp_with_fractions_is_read_exactly_and_one_without_is_a_whole_second() -> None:
    exact = samples_from_summaries([_summary("2026-11-01T10:00:05.250Z", 10)], _app, 0.0)
    whole = samples_from_summaries([_summary("2026-11-01T10:00:05Z", 10)], _app, 0.0)
    t = datetime(2026, 11, 1, 10, 0, 5, tzinfo=UTC).timestamp()
    assert exact["a/app"].at_s == pytest.approx(t + 0.25)
    assert exact["a/app"].resolution_s == pytest.approx(0.001)
    assert whole["a/app"].at_s == t
    assert whole["a/app"].resolution_s == 1.0
    nanos = samples_from_summaries([_summary("2026-11-01T10:00:05.123456789Z", 10)], _app, 0.0)
    assert nanos["a/app"].resolution_s == pytest.approx(1e-9)
    # no stamp: the read time, which is exact
    read = samples_from_summaries([_summary("", 10)], _app, 42.5)
    assert (read["a/app"].at_s, read["a/app"].resolution_s) == (42.5, 0.0)


def test_a_whole_second_stamp_counts_inside_only_when_all_its_second_is() -> None:
    """Phase boundaries are not whole seconds (the shared start has 3 decimals): a sample
    stamped 160 was taken in [160, 161), possibly after an end at 160.4."""
    phase = PhaseUsage(start_s=100.4, end_s=160.4)
    for t in range(100, 171, 10):
        phase.add({"p/sidecar": Sample(cpu_s=0.5 * t, at_s=float(t), resolution_s=1.0)})
    before, after = phase.snapshots()
    assert before.sampled_at_s["p/sidecar"] == 110.0  # 100 is before the start
    assert after.sampled_at_s["p/sidecar"] == 150.0  # 160 may be after the end
    assert after.cores_since(before, "sidecar") == pytest.approx(0.5)
    assert after.cpu_rel_bound == {"p/sidecar": pytest.approx(1 / 39, abs=1e-5)}
    assert after.note == ""


def test_exact_stamps_leave_no_bound_and_keep_the_last_sample_before_the_end() -> None:
    phase = PhaseUsage(start_s=100.4, end_s=160.4)
    for t in (100.0, 110.5, 130.25, 160.25, 170.0):
        phase.add({"p/app": Sample(cpu_s=t, at_s=t, resolution_s=1e-9)})
    before, after = phase.snapshots()
    assert (before.sampled_at_s["p/app"], after.sampled_at_s["p/app"]) == (110.5, 160.25)
    assert after.cpu_rel_bound["p/app"] == pytest.approx(0.0, abs=1e-8)


def test_the_bound_is_the_second_over_the_span() -> None:
    a = Sample(cpu_s=0.0, at_s=100.0, resolution_s=1.0)
    assert cpu_bound(a, Sample(cpu_s=25.0, at_s=150.0, resolution_s=1.0)) == pytest.approx(1 / 49)
    assert cpu_bound(a, Sample(cpu_s=1.0, at_s=100.5, resolution_s=1.0)) == math.inf
    assert cpu_bound(Sample(0.0, 100.0), Sample(1.0, 150.0)) == 0.0
    # kind-default measures 60 s: samples at most 15 s (+1 s) from each end
    assert bound_at_duration(60.0) == pytest.approx(1 / 27)
    assert bound_at_duration(40.0) == pytest.approx(1 / 7)
    assert bound_at_duration(20.0) == math.inf
    assert "at most ±3.7 % at 60 s measured" in timing_statement(60.0)
    assert "no bound" in timing_statement(20.0)


def test_the_run_records_how_far_its_cpu_figures_go(build: Build) -> None:
    sc = scenario(meshes=["none"], load={"duration_s": 60})
    platform, _, _ = build(sc)
    env = platform.environment().to_json()
    assert env["cpu_timing"] == timing_statement(60.0)
