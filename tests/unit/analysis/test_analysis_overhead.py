"""Overhead against none from stored runs: within-repeat contrasts, verdict words,
tails only where estimable, Holm over the primary family, interleaving checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meshbench.analysis import analyse, load_run, overhead
from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import cell_matrix
from meshbench.analysis.verdicts import DESCRIPTIVE, FASTER, NO_CHANGE, SLOWER, TOO_FEW
from meshbench.testing.frames import text, value
from meshbench.testing.synthetic import lognormal_sampler

from .analysis_synth import RunFactory


def rows(df: pd.DataFrame, mesh: str) -> pd.DataFrame:
    return df[df["mesh"] == mesh].set_index("label")


JITTER = [0.97, 1.03, 1.0, 0.985, 1.015, 0.99]  # per repeat, shared by every arm (drift)


@pytest.mark.parametrize("repeats", [3, 5])
def test_known_overhead_is_inside_the_interval_and_called_slower(
    make_run: RunFactory, repeats: int
) -> None:
    """Drift of ±3 % shared by each repeat's arms: the within-repeat contrast sees the
    1 ms shift in every repeat; the interval holds it and excludes 0."""
    sampler = lognormal_sampler({"none": 0.0, "envoy": 1000.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=repeats))
    o = rows(overhead(run), "envoy")
    for lbl in ("p50", "p99"):
        r = o.loc[lbl]
        assert r["ci_low_ms"] <= 1.0 <= r["ci_high_ms"], (lbl, r["ci_low_ms"], r["ci_high_ms"])
        assert r["verdict"] == SLOWER and r["significant"] and r["primary"]
        assert r["overhead_ms"] == pytest.approx(1.0, abs=0.15)
        assert r["n_blocks"] == repeats and r["blocks_slower"] == repeats
        assert r["p_holm"] >= r["p_value"]
    assert o.loc["p90", "verdict"] == DESCRIPTIVE  # secondary: interval shown, no verdict
    assert value(o, "p90", "ci_low_ms") > 0
    assert o.loc["max", "verdict"] == DESCRIPTIVE and "maximum" in text(o, "max", "why")
    # the point estimate is the mean of the per-repeat contrasts of per-trial percentiles
    m = cell_matrix(run, run.cells[0], [50.0])
    d = m.values_us[m.arms.index("envoy"), :, 0] - m.values_us[m.arms.index("none"), :, 0]
    assert o.loc["p50", "overhead_ms"] == pytest.approx(d.mean() / 1000)
    # the pooled figures stay as the descriptive difference of pooled percentiles
    p50_none = hist.percentiles_ms(run.pooled("none", 100.0), [50.0])[50.0]
    p50_envoy = hist.percentiles_ms(run.pooled("envoy", 100.0), [50.0])[50.0]
    assert o.loc["p50", "pooled_diff_ms"] == pytest.approx(p50_envoy - p50_none)
    assert o.loc["p50", "baseline_ms"] == pytest.approx(p50_none)


def test_relative_overhead_comes_from_log_ratios(make_run: RunFactory) -> None:
    sampler = lognormal_sampler({"none": 0.0, "envoy": 500.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=4))
    r = rows(overhead(run), "envoy").loc["p50"]
    m = cell_matrix(run, run.cells[0], [50.0])
    ratio = m.values_us[m.arms.index("envoy"), :, 0] / m.values_us[m.arms.index("none"), :, 0]
    assert r["overhead_pct"] == pytest.approx((np.exp(np.log(ratio).mean()) - 1) * 100)
    assert r["ci_low_pct"] < r["overhead_pct"] < r["ci_high_pct"]


def test_zero_overhead_is_never_called_slower_or_faster(make_run: RunFactory) -> None:
    sampler = lognormal_sampler({"none": 0.0, "envoy": 0.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=6, seed=2))
    o = overhead(run)
    assert not o["verdict"].isin([SLOWER, FASTER]).any()
    assert not o["significant"].any()
    # with 2000 samples a trial and 6 repeats the p50 interval is tight: it can say so
    assert rows(o, "envoy").loc["p50", "verdict"] == NO_CHANGE


def test_a_threshold_from_the_scenario_turns_a_tiny_effect_into_no_change(
    make_run: RunFactory,
) -> None:
    sampler = lognormal_sampler({"none": 0.0, "envoy": 30.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=6))
    run.meta["scenario"]["analysis"] = {"min_effect_ms": 0.2, "min_effect_pct": 0}
    r = rows(overhead(run), "envoy").loc["p50"]
    assert r["threshold_ms"] == 0.2 and r["verdict"] == NO_CHANGE
    run.meta["scenario"]["analysis"] = {"min_effect_ms": 0.0, "min_effect_pct": 0}
    assert rows(overhead(run), "envoy").loc["p50", "verdict"] == SLOWER


def test_relative_threshold_scales_with_the_baseline(make_run: RunFactory) -> None:
    run = load_run(make_run(repeats=3))
    run.meta["scenario"]["analysis"] = {"min_effect_ms": 0.01, "min_effect_pct": 10}
    r = rows(overhead(run), "envoy").loc["p50"]
    assert r["threshold_ms"] == pytest.approx(0.1 * r["baseline_ms"], rel=0.05)


def test_thin_tails_get_no_verdict_and_say_how_long_a_trial_must_be(
    make_run: RunFactory,
) -> None:
    """500 samples per trial: p99 has 5 samples beyond it, so no verdict, and the row
    says that >= 1,000 samples (10 s at 100 rps) are needed."""
    sampler = lognormal_sampler({"none": 0.0, "envoy": 1000.0}, repeat_jitter=JITTER)
    run = load_run(make_run(sampler=sampler, repeats=3, samples=250, intervals=2))
    r = rows(overhead(run), "envoy").loc["p99"]
    assert r["verdict"] == DESCRIPTIVE and r["primary"]
    assert "p99 needs >= 1,000 samples per trial" in r["why"]
    assert "10 s at 100 rps" in r["why"] and "has 500" in r["why"]
    assert rows(overhead(run), "envoy").loc["p50", "verdict"] == SLOWER


def test_one_repeat_gives_no_interval(make_run: RunFactory) -> None:
    run = load_run(make_run(shift_us={"envoy": 1000.0}, repeats=1))
    o = rows(overhead(run), "envoy")
    assert o.loc["p50", "verdict"] == TOO_FEW and np.isnan(value(o, "p50", "ci_low_ms"))
    assert not o["overhead_ms"].isna().any()


def test_invalid_trials_drop_their_block(make_run: RunFactory) -> None:
    probe = make_run("probe", repeats=3)
    bad = load_run(probe).trials.query("mesh == 'envoy' and repeat == 2")["trial_id"].item()
    run = load_run(make_run("real", repeats=3, invalid={bad: "send lag"}))
    o = overhead(run)
    assert (o["n_mesh"] == 2).all() and (o["n_baseline"] == 3).all()
    assert (o["n_blocks"] == 2).all()
    assert bad not in run.cell_trials("envoy", 100.0)


def test_no_baseline_means_no_overhead_and_a_note(make_run: RunFactory) -> None:
    run = load_run(make_run(meshes=["envoy", "envoy-mtls"]))
    assert overhead(run).empty
    a = analyse(run)
    assert a.overhead.empty
    assert any("no 'none' mesh" in n for n in a.notes)
    assert set(a.cells["mesh"]) == {"envoy", "envoy-mtls"}


def test_holm_adjusts_across_meshes_per_percentile_and_leaves_aa_alone(
    make_run: RunFactory,
) -> None:
    sampler = lognormal_sampler(
        {"none": 0.0, "envoy": 400.0, "envoy-mtls": 600.0}, repeat_jitter=JITTER
    )
    run = load_run(make_run(meshes=["none", "envoy", "envoy-mtls"], sampler=sampler, repeats=4))
    o = overhead(run)
    fam = o[o["primary"] & (o["label"] == "p50")]
    assert len(fam) == 2
    p = fam["p_value"].to_numpy()
    expected = np.maximum.accumulate(np.sort(p) * np.array([2, 1]))
    assert np.sort(fam["p_holm"].to_numpy()) == pytest.approx(np.minimum(expected, 1))


def test_a_run_whose_arms_did_not_interleave_is_compared_unpaired_with_a_warning(
    make_run: RunFactory,
) -> None:
    """Reordered as kind runs today: all none trials, then all envoy trials."""
    run = load_run(make_run(shift_us={"envoy": 1000.0}, repeats=3))
    t = run.trials
    t["order"] = (t["mesh"] != "none").astype(int) * 10 + t["repeat"].astype(int)
    o = rows(overhead(run), "envoy")
    assert set(o["method"]) == {"unpaired"} and not o["interleaved"].any()
    a = analyse(run)
    assert any("not interleaved" in w and "confounded with time" in w for w in a.warnings)
    assert not a.diagnostics["interleaved"].any()


def test_aa_arm_is_a_check_not_a_finding(make_run: RunFactory) -> None:
    """none-aa is compared like a mesh but outside the Holm family, and the diagnostics
    carry its contrast next to the drift and per-trial noise of the run."""
    run = load_run(
        make_run(
            repeats=4,
            aa_control=True,
            sampler=lognormal_sampler(
                {"none": 0.0, "none-aa": 0.0, "envoy": 800.0}, repeat_jitter=JITTER
            ),
        )
    )
    assert run.meshes == ["none", "none-aa", "envoy"]
    a = analyse(run)
    aa = rows(a.overhead, "none-aa").loc["p50"]
    assert aa["p_holm"] == aa["p_value"]  # a family of one: its own p-value
    assert aa["verdict"] not in (SLOWER, FASTER)
    d = a.diagnostics.set_index("label")
    assert list(d.index) == ["p50", "p99"] and d["interleaved"].all()
    assert (d["complete_blocks"] == 4).all() and (d["residual_sd_ms"] > 0).all()
    assert d.loc["p50", "aa_ms"] == pytest.approx(aa["overhead_ms"])
    assert not any("A/A control failed" in w for w in a.warnings)


def test_fresh_deployments_are_the_blocks_of_the_analysis(make_run: RunFactory) -> None:
    """deployments: 3 over 6 repeats: the contrast is taken per deployment (the mean of
    its repeats), so it has 3 blocks and its interval covers deployment-to-deployment
    variation; the sentence counts deployments."""
    run = load_run(
        make_run(
            repeats=6,
            deployments=3,
            sampler=lognormal_sampler({"none": 0.0, "envoy": 1000.0}, repeat_jitter=JITTER),
        )
    )
    assert sorted(set(zip(run.trials["repeat"], run.trials["deployment"], strict=True))) == [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 3),
        (6, 3),
    ]
    r = rows(overhead(run), "envoy").loc["p50"]
    assert r["block_unit"] == "deployment" and r["n_blocks"] == 3 and r["n_mesh"] == 6
    assert r["verdict"] == SLOWER
    from meshbench.report.verdict import verdict_lines

    assert any("slower in 3 of 3 deployments" in line for line in verdict_lines(analyse(run)))
