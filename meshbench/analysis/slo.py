"""A latency budget (:class:`Slo`, from the scenario) and the verdicts against it: pass/fail
per mesh and rate, overhead as % of it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.config.dimensions import BASELINE, DIMS, VARIANT_DIMS
from meshbench.errors import ResultsError


@dataclass(frozen=True)
class Slo:
    """A latency budget: the ``percentile`` of end-to-end latency must stay <= ``budget_ms``."""

    percentile: float
    budget_ms: float

    @property
    def label(self) -> str:
        return hist.label(self.percentile)

    @classmethod
    def from_scenario(cls, scenario: Mapping[str, Any]) -> Slo | None:
        """The scenario's ``slo: {percentile, budget_ms}``, or None when it declares none."""
        raw = scenario.get("slo")
        if raw is None:
            return None
        try:
            percentile = float(raw.get("percentile", 99.0))
            budget_ms = float(raw["budget_ms"])
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ResultsError(
                f"scenario slo {raw!r} is not {{percentile: <0-100>, budget_ms: <ms>}}",
                fix="write e.g. `slo: {percentile: 99, budget_ms: 25}` in the scenario",
            ) from None
        if not (0 < percentile <= 100) or not (budget_ms > 0 and math.isfinite(budget_ms)):
            raise ResultsError(
                f"scenario slo {raw!r}: percentile must be in (0, 100] and budget_ms > 0",
                fix="write e.g. `slo: {percentile: 99, budget_ms: 25}` in the scenario",
            )
        return cls(percentile, budget_ms)


SLO_COLUMNS = [
    "mesh",
    *DIMS,
    "label",
    "budget_ms",
    "value_ms",
    "passes",
    "headroom_ms",
    "overhead_ms",
    "overhead_ci_low_ms",
    "overhead_ci_high_ms",
    "overhead_pct_of_budget",
    "verdict",
]


def slo_verdicts(cells: pd.DataFrame, overhead: pd.DataFrame, slo: Slo) -> pd.DataFrame:
    """One row per mesh x cell at the SLO percentile.

    ``cells`` is :func:`meshbench.analysis.cells.cell_percentiles` and ``overhead`` is
    :func:`meshbench.analysis.overhead.overhead`, both computed with ``slo.percentile``
    among their percentiles. ``passes`` is the pooled value <= budget; the overhead (vs
    the baseline) is also given as % of the budget, which is what a sidecar "costs" of it.
    """
    c = cells[np.isclose(cells["percentile"], slo.percentile)]
    c = c[c["trials_valid"] > 0]
    out = c[["mesh", *DIMS, "label", "value_ms"]].copy()
    out["budget_ms"] = slo.budget_ms
    out["passes"] = out["value_ms"] <= slo.budget_ms
    out["headroom_ms"] = slo.budget_ms - out["value_ms"]
    o = overhead[np.isclose(overhead["percentile"], slo.percentile)] if len(overhead) else None
    if o is not None and len(o):
        o = o[["mesh", *DIMS, "overhead_ms", "ci_low_ms", "ci_high_ms", "verdict"]]
        o = o.rename(
            columns={"ci_low_ms": "overhead_ci_low_ms", "ci_high_ms": "overhead_ci_high_ms"}
        )
        out = out.merge(o, on=["mesh", *DIMS], how="left")
    else:
        for col in ("overhead_ms", "overhead_ci_low_ms", "overhead_ci_high_ms", "verdict"):
            out[col] = np.nan
    is_base = out["mesh"] == BASELINE
    out.loc[is_base, "overhead_ms"] = 0.0
    out.loc[is_base, "verdict"] = "baseline"
    out["overhead_pct_of_budget"] = out["overhead_ms"] / slo.budget_ms * 100
    return out[SLO_COLUMNS].reset_index(drop=True)


VARIANT = list(VARIANT_DIMS)


def max_rate_within_budget(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per mesh (and setting of the other swept dimensions): the highest tested rate such
    that it and every lower tested rate pass (NaN when even the lowest fails), and the
    lowest failing rate."""
    records = []
    for key, g in verdicts.groupby(["mesh", *VARIANT], sort=False):
        g = g.sort_values("rate_rps")
        ok = float("nan")
        first_fail = float("nan")
        for rate, passes in zip(g["rate_rps"], g["passes"], strict=True):
            if not passes:
                first_fail = float(rate)
                break
            ok = float(rate)
        records.append(
            {
                **dict(zip(["mesh", *VARIANT], key, strict=True)),
                "max_rate_rps": ok,
                "first_failing_rate_rps": first_fail,
                "rates_tested": len(g),
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=["mesh", *VARIANT, "max_rate_rps", "first_failing_rate_rps", "rates_tested"],
    )
