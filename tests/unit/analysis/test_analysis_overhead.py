"""Overhead against none: a known shift is found inside the CI, no shift is noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meshbench.analysis import analyse, load_run, overhead
from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import (
    SLOWER,
    TOO_FEW,
    WITHIN_NOISE,
    bootstrap_difference,
    verdict,
)
from meshbench.results.synthetic import histogram_from_us, lognormal_sampler

from .analysis_synth import RunFactory

N_BOOT = 600


def rows(df: pd.DataFrame, mesh: str) -> pd.DataFrame:
    return df[df["mesh"] == mesh].set_index("label")


JITTER = [0.97, 1.03, 1.0, 0.985, 1.015]  # per repeat, same for both meshes


@pytest.mark.parametrize("repeats", [3, 5])  # Welch below 5 trials per side, percentile from 5
def test_known_overhead_is_inside_the_interval(make_run: RunFactory, repeats: int) -> None:
    """Trial-to-trial jitter of ±3 %, the same set on both sides: the true p50/p90/p99
    difference is exactly the 1 ms shift; the interval must contain it and not 0."""
    sampler = lognormal_sampler({"none": 0.0, "envoy": 1000.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=repeats))
    o = rows(overhead(run, n_boot=N_BOOT, seed=5), "envoy")
    for lbl in ("p50", "p90", "p99"):
        r = o.loc[lbl]
        assert r["ci_low_ms"] <= 1.0 <= r["ci_high_ms"], (lbl, r["ci_low_ms"], r["ci_high_ms"])
        assert r["ci_low_ms"] > 0
        assert r["verdict"] == SLOWER and r["significant"]
        assert r["overhead_ms"] == pytest.approx(1.0, abs=0.15)
        assert r["n_mesh"] == repeats and r["n_baseline"] == repeats
    # the point estimate is exactly the difference of the pooled percentiles
    p50_none = hist.percentiles_ms(run.pooled("none", 100.0), [50.0])[50.0]
    p50_envoy = hist.percentiles_ms(run.pooled("envoy", 100.0), [50.0])[50.0]
    assert o.loc["p50", "overhead_ms"] == pytest.approx(p50_envoy - p50_none)
    assert o.loc["p50", "overhead_pct"] == pytest.approx((p50_envoy - p50_none) / p50_none * 100)


@pytest.mark.parametrize("repeats", [3, 5])
def test_zero_overhead_is_reported_as_within_noise(make_run: RunFactory, repeats: int) -> None:
    """Same distribution, same ±3 % trial jitter on both sides: the true difference is 0
    at every percentile, and none may be called significant."""
    sampler = lognormal_sampler({"none": 0.0, "envoy": 0.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=repeats, seed=2))
    o = overhead(run, n_boot=N_BOOT, seed=5)
    assert set(o["verdict"]) == {WITHIN_NOISE}
    assert not o["significant"].any()
    assert (o["ci_low_ms"] <= 0).all() and (o["ci_high_ms"] >= 0).all()


@pytest.mark.parametrize("method", ["welch", "percentile"])
def test_false_positive_rate_is_near_nominal(method: str) -> None:
    """A/A calibration: 30 data sets, 4 trials per side from one distribution with 2 %
    random trial-to-trial jitter. At 95 % about 1.5 should be called significant; the
    plain percentile bootstrap called ~5 (see meshbench.analysis.overhead)."""
    rng = np.random.default_rng(42)
    lay = hist.layout(histogram_from_us(np.array([1.0])))

    def side() -> np.ndarray:
        return hist.stack([
            histogram_from_us(rng.lognormal(np.log(1000), 0.3, 1500) * rng.normal(1, 0.02))
            for _ in range(4)
        ])[0]

    hits = 0
    for i in range(30):
        d = bootstrap_difference(side(), side(), lay, [50.0], n_boot=400,
                                 rng=np.random.default_rng(i), method=method)
        hits += int(d.low_us[0] > 0 or d.high_us[0] < 0)
    assert hits <= 4  # P(>= 5 of 30 | 5 %) = 1.6 %


def test_interval_is_reproducible_and_seed_is_recorded(make_run: RunFactory) -> None:
    run = load_run(make_run(shift_us={"envoy": 300.0}))
    a = overhead(run, n_boot=200, seed=9)
    b = overhead(run, n_boot=200, seed=9)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["seed"] == 9 and (a["seed"] == 9).all() and a.attrs["n_boot"] == 200
    assert overhead(run, n_boot=10).attrs["seed"] == run.seed  # default: the run's seed


def test_one_repeat_gives_no_interval(make_run: RunFactory) -> None:
    run = load_run(make_run(shift_us={"envoy": 1000.0}, repeats=1))
    o = overhead(run, n_boot=N_BOOT)
    assert set(o["verdict"]) == {TOO_FEW}
    assert o["ci_low_ms"].isna().all()
    assert not o["overhead_ms"].isna().any()


def test_invalid_trials_are_excluded_from_the_comparison(make_run: RunFactory) -> None:
    probe = make_run("probe", repeats=3)
    bad = load_run(probe).trials.query("mesh == 'envoy' and repeat == 2")["trial_id"].item()
    run = load_run(make_run("real", repeats=3, invalid={bad: "send lag"}))
    o = overhead(run, n_boot=50)
    assert (o["n_mesh"] == 2).all() and (o["n_baseline"] == 3).all()
    assert bad not in run.cell_trials("envoy", 100.0)


def test_no_baseline_means_no_overhead_and_a_note(make_run: RunFactory) -> None:
    run = load_run(make_run(meshes=["envoy", "envoy-mtls"]))
    assert overhead(run, n_boot=10).empty
    a = analyse(run, n_boot=10)
    assert a.overhead.empty
    assert any("no 'none' mesh" in n for n in a.notes)
    assert set(a.cells["mesh"]) == {"envoy", "envoy-mtls"}


def test_bootstrap_resamples_whole_trials() -> None:
    """Between-trial variation widens the interval even when each trial is huge."""
    rng = np.random.default_rng(0)
    def trials(shift: float, scales: list[float]) -> np.ndarray:
        hs = [histogram_from_us(rng.lognormal(np.log(1000), 0.2, 20_000) * s + shift)
              for s in scales]
        return hist.stack(hs)[0]

    control = trials(0, [0.8, 1.0, 1.2, 0.9])
    treatment = trials(0, [1.1, 0.85, 1.0, 1.15])
    lay = hist.layout(histogram_from_us(np.array([1.0])))
    d = bootstrap_difference(treatment, control, lay, [50.0], n_boot=500,
                             rng=np.random.default_rng(1))
    # per-trial medians differ by up to 40 %: the interval must be far wider than the
    # ~1 % a sample-level bootstrap of 80 000 samples would give
    assert d.high_us[0] - d.low_us[0] > 100
    assert d.low_us[0] < 0 < d.high_us[0]


def test_verdict_rules() -> None:
    assert verdict(3, 3, 0.1, 0.5) == "slower"
    assert verdict(3, 3, -0.5, -0.1) == "faster"
    assert verdict(3, 3, -0.1, 0.1) == "within noise"
    assert verdict(1, 3, float("nan"), float("nan")) == "too few repeats"
    assert verdict(0, 3, float("nan"), float("nan")) == "no data"


def test_sampler_shift_is_what_the_run_measures(make_run: RunFactory) -> None:
    sampler = lognormal_sampler({"none": 0.0, "envoy": 2000.0}, trial_jitter=0.0)
    run = load_run(make_run(sampler=sampler, repeats=3))
    o = rows(overhead(run, n_boot=100), "envoy")
    assert o.loc["p50", "overhead_ms"] == pytest.approx(2.0, rel=0.03)
