"""Blocked inference: exact against textbook formulas, calibrated by simulation.

The simulation model is the one measured on this machine's default run (3 repeats,
150 rps, three-hop chain): every repeat shares a drift (sd 0.37 ms at p50, 0.63 ms at
p99) and each trial adds its own noise (sd 0.29 / 0.30 ms). Per-trial percentiles are
simulated directly, so thousands of runs take well under a second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from meshbench.analysis import blocks
from meshbench.analysis.verdicts import INCONCLUSIVE, NO_CHANGE, SLOWER, TOO_FEW, decide

DRIFT_SD = {"p50": 0.37, "p99": 0.63}
TRIAL_SD = {"p50": 0.29, "p99": 0.30}
SIMULATIONS = 1000


def simulate(
    rng: np.random.Generator,
    arms: int,
    repeats: int,
    effects: list[float],
    drift_sd: float,
    trial_sd: float,
    base: float = 2.0,
) -> np.ndarray:
    """Per-trial percentiles (ms), arms x repeats: base + arm effect + drift + noise."""
    drift = rng.normal(0, drift_sd, repeats)
    noise = rng.normal(0, trial_sd, (arms, repeats))
    return base + np.array(effects)[:, None] + drift[None, :] + noise


def test_two_way_recovers_arm_and_block_effects_exactly() -> None:
    arm = np.array([0.0, 1.0, 3.0])[:, None]
    block = np.array([0.0, 5.0, -2.0, 1.0])[None, :]
    fit = blocks.two_way(10 + arm + block)
    assert fit is not None and fit.residual_var == pytest.approx(0, abs=1e-12)
    assert fit.n_arms == 3 and fit.n_blocks == 4 and fit.df == 6
    assert fit.drift_var == pytest.approx(np.var(block, ddof=1))


def test_two_way_drops_incomplete_blocks_and_needs_two() -> None:
    y = np.array([[1.0, 2.0, np.nan], [1.5, 2.4, 3.0]])
    fit = blocks.two_way(y)
    assert fit is not None and fit.n_blocks == 2
    assert blocks.two_way(np.array([[1.0, np.nan], [2.0, 3.0]])) is None


def test_paired_contrast_is_the_textbook_paired_t() -> None:
    rng = np.random.default_rng(3)
    y = simulate(rng, 2, 7, [0.0, 0.4], 0.4, 0.3)
    c = blocks.contrast(y, 1, 0)
    ref = stats.ttest_rel(y[1], y[0])
    d = y[1] - y[0]
    half = stats.t.ppf(0.975, 6) * d.std(ddof=1) / math.sqrt(7)
    assert c.method == blocks.PAIRED  # two arms: pooling adds nothing
    assert c.estimate == pytest.approx(d.mean())
    assert c.p_value == pytest.approx(ref.pvalue)
    assert (c.low, c.high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert c.df == 6 and c.n_blocks == 7


LATIN = np.array([[-3, -1, 1, 3], [-1, 3, -3, 1], [1, -3, 3, -1], [3, 1, -1, -3]]) * 0.1
"""Residuals whose rows and columns sum to zero, every arm with the same spread."""


def test_two_way_contrast_pools_every_arm() -> None:
    y = 2 + np.array([0.0, 1.0, 1.5, 0.0])[:, None] + np.array([0.3, -0.2, 0.0, 0.4]) + LATIN
    fit = blocks.two_way(y)
    assert fit is not None and fit.homogeneity_p == pytest.approx(1.0)
    assert fit.residual_var == pytest.approx((LATIN**2).sum() / 9)
    c = blocks.contrast(y, 1, 0)
    assert c.method == blocks.TWO_WAY and c.df == 9
    assert c.estimate == pytest.approx(1.0 + (LATIN[1] - LATIN[0]).mean())
    assert c.se == pytest.approx(math.sqrt(2 * fit.residual_var / 4))


def test_a_noisier_arm_falls_back_to_its_own_paired_interval() -> None:
    """Pooling three quiet arms with one that is ten times noisier would understate the
    noisy arm's interval: the arms' spreads differ, so every contrast uses its own."""
    rng = np.random.default_rng(5)
    y = simulate(rng, 4, 8, [0.0, 0.0, 0.0, 0.0], 0.4, 0.05)
    y[3] += rng.normal(0, 0.5, 8)
    fit = blocks.two_way(y)
    assert fit is not None and fit.homogeneity_p < blocks.HOMOGENEITY_ALPHA
    noisy = blocks.contrast(y, 3, 0)
    assert noisy.method == blocks.PAIRED and blocks.contrast(y, 1, 0).method == blocks.PAIRED
    d = y[3] - y[0]
    assert noisy.se == pytest.approx(d.std(ddof=1) / math.sqrt(8))


def test_missing_trials_reduce_the_blocks_and_one_block_gives_no_interval() -> None:
    y = np.array([[1.0, 2.0, 3.0, np.nan], [1.5, np.nan, 3.6, 4.0]])
    c = blocks.contrast(y, 1, 0)
    assert c.n_blocks == 2 and c.estimate == pytest.approx(0.55)
    one = blocks.contrast(y[:, :2], 1, 0)
    assert one.n_blocks == 1 and math.isnan(one.low) and math.isnan(one.p_value)


def test_unpaired_is_welch() -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(2, 0.3, (2, 5))
    c = blocks.contrast(y, 1, 0, interleaved=False)
    ref = stats.ttest_ind(y[1], y[0], equal_var=False)
    assert c.method == blocks.UNPAIRED and c.p_value == pytest.approx(ref.pvalue)


def test_difference_of_two_estimates_adds_variances() -> None:
    a = blocks.interval(1.0, 0.3, 10, 6, blocks.TWO_WAY, 0.95)
    b = blocks.interval(1.5, 0.4, 5, 6, blocks.PAIRED, 0.95)
    d = blocks.difference(a, b)
    assert d.estimate == pytest.approx(0.5) and d.se == pytest.approx(0.5)
    df = 0.25**2 / (0.09**2 / 10 + 0.16**2 / 5)
    assert d.df == pytest.approx(df)


def test_holm_matches_the_definition() -> None:
    adj = blocks.holm([0.01, 0.04, 0.03, float("nan")])
    assert adj[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(adj[3])
    assert list(blocks.holm([0.5, 0.9])) == [1.0, 1.0]


def test_interleaving_is_read_from_execution_order() -> None:
    assert blocks.interleaved([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert blocks.interleaved([[3, 1, 2], [6, 4, 5]])  # any order inside a block
    # kind today: every none trial first, then every mesh trial
    assert not blocks.interleaved([[1, 4], [2, 5], [3, 6]])


def test_repeats_to_detect_and_mde_agree() -> None:
    c = blocks.interval(0.1, 0.2, 5, 6, blocks.PAIRED, 0.95)
    r = blocks.repeats_to_detect(c, c.mde(), 2)
    assert r == 6  # the current design detects exactly its own MDE
    half = blocks.repeats_to_detect(c, c.mde() / 2, 2)
    assert half is not None and 15 < half < 24  # ~4x, fewer as df grow


@pytest.mark.parametrize(("label", "arms"), [("p50", 3), ("p50", 4), ("p99", 3)])
@pytest.mark.parametrize("repeats", [3, 6, 10])
def test_aa_false_positive_rate_is_near_nominal(label: str, arms: int, repeats: int) -> None:
    """Shared-drift model, no true effect anywhere: an arm called different from none
    (its interval excludes 0) at most 7 % of the time over 1,000 simulated runs."""
    rng = np.random.default_rng([repeats, arms, len(label)])
    hits = 0
    for _ in range(SIMULATIONS):
        y = simulate(rng, arms, repeats, [0.0] * arms, DRIFT_SD[label], TRIAL_SD[label])
        c = blocks.contrast(y, arms - 1, 0)
        hits += int(c.low > 0 or c.high < 0)
    assert hits / SIMULATIONS <= 0.07, hits / SIMULATIONS
    assert hits / SIMULATIONS >= 0.02  # not so wide that it can never say "slower"


def test_aa_rate_holds_when_one_arm_is_much_noisier() -> None:
    """envoy-mtls 3x noisier than the rest: neither its contrast nor the A/A arm's may
    exceed 7 % false positives (the pooled variance must not be trusted blindly)."""
    rng = np.random.default_rng(11)
    hits = {"noisy": 0, "aa": 0}
    for _ in range(SIMULATIONS):
        y = simulate(rng, 4, 6, [0.0] * 4, 0.37, 0.2)
        y[2] += rng.normal(0, 0.6, 6)
        for name, arm in (("noisy", 2), ("aa", 3)):
            c = blocks.contrast(y, arm, 0)
            hits[name] += int(c.low > 0 or c.high < 0)
    assert hits["noisy"] / SIMULATIONS <= 0.07, hits
    assert hits["aa"] / SIMULATIONS <= 0.07, hits


def test_the_unpaired_method_would_miss_what_blocks_see() -> None:
    """The failure this module exists for: +1 ms at p99 under the measured drift, 3
    repeats. Unpaired comparison (drift counted as noise twice) finds it far less often."""
    rng = np.random.default_rng(12)
    paired = unpaired = 0
    for _ in range(SIMULATIONS):
        y = simulate(rng, 3, 3, [0.0, 1.0, 1.0], DRIFT_SD["p99"], TRIAL_SD["p99"])
        paired += int(blocks.contrast(y, 1, 0).low > 0)
        unpaired += int(blocks.contrast(y, 1, 0, interleaved=False).low > 0)
    assert paired / SIMULATIONS >= 0.5
    assert unpaired / SIMULATIONS <= 0.35
    assert paired > 2 * unpaired


@pytest.mark.parametrize(("repeats", "arms", "least"), [(6, 3, 0.70), (6, 4, 0.67), (8, 3, 0.80)])
def test_power_for_half_a_millisecond_at_p50(repeats: int, arms: int, least: float) -> None:
    """+0.5 ms at p50 under the measured drift and trial noise. With a valid two-sided 5 %
    t test, 6 repeats cannot reach 80 % (known variance would give 85 %; 10-15 degrees of
    freedom and the pooling pretests cost the rest): 8 repeats of three arms do. The
    default scenario's 6 repeats are what fits `make run`'s 5 minutes."""
    rng = np.random.default_rng([repeats, arms])
    hits = 0
    for _ in range(SIMULATIONS):
        y = simulate(
            rng, arms, repeats, [0.0, 0.5, *([0.5] * (arms - 2))], DRIFT_SD["p50"], TRIAL_SD["p50"]
        )
        hits += int(blocks.contrast(y, 1, 0).low > 0)
    assert hits / SIMULATIONS >= least, hits / SIMULATIONS


def test_verdict_words() -> None:
    assert decide(0.2, 0.9, 0.5, 0.1, True) == SLOWER
    assert decide(-0.05, 0.08, 0.01, 0.1, False) == NO_CHANGE
    assert decide(0.01, 0.05, 0.03, 0.1, True) == NO_CHANGE  # significant but negligible
    assert decide(-0.3, 0.9, 0.3, 0.1, False) == INCONCLUSIVE
    assert decide(0.2, 0.9, 0.5, 0.1, False) == INCONCLUSIVE  # not after Holm
    assert decide(float("nan"), float("nan"), 0.5, 0.1, False) == TOO_FEW
    assert decide(-0.9, -0.2, -0.5, 0.1, True) == "faster"


def test_deployment_effects_are_covered_only_when_deployments_are_the_blocks() -> None:
    """Each arm's deployment adds its own offset (sd 0.3 ms, fixed for the deployment's
    life), 6 repeats on 3 fresh deployments per arm, no true difference. Averaging each
    deployment's repeats and comparing deployments keeps false positives near 5 %;
    treating the repeats as independent blocks counts one deployment's offset as if it
    had been measured three times over, and calls the arms different far too often."""
    from meshbench.analysis.overhead import CellMatrix

    groups = [1, 1, 2, 2, 3, 3]
    m = CellMatrix(
        ["none", "envoy", "none-aa"],
        list(range(1, 7)),
        np.zeros((3, 6, 1)),
        np.zeros((3, 6)),
        [[i] for i in range(6)],
        groups,
    )
    assert m.unit == "deployment"
    rng = np.random.default_rng(21)
    by_deployment = by_repeat = 0
    for _ in range(SIMULATIONS):
        y = simulate(rng, 3, 6, [0.0] * 3, DRIFT_SD["p50"], TRIAL_SD["p50"])
        y += np.repeat(rng.normal(0, 0.3, (3, 3)), 2, axis=1)  # per arm x deployment
        c = blocks.contrast(m.blocks(y), 1, 0)
        by_deployment += int(c.low > 0 or c.high < 0)
        r = blocks.contrast(y, 1, 0)
        by_repeat += int(r.low > 0 or r.high < 0)
    assert by_deployment / SIMULATIONS <= 0.07, by_deployment
    assert by_repeat / SIMULATIONS >= 0.10, by_repeat  # 13 % measured
