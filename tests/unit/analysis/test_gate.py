"""The gate's known answers, on a real stored run and candidates derived from it."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meshbench.analysis import verdicts as vd
from meshbench.analysis.compare import DIFF_COLUMNS, LEVEL, OVERHEAD
from meshbench.analysis.gate import (
    INCONCLUSIVE,
    PASS,
    REGRESSION,
    Gate,
    GateSettingsError,
    gate_runs,
    gate_verdicts,
    gated_rows,
    row_outcome,
)
from meshbench.analysis.stored_run import load_run
from meshbench.errors import ResultsError
from meshbench.testing.derived import shift_histogram, shifted_run, subset_run, with_host
from meshbench.testing.frames import value

DATA = Path(__file__).resolve().parents[2] / "data"
CALIBRATION = DATA / "calibration-run"
MESHES = ("envoy", "envoy-mtls")


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The calibration run (12 interleaved repeats, real), an identical copy, the same run
    with both sidecars 0.5 ms slower, and its first repeat alone."""
    root = tmp_path_factory.mktemp("gate")
    copy = root / "copy"
    shutil.copytree(CALIBRATION, copy)
    return {
        "copy": copy,
        "slower": shifted_run(CALIBRATION, root / "slower", {m: 500.0 for m in MESHES}),
        "one-repeat": subset_run(CALIBRATION, root / "one-repeat", [1]),
    }


@pytest.fixture(scope="module")
def slower_gate(derived: dict[str, Path]) -> Gate:
    return gate_runs(CALIBRATION, derived["slower"])


def _row(g: Gate, mesh: str, label: str) -> pd.Series:
    r = g.rows[(g.rows["mesh"] == mesh) & (g.rows["label"] == label)]
    assert len(r) == 1
    return r.iloc[0]


def test_shifting_a_histogram_moves_its_percentiles_by_the_shift() -> None:
    run = load_run(CALIBRATION)
    h = run.histograms[str(run.trials["trial_id"].iloc[0])]["latency"]
    moved = shift_histogram(h, 500.0)
    assert moved.get_total_count() == h.get_total_count()
    for q in (50.0, 99.0):
        before, after = h.get_value_at_percentile(q), moved.get_value_at_percentile(q)
        assert after - before == pytest.approx(500.0, abs=0.005 * after)


def test_a_candidate_half_a_millisecond_slower_at_p50_is_a_regression(
    slower_gate: Gate, derived: dict[str, Path]
) -> None:
    g = slower_gate
    assert g.exit_code == 1 and g.outcome == REGRESSION
    for mesh in MESHES:
        r = _row(g, mesh, "p50")
        assert r["verdict"] == vd.SLOWER and r["outcome"] == REGRESSION
        assert r["diff_ms"] == pytest.approx(0.5, abs=0.005)
        assert r["ci_low_ms"] > 0 and r["p_holm"] < 0.05
    assert set(g.rows["mesh"]) == set(MESHES)  # none and none-aa are compared, not gated
    assert {"none", "none-aa"} <= set(g.not_gated["mesh"])
    # the failing side: the same run unchanged is no regression under the same settings
    same = gate_runs(CALIBRATION, derived["copy"])
    assert REGRESSION not in set(same.rows["outcome"]) and same.exit_code != 1


def test_an_aa_pair_passes_a_threshold_the_runs_can_resolve(derived: dict[str, Path]) -> None:
    g = gate_runs(CALIBRATION, derived["copy"], threshold_ms=0.5, percentiles=[50])
    assert g.exit_code == 0 and g.outcome == PASS
    assert set(g.rows["verdict"]) == {vd.NO_CHANGE} and set(g.rows["label"]) == {"p50"}
    assert (g.rows["threshold_ms"] == 0.5).all()
    # the failing side: the +0.5 ms candidate fails the same gate
    assert (
        gate_runs(CALIBRATION, derived["slower"], threshold_ms=0.5, percentiles=[50]).exit_code == 1
    )


def test_a_threshold_in_percent_is_a_share_of_none_at_that_percentile(
    derived: dict[str, Path],
) -> None:
    g = gate_runs(CALIBRATION, derived["copy"], threshold_pct=25.0, percentiles=[50])
    none_p50 = value(g.diff.set_index(["mesh", "label"]), ("none", "p50"), "a_ms")
    assert list(g.rows["threshold_ms"]) == pytest.approx([0.25 * none_p50] * 2, rel=1e-9)
    assert g.exit_code == 0  # ±0.31 ms lies inside ±0.5 ms
    both = gate_runs(CALIBRATION, derived["copy"], threshold_ms=0.8, threshold_pct=25.0)
    thr = both.rows.groupby("label")["threshold_ms"].agg(["min", "max"])
    none_p99 = value(both.diff.set_index(["mesh", "label"]), ("none", "p99"), "a_ms")
    # the larger of the two at each percentile: 0.8 ms at p50, 25 % of none's p99 at p99
    assert list(thr.loc["p50"]) == [0.8, 0.8]
    assert list(thr.loc["p99"]) == pytest.approx([0.25 * none_p99] * 2, rel=1e-9)
    assert 0.25 * none_p99 > 0.8


def test_an_aa_pair_is_inconclusive_below_what_the_runs_resolve(derived: dict[str, Path]) -> None:
    """At the default 0.1 ms the intervals (±0.31 ms at p50) straddle the threshold: the
    gate says inconclusive, with the MDE and the repeats that would decide."""
    g = gate_runs(CALIBRATION, derived["copy"])
    assert g.exit_code == 3 and g.outcome == INCONCLUSIVE
    r = _row(g, "envoy", "p50")
    assert r["verdict"] == vd.INCONCLUSIVE and r["outcome"] == INCONCLUSIVE
    assert 0.1 < value(g.rows.set_index(["mesh", "label"]), ("envoy", "p50"), "mde_ms") < 1.0
    assert r["repeats_needed"] > 12  # more than these runs had


def test_a_candidate_with_too_few_repeats_is_inconclusive(derived: dict[str, Path]) -> None:
    g = gate_runs(CALIBRATION, derived["one-repeat"])
    assert g.exit_code == 3 and g.outcome == INCONCLUSIVE
    assert set(g.rows["verdict"]) == {vd.TOO_FEW}
    assert all("1 repeat(s)" in w for w in g.rows["why"])


def test_a_mismatched_host_fingerprint_is_refused_unless_forced(
    tmp_path: Path, derived: dict[str, Path]
) -> None:
    other = tmp_path / "other-host"
    shutil.copytree(derived["slower"], other)
    with_host(other, cpu_model="Some Other CPU", kernel="7.0.0")
    with pytest.raises(ResultsError, match="not comparable") as e:
        gate_runs(CALIBRATION, other)
    assert "host cpu_model: 'AMD EPYC' vs 'Some Other CPU'" in str(e.value)
    assert "host kernel" in str(e.value) and "--force" in str(e.value)
    g = gate_runs(CALIBRATION, other, force=True)
    assert g.exit_code == 1 and any("cpu_model" in f for f in g.forced)


def test_runs_of_different_scenarios_are_refused() -> None:
    with pytest.raises(ResultsError, match="scenario: 'calibration' vs 'sample'") as e:
        gate_runs(CALIBRATION, DATA / "sample-run")
    assert "rates" in str(e.value)


def _family(p_values: list[float], meshes: list[str] | None = None) -> pd.DataFrame:
    """Primary rows of a comparison before verdicts: B - A = +0.46 ms with an interval
    that excludes 0 (raw p-values below 0.05) and reaches past the threshold. A mesh
    named ``none`` is its latency row, ``none-aa`` the A/A control's overhead."""
    rows = []
    for i, p in enumerate(p_values):
        mesh = meshes[i] if meshes else f"mesh{i}"
        rows.append(
            {
                **dict.fromkeys(DIFF_COLUMNS, np.nan),
                "mesh": mesh,
                "rate_rps": 150.0,
                "percentile": 50.0,
                "label": "p50",
                "quantity": LEVEL if mesh == "none" else OVERHEAD,
                "diff_ms": 0.46,
                "ci_low_ms": 0.02,
                "ci_high_ms": 0.9,
                "p_value": p,
                "threshold_ms": 0.1,
                "block_unit": "repeat",
                "primary": True,
                "verdict": "",
                "why": "",
            }
        )
    return pd.DataFrame(rows)


def test_holm_not_the_raw_p_value_decides_a_gated_family() -> None:
    """Raw p 0.03 and 0.04 are both below alpha 0.05; Holm's adjusted values (0.06, 0.06)
    are not: no row may be called slower, so the gate is inconclusive, not a regression.
    A verdict taken on the raw p-value would say slower twice and exit 1."""
    d = gate_verdicts(_family([0.03, 0.04]), 0.05)
    assert list(d["p_holm"]) == pytest.approx([0.06, 0.06])
    assert list(d["verdict"]) == [vd.INCONCLUSIVE, vd.INCONCLUSIVE]
    rows, _ = gated_rows(d)
    assert list(rows["outcome"]) == [INCONCLUSIVE, INCONCLUSIVE]
    # the failing side: the same row alone (a family of one) is slower, and fails the gate
    alone = gate_verdicts(_family([0.03]), 0.05)
    assert list(alone["verdict"]) == [vd.SLOWER]
    assert list(gated_rows(alone)[0]["outcome"]) == [REGRESSION]


def test_the_gates_family_is_the_rows_it_gates() -> None:
    """none's latency and the A/A control are compared but not gated, so they do not
    join the Holm family: mesh p 0.04 stays below alpha. Adjusted with them (as compare
    does, over every primary row) it would be 0.06 and inconclusive."""
    rows = _family([0.01, 0.03, 0.04], ["none", "none-aa", "envoy"])
    d = gate_verdicts(rows.copy(), 0.05)
    gated, not_gated = gated_rows(d)
    assert list(gated["mesh"]) == ["envoy"] and list(gated["outcome"]) == [REGRESSION]
    assert set(not_gated["mesh"]) == {"none", "none-aa"}
    everyone = vd.apply_verdicts(rows.copy(), 0.05, rows["primary"].astype(bool), "diff_ms")
    assert everyone.loc[2, "verdict"] == vd.INCONCLUSIVE


@pytest.mark.parametrize(
    ("verdict", "ci_high", "expected"),
    [
        (vd.SLOWER, 0.9, REGRESSION),
        (vd.NO_CHANGE, 0.05, PASS),
        (vd.FASTER, -0.2, PASS),
        (vd.INCONCLUSIVE, 0.09, PASS),  # a regression of 0.1 ms is ruled out
        (vd.INCONCLUSIVE, 0.1, INCONCLUSIVE),
        (vd.INCONCLUSIVE, math.nan, INCONCLUSIVE),
        (vd.TOO_FEW, math.nan, INCONCLUSIVE),
        (vd.NO_DATA, math.nan, INCONCLUSIVE),
    ],
)
def test_row_outcome(verdict: str, ci_high: float, expected: str) -> None:
    assert row_outcome(verdict, ci_high, 0.1) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold_ms": -0.1},
        {"threshold_pct": -1.0},
        {"percentiles": [100.0]},
        {"percentiles": [0.0]},
    ],
)
def test_gate_settings_out_of_range_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(GateSettingsError, match="gate settings out of range"):
        gate_runs(CALIBRATION, CALIBRATION, **kwargs)  # type: ignore[arg-type]
