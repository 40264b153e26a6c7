"""Latency budget verdicts, and comparing two runs."""

from __future__ import annotations

import pytest

from meshbench.analysis import Slo, analyse, compare_runs, load_run
from meshbench.errors import ResultsError
from meshbench.testing.frames import value
from meshbench.testing.synthetic import lognormal_sampler

from .analysis_synth import RunFactory


def test_slo_pass_fail_share_and_highest_rate(make_run: RunFactory) -> None:
    # latency grows with the rate: p99 of none ~1.26/1.89/2.52 ms, envoy +1 ms
    sampler = lognormal_sampler(
        {"none": 0.0, "envoy": 1000.0}, sigma=0.1, trial_jitter=0.0, rate_factor=lambda r: r / 100
    )
    run = load_run(
        make_run(
            sampler=sampler,
            rates=[100.0, 150.0, 200.0],
            repeats=2,
            samples=1000,
            intervals=2,
            slo={"percentile": 99, "budget_ms": 2.7},
        )
    )
    assert run.slo == Slo(99.0, 2.7)
    a = analyse(run)
    assert a.slo_verdicts is not None
    v = a.slo_verdicts.set_index(["mesh", "rate_rps"])
    assert v.loc[("none", 200.0), "passes"] and v.loc[("envoy", 100.0), "passes"]
    assert not v.loc[("envoy", 150.0), "passes"] and not v.loc[("envoy", 200.0), "passes"]
    share = value(v, ("envoy", 100.0), "overhead_pct_of_budget")
    assert share == pytest.approx(value(v, ("envoy", 100.0), "overhead_ms") / 2.7 * 100)
    assert share == pytest.approx(37.0, abs=3.0)  # 1 ms of a 2.7 ms budget
    top = a.max_rates.set_index("mesh") if a.max_rates is not None else None
    assert top is not None
    assert top.loc["none", "max_rate_rps"] == 200.0
    assert top.loc["envoy", "max_rate_rps"] == 100.0
    assert top.loc["envoy", "first_failing_rate_rps"] == 150.0


def test_slo_at_a_percentile_outside_the_defaults(make_run: RunFactory) -> None:
    run = load_run(
        make_run(samples=500, intervals=2, repeats=2, slo={"percentile": 95, "budget_ms": 10})
    )
    a = analyse(run)
    assert 95.0 in a.percentiles
    assert set(a.slo_verdicts["label"]) == {"p95"} if a.slo_verdicts is not None else False


@pytest.mark.parametrize(
    "bad", [{"budget_ms": -1}, {"percentile": 120, "budget_ms": 5}, {"percentile": 99}, "p99<5ms"]
)
def test_a_malformed_slo_is_refused(bad: object) -> None:
    with pytest.raises(ResultsError, match="slo"):
        Slo.from_scenario({"slo": bad})


def test_compare_finds_a_known_change(make_run: RunFactory) -> None:
    jitter = [0.98, 1.02, 1.0]
    a = make_run(
        "a",
        repeats=3,
        samples=1500,
        intervals=2,
        sampler=lognormal_sampler({"none": 0.0, "envoy": 800.0}, repeat_jitter=jitter),
    )
    b = make_run(
        "b",
        repeats=3,
        samples=1500,
        intervals=2,
        sampler=lognormal_sampler({"none": 0.0, "envoy": 300.0}, repeat_jitter=jitter),
    )
    cmp = compare_runs(a, b)
    d = cmp.diff.set_index(["mesh", "label"])
    # a difference of differences: envoy's overhead fell from 0.8 to 0.3 ms
    assert d.loc[("envoy", "p50"), "quantity"] == "overhead vs none"
    assert d.loc[("envoy", "p50"), "a_ms"] == pytest.approx(0.8, abs=0.05)
    assert d.loc[("envoy", "p50"), "diff_ms"] == pytest.approx(-0.5, abs=0.05)
    assert d.loc[("envoy", "p50"), "verdict"] == "faster"
    assert d.loc[("none", "p50"), "quantity"] == "latency"
    assert d.loc[("none", "p50"), "verdict"] not in ("slower", "faster")
    assert d.loc[("envoy", "p90"), "verdict"] == "descriptive"  # secondary percentile
    assert (
        value(d, ("envoy", "p50"), "ci_low_ms") <= -0.5 <= value(d, ("envoy", "p50"), "ci_high_ms")
    )
    assert set(cmp.cells["run"]) == {"a", "b"} and not cmp.mismatches
    assert any(
        w.startswith("runs disagree on envoy p50 at 100 rps: overhead +0.")
        and "beyond both runs' own intervals" in w
        for w in cmp.disagreements
    )


def test_compare_of_two_runs_of_the_same_thing_finds_no_disagreement(
    make_run: RunFactory,
) -> None:
    jitter = [0.98, 1.02, 1.0, 0.99]
    sampler = lognormal_sampler({"none": 0.0, "envoy": 800.0}, repeat_jitter=jitter)
    a = make_run("a", repeats=4, samples=1500, intervals=2, sampler=sampler, seed=3)
    b = make_run("b", repeats=4, samples=1500, intervals=2, sampler=sampler, seed=4)
    cmp = compare_runs(a, b)
    assert cmp.disagreements == []
    assert not cmp.diff["verdict"].isin(["slower", "faster"]).any()


def test_compare_refuses_runs_that_measured_different_things(make_run: RunFactory) -> None:
    a = make_run("a", rates=[100.0], samples=100, intervals=1, repeats=2)
    b = make_run("b", rates=[200.0], samples=100, intervals=1, repeats=2)
    with pytest.raises(ResultsError, match="rates") as err:
        compare_runs(a, b)
    assert "--force" in str(err.value)
    # forced, the runs still share no cell: nothing to compare is an error, not an empty
    # comparison that looks like an answer
    with pytest.raises(ResultsError, match="share no sweep cell"):
        compare_runs(a, b, force=True)


def test_compare_refuses_different_platforms_and_topologies(make_run: RunFactory) -> None:
    a = make_run("a", samples=100, intervals=1, repeats=2)
    b = make_run("b", samples=100, intervals=1, repeats=2, depth=2)
    with pytest.raises(ResultsError, match="topology"):
        compare_runs(a, b)
    c = make_run(
        "c", samples=100, intervals=1, repeats=2, platform="kind", meshes=["none", "istio"]
    )
    with pytest.raises(ResultsError, match="platform"):
        compare_runs(a, c)


def test_slo_verdicts_survive_a_declared_primary_list(make_run: RunFactory) -> None:
    """analysis.primary without the SLO percentile: the budget is still checked at it."""
    run = load_run(
        make_run(samples=500, intervals=2, repeats=2, slo={"percentile": 95, "budget_ms": 10})
    )
    run.meta["scenario"]["analysis"] = {"primary": [50]}
    a = analyse(run)
    assert a.primary == (50.0,) and 95.0 in a.percentiles
    assert a.slo_verdicts is not None and set(a.slo_verdicts["label"]) == {"p95"}
