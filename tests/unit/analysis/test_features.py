"""A feature's marginal cost is its arm's overhead against the arm it adds one feature to:
with known shifts, the decomposition finds each feature's own cost (not its overhead
against none), decides it, and the report shows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from meshbench.analysis import load_run
from meshbench.analysis.features import FEATURE_COLUMNS, feature_costs, feature_label
from meshbench.analysis.summary import analyse
from meshbench.analysis.verdicts import NO_CHANGE, SLOWER
from meshbench.config.scenario import parse_scenario
from meshbench.report.feature_tables import feature_table
from meshbench.testing.synthetic import lognormal_sampler, write_synthetic_run

SHIFT_US = {
    "none": 0.0,
    "envoy-mtls": 1000.0,
    "envoy-mtls-rbac": 1400.0,  # the RBAC filter costs 0.4 ms more than the minimal sidecar
    "envoy-mtls-tls13": 1000.0,  # TLS 1.3 costs nothing here
}


def one_row(frame: pd.DataFrame) -> dict[str, Any]:
    records = frame.to_dict("records")
    assert len(records) == 1, records
    return {str(k): v for k, v in records[0].items()}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario: dict[str, Any] = parse_scenario(
        {
            "name": "features",
            "meshes": list(SHIFT_US),
            "repeats": 6,
            "load": {"rates_rps": [100], "duration_s": 4, "warmup_s": 1},
        }
    ).model_dump(mode="json")
    d = tmp_path_factory.mktemp("features")
    write_synthetic_run(
        d,
        scenario,
        lognormal_sampler(SHIFT_US, sigma=0.2, repeat_jitter=[1.0, 1.01, 0.99, 1.02, 0.98, 1.0]),
        measured_intervals=4,
        samples_per_interval=lambda _t: 500,
    )
    return d


def test_each_feature_costs_its_shift_over_the_reference_not_over_none(run_dir: Path) -> None:
    an = analyse(load_run(run_dir))
    f = an.features
    assert f is not None and list(f.columns) == FEATURE_COLUMNS
    assert set(f["mesh"]) == {"envoy-mtls-rbac", "envoy-mtls-tls13"}
    assert set(f["reference"]) == {"envoy-mtls"}
    rbac = one_row(f[(f["mesh"] == "envoy-mtls-rbac") & (f["percentile"] == 50.0)])
    assert rbac["overhead_ms"] == pytest.approx(0.4, abs=0.05)
    assert rbac["ci_low_ms"] < 0.4 < rbac["ci_high_ms"] and rbac["verdict"] == SLOWER
    assert rbac["feature"] == "rbac_rules=10"
    tls = one_row(f[(f["mesh"] == "envoy-mtls-tls13") & (f["percentile"] == 50.0)])
    assert tls["overhead_ms"] == pytest.approx(0.0, abs=0.05)
    assert tls["verdict"] == NO_CHANGE
    # against none the same arm's overhead is the whole sidecar's, 1.4 ms
    o = an.overhead
    whole = one_row(o[(o["mesh"] == "envoy-mtls-rbac") & (o["percentile"] == 50.0)])
    assert whole["overhead_ms"] == pytest.approx(1.4, abs=0.05)


def test_the_report_table_names_each_feature_and_its_cost(run_dir: Path) -> None:
    table = feature_table(analyse(load_run(run_dir)))
    assert table is not None
    rows = {(r[0], r[3]): r for r in table.rows}
    assert rows[("envoy-mtls-rbac", "p50")][1] == "rbac_rules=10"
    assert float(rows[("envoy-mtls-rbac", "p50")][6]) == pytest.approx(0.4, abs=0.05)
    assert "envoy-mtls" in table.title


def test_no_decomposition_without_the_reference_arm(run_dir: Path) -> None:
    """An arm whose reference did not run is compared with none only."""
    run = load_run(run_dir)
    costs = feature_costs(run, percentiles=[50.0], spec=analyse(run).spec, primary=[50.0])
    assert len(costs)
    assert feature_label("envoy-mtls-l4") == "l7=False"
    assert feature_label("envoy-mtls") == "minimal"
    lone = run_dir.parent / "lone"
    scenario: dict[str, Any] = parse_scenario(
        {
            "name": "lone",
            "meshes": ["none", "envoy-mtls-rbac"],
            "repeats": 2,
            "load": {"rates_rps": [100], "duration_s": 2, "warmup_s": 1},
        }
    ).model_dump(mode="json")
    lone.mkdir()
    write_synthetic_run(lone, scenario, lognormal_sampler(SHIFT_US), measured_intervals=2)
    an = analyse(load_run(lone))
    assert an.features is None and feature_table(an) is None
