"""The per-trial frames of a stored run: the trials (each :class:`TrialRecord` typed, the
sweep in its stored form), their percentiles, and their resource cost.

A trials.csv that would silently change the analysis is refused here, line by line: a
missing key column, a duplicated trial id, a histogram outside the run, a field its
column's type cannot hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from meshbench.analysis import histograms as hist
from meshbench.config.dimensions import DIMENSIONS, DIMS
from meshbench.errors import ResultsError
from meshbench.results import hlog, store
from meshbench.results.trial_record import COLUMN_TYPES, TRIAL_COLUMNS, TrialRecord

TRIAL_KEYS = ("trial_id", "mesh", *DIMS, "repeat", "valid", "included")
"""The trial columns every long-form frame (percentiles, intervals, cost) carries."""

COMPONENTS = ("sidecar", "service", "generator")
"""Whose CPU and memory the cost frame holds (``<component>_cpu``, ``_rss_mib`` columns)."""

REQUIRED_COLUMNS = ("trial_id", "mesh", "rate_rps", "repeat", "valid", "histogram")
"""Columns without which a trial cannot be placed in a cell and block: refused, never
guessed (a missing ``mesh`` would pool every trial into one unnamed arm)."""

_DTYPES: dict[type, Any] = {float: float, int: "Int64", bool: bool, str: str}
"""Frame column type of each record field type (``Int64``: whole numbers, NA when empty)."""


def check_trials(rows: Sequence[Mapping[str, str]], run_dir: Path) -> list[TrialRecord]:
    """The trials of ``rows`` (trials.csv of ``run_dir``); :class:`ResultsError` for a file
    that would silently change the analysis: missing key columns, duplicated trial ids
    (extra "repeats"), histogram paths outside the run directory, mistyped fields."""
    where = run_dir / store.TRIALS_CSV
    if not rows:
        return []
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise ResultsError(
            f"{where}: missing column(s) {missing}", fix="restore trials.csv as meshbench wrote it"
        )
    seen: dict[str, int] = {}
    root = run_dir.resolve()
    trials = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        tid = str(row["trial_id"])
        if tid in seen:
            raise ResultsError(
                f"{where}: lines {seen[tid]} and {line} have the same trial id {tid!r}",
                fix="remove the duplicated row",
            )
        seen[tid] = line
        rel = row.get("histogram") or ""
        if rel and not (run_dir / rel).resolve().is_relative_to(root):
            raise ResultsError(
                f"{where}: line {line} ({tid}): histogram {rel!r} is outside the run directory",
                fix="histogram paths are histograms/<trial>.hlog",
            )
        trials.append(store.trial_from_row(row, where, line))
    return trials


def trial_frame(trials: Sequence[TrialRecord], scenario: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trial, every column of :data:`TRIAL_COLUMNS` in its type; the sweep
    settings in their stored form, filled from ``scenario`` where it did not sweep them."""
    defaults = {d.name: d.default(scenario) for d in DIMENSIONS}
    df = pd.DataFrame(
        [{**t.values(), **t.stored_sweep(defaults)} for t in trials], columns=list(TRIAL_COLUMNS)
    )
    for column, kind in COLUMN_TYPES.items():
        df[column] = df[column].astype(_DTYPES[kind])
    for d in DIMENSIONS:  # never empty: whole numbers need no NA
        df[d.name] = df[d.name].astype(int if d.stored_type is int else _DTYPES[d.stored_type])
    df["deployment"] = df["deployment"].fillna(1)  # runs before fresh deployments existed
    return df


def percentile_frame(histograms: Mapping[str, Mapping[str, HdrHistogram]]) -> pd.DataFrame:
    """Long form: one row per trial x tag x :data:`~meshbench.analysis.histograms.PERCENTILES`."""
    records: list[dict[str, Any]] = []
    for trial_id, tags in histograms.items():
        for tag in hlog.TAGS:
            h = tags.get(tag)
            if h is None:
                continue
            n = h.get_total_count()
            for q, v in hist.percentiles_ms(h, hist.PERCENTILES).items():
                records.append(
                    {
                        "trial_id": trial_id,
                        "tag": tag,
                        "percentile": q,
                        "label": hist.label(q),
                        "value_ms": v,
                        "count": n,
                    }
                )
    cols = ["trial_id", "tag", "percentile", "label", "value_ms", "count"]
    return pd.DataFrame.from_records(records, columns=cols)


def cost_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Long form: one row per trial x :data:`COMPONENTS` (CPU cores, RSS MiB, cores/krps)."""
    parts = []
    for comp in COMPONENTS:
        cpu = trials[f"{comp}_cpu"]
        rss_col = f"{comp}_rss_mib"
        rss = trials[rss_col] if rss_col in trials else pd.Series(np.nan, index=trials.index)
        part = trials[list(TRIAL_KEYS)].copy()
        part["component"] = comp
        part["cpu_cores"] = cpu.to_numpy(dtype=float)
        part["rss_mib"] = rss.to_numpy(dtype=float)
        part["cpu_cores_per_krps"] = part["cpu_cores"] / (trials["achieved_rps"] / 1000)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
