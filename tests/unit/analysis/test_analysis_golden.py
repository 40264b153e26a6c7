"""Golden file: a run stored in results schema version 1 must keep loading, with the same
numbers. If this fails after a schema change, add a migration to the reader; never
regenerate tests/data/golden/."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.analysis import analyse, load_run
from meshbench.results import store

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden" / "schema-v1"


def test_golden_v1_run_loads_with_known_numbers() -> None:
    run = load_run(GOLDEN)
    assert run.meta["schema_version"] == 1 == store.SCHEMA_VERSION
    assert run.status == "complete" and run.platform == "local"
    assert run.meshes == ["none", "envoy"] and run.rates == [50.0]
    assert len(run.trials) == 4 and run.trials["included"].all()
    a = analyse(run)
    cells = a.cells.set_index(["mesh", "label"])["value_ms"]
    assert cells[("none", "p50")] == pytest.approx(GOLDEN_P50_NONE_MS)
    assert cells[("envoy", "p50")] == pytest.approx(GOLDEN_P50_ENVOY_MS)
    assert cells[("envoy", "max")] == pytest.approx(GOLDEN_MAX_ENVOY_MS)
    o = a.overhead.set_index(["mesh", "label"])
    assert o.loc[("envoy", "p50"), "pooled_diff_ms"] == pytest.approx(
        GOLDEN_P50_ENVOY_MS - GOLDEN_P50_NONE_MS
    )
    # the within-repeat contrast: mean of the two repeats' per-trial p50 differences
    assert o.loc[("envoy", "p50"), "overhead_ms"] == pytest.approx(GOLDEN_CONTRAST_P50_MS)
    assert o.loc[("envoy", "p50"), "n_blocks"] == 2
    assert a.slo is not None and a.slo.budget_ms == 4.0
    counts = a.counts.set_index("mesh")
    assert counts.loc["none", "requests"] == 2 * 3 * 50


GOLDEN_P50_NONE_MS = 1.157
GOLDEN_P50_ENVOY_MS = 2.000
GOLDEN_MAX_ENVOY_MS = 4.335
GOLDEN_CONTRAST_P50_MS = ((1.957 - 1.110) + (2.032 - 1.206)) / 2  # trials.csv p50_ms
