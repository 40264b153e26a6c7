"""Calibration that can fail: false-positive bounds sharp enough to reject the flawed
intervals the analysis must not use, and known answers at several effect sizes and seeds.

A bound of "at most 7 % over 1,000 runs" passes a method with 6.5 % false positives
most of the time. The bounds here are chosen from the binomial so that the correct
interval (5 %) passes and each flaw below fails, both with high probability; each flaw
is also run on the same simulated datasets as a negative control, so the test shows on
every run that it would catch it:

- a plain percentile bootstrap of the per-repeat contrasts (the method meshbench used
  before, and the one the A/A test was first written to catch);
- a standard error scaled by 0.75 (an interval a quarter too narrow);
- the variance without its n/(n-1) factor (``ddof=0``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from meshbench.analysis import blocks, load_run, overhead
from meshbench.analysis.verdicts import NO_CHANGE, SLOWER
from meshbench.testing.frames import row, value
from meshbench.testing.synthetic import lognormal_sampler

from .analysis_synth import RunFactory

DRIFT_SD, TRIAL_SD = 0.37, 0.29  # p50, ms: as measured on the default run (see blocks)


def aa_runs(rng: np.random.Generator, n_runs: int, arms: int, repeats: int) -> NDArray[np.float64]:
    """``n_runs`` simulated runs (runs x arms x repeats) with no true difference: each
    repeat's drift is shared by its arms, each trial adds its own noise."""
    drift = rng.normal(0, DRIFT_SD, (n_runs, 1, repeats))
    return 2.0 + drift + rng.normal(0, TRIAL_SD, (n_runs, arms, repeats))


def t_hits(d: NDArray[np.float64], se: NDArray[np.float64], df: int) -> int:
    """How many runs' t intervals (mean of ``d`` ± t * se) exclude 0."""
    half = stats.t.ppf(0.975, df) * se
    mean = d.mean(axis=1)
    return int(((mean - half > 0) | (mean + half < 0)).sum())


def bootstrap_hits(rng: np.random.Generator, d: NDArray[np.float64], resamples: int = 400) -> int:
    """How many runs' percentile-bootstrap 95 % intervals of the mean exclude 0."""
    n_runs, n = d.shape
    idx = rng.integers(0, n, (n_runs, resamples, n))
    means = np.take_along_axis(d[:, None, :], idx, axis=2).mean(axis=2)
    low, high = np.percentile(means, [2.5, 97.5], axis=1)
    return int(((low > 0) | (high < 0)).sum())


PAIRED_RUNS = 5000
PAIRED_MAX_HITS = 299
"""Two arms, 3 repeats: the paired t interval (2 degrees of freedom), exact under this
model, so its false-positive rate is 5 %. With 5,000 runs and at most 299 hits (5.98 %)
allowed, from the binomial: the correct method passes with probability 0.9991; the
``ddof=0`` interval (7.2 % false positives at 2 df) fails with probability 0.9997; the
0.75 x standard error (8.4 %) and the percentile bootstrap (about 25 % with 3 blocks)
fail with probability > 1 - 1e-9. At least 175 hits (3.5 %) are required as well: a
correct method falls below that with probability 1e-7, an interval 1.5 x too wide
(0.9 %) always does."""

PAIRED_MIN_HITS = 175


def test_paired_false_positive_rate_is_5_percent_and_the_flaws_are_not() -> None:
    rng = np.random.default_rng(1515)
    y = aa_runs(rng, PAIRED_RUNS, 2, 3)
    hits = 0
    for run in y:
        c = blocks.contrast(run, 1, 0)
        assert c.method == blocks.PAIRED and c.df == 2
        hits += int(c.low > 0 or c.high < 0)
    assert PAIRED_MIN_HITS <= hits <= PAIRED_MAX_HITS, hits / PAIRED_RUNS

    # the same datasets through the textbook interval and through each flaw
    d = y[:, 1, :] - y[:, 0, :]
    n = d.shape[1]
    textbook = t_hits(d, d.std(axis=1, ddof=1) / math.sqrt(n), n - 1)
    assert textbook == hits  # the product's paired interval is the textbook one, run by run
    flaws = {
        "se x 0.75": t_hits(d, 0.75 * d.std(axis=1, ddof=1) / math.sqrt(n), n - 1),
        "no n/(n-1)": t_hits(d, d.std(axis=1, ddof=0) / math.sqrt(n), n - 1),
        "percentile bootstrap": bootstrap_hits(rng, d),
    }
    for name, flawed in flaws.items():
        assert flawed > PAIRED_MAX_HITS, (name, flawed / PAIRED_RUNS)
    too_wide = t_hits(d, 1.5 * d.std(axis=1, ddof=1) / math.sqrt(n), n - 1)
    assert too_wide < PAIRED_MIN_HITS, too_wide / PAIRED_RUNS


POOLED_RUNS = 2000
POOLED_MAX_HITS = 136
"""Three arms, 6 repeats: mostly the pooled two-way interval (10 degrees of freedom),
the paired one where the pretests refuse pooling. Simulated with 20,000 runs its
false-positive rate is 5.1 %. With 2,000 runs and at most 136 hits (6.8 %), from the
binomial: a method at 5.2 % passes with probability 0.9992; one at 8 % fails with
probability 0.976, at 10 % with probability > 0.99999. A 0.75 x standard error on the
pooled interval gives about 12 % at 10 df; the pooled variance divided by the number of
residuals instead of its degrees of freedom (3 x 6 instead of 2 x 5) gives about 17 %."""

POOLED_MIN_HITS = 70  # 3.5 %: a correct method falls below with probability < 1e-4


def test_pooled_false_positive_rate_is_5_percent_and_the_flaws_are_not() -> None:
    rng = np.random.default_rng(1516)
    y = aa_runs(rng, POOLED_RUNS, 3, 6)
    hits = pooled = 0
    for run in y:
        c = blocks.contrast(run, 2, 0)
        pooled += int(c.method == blocks.TWO_WAY)
        hits += int(c.low > 0 or c.high < 0)
    assert pooled > 0.75 * POOLED_RUNS  # the two-way path is the one under test
    assert POOLED_MIN_HITS <= hits <= POOLED_MAX_HITS, hits / POOLED_RUNS

    # the same datasets, pooled residual variance with each flaw (every run pooled)
    grand = y.mean(axis=(1, 2), keepdims=True)
    resid = y - y.mean(axis=2, keepdims=True) - y.mean(axis=1, keepdims=True) + grand
    ss = (resid**2).sum(axis=(1, 2))
    d = y[:, 2, :] - y[:, 0, :]
    df = 2 * 5
    right = t_hits(d, np.sqrt(2 * ss / df / 6), df)
    assert POOLED_MIN_HITS <= right <= POOLED_MAX_HITS, right / POOLED_RUNS
    for name, se in {
        "se x 0.75": 0.75 * np.sqrt(2 * ss / df / 6),
        "no df correction": np.sqrt(2 * ss / 18 / 6),
    }.items():
        flawed = t_hits(d, se, df)
        assert flawed > POOLED_MAX_HITS, (name, flawed / POOLED_RUNS)


# -- known answers: several effect sizes, several seeds -----------------------------------

JITTER = [0.97, 1.03, 1.0, 0.985]  # per repeat, shared by both arms: drift, not effect


@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize(
    "shift_us", [60.0, 250.0, 1000.0], ids=["6-percent", "25-percent", "100-percent"]
)
def test_known_overhead_is_recovered_at_several_sizes(
    make_run: RunFactory, shift_us: float, seed: int
) -> None:
    """envoy = none + a fixed shift, on a 1 ms median. The estimate is within a few
    standard errors of the shift (a biased or mis-signed estimator is not). At p50, where
    every shift here is far above the minimum detectable effect, the verdict follows the
    default practical threshold (0.1 ms and 5 %): 60 µs is "no meaningful change", the
    rest "slower"."""
    sampler = lognormal_sampler({"none": 0.0, "envoy": shift_us}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=4, seed=seed, samples=1000))
    o = overhead(run)
    o = o[o["mesh"] == "envoy"].set_index("label")
    truth_ms = shift_us / 1000
    for label in ("p50", "p90", "p99"):
        r = o.loc[label]
        assert abs(r["overhead_ms"] - truth_ms) <= 4 * r["se_ms"], (label, r["overhead_ms"])
        assert r["ci_low_ms"] < r["overhead_ms"] < r["ci_high_ms"]
    p50 = o.loc["p50"]
    assert p50["mde_ms"] < truth_ms / 2
    assert p50["ci_low_ms"] > 0
    if truth_ms > 0.1:
        assert p50["verdict"] == SLOWER
    else:
        assert p50["verdict"] == NO_CHANGE and p50["ci_high_ms"] < p50["threshold_ms"]
    assert p50["overhead_pct"] == pytest.approx(shift_us / 10, rel=0.15)


@pytest.mark.parametrize("seed", [3])
def test_known_zero_and_negative_effects(make_run: RunFactory, seed: int) -> None:
    """No shift: the interval holds 0. A mesh 150 µs faster: the estimate is negative,
    within a few standard errors of -0.15 ms, never called slower."""
    sampler = lognormal_sampler(
        {"none": 150.0, "envoy": 0.0, "envoy-mtls": 150.0}, repeat_jitter=JITTER
    )
    run = load_run(
        make_run(
            meshes=["none", "envoy", "envoy-mtls"],
            sampler=sampler,
            repeats=4,
            seed=seed,
            samples=1000,
        )
    )
    o = overhead(run).set_index(["mesh", "label"])
    for label in ("p50", "p99"):
        same = row(o, ("envoy-mtls", label))
        assert abs(same["overhead_ms"]) <= 4 * same["se_ms"]
        faster = row(o, ("envoy", label))
        assert abs(faster["overhead_ms"] + 0.15) <= 4 * faster["se_ms"]
        assert faster["verdict"] != SLOWER
    assert value(o, ("envoy", "p50"), "ci_high_ms") < 0
