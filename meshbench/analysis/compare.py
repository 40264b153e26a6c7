"""Compare two runs: the same tables side by side, and B - A per cell with intervals.

Comparing runs only means something when they measured the same thing, so runs whose
key metadata differ (platform, topology, rates) are refused unless forced, in the
spirit of pyperf's checked metadata. Other differences (host, versions, load shape)
are listed but allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from meshbench.analysis import histograms as hist
from meshbench.analysis.overhead import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    bootstrap_difference,
    cell_seed,
    verdict,
)
from meshbench.analysis.run import DIMS, Run, load_run
from meshbench.analysis.summary import Analysis, analyse
from meshbench.errors import ResultsError

DIFF_COLUMNS = [
    "mesh", *DIMS, "percentile", "label", "a_ms", "b_ms", "diff_ms", "diff_pct",
    "ci_low_ms", "ci_high_ms", "n_a", "n_b", "verdict", "significant",
]


@dataclass
class Comparison:
    """Two analysed runs and how B differs from A."""

    a: Analysis
    b: Analysis
    cells: pd.DataFrame
    """Pooled percentiles of both runs, long form, with a ``run`` column (run ids)."""
    overhead: pd.DataFrame
    """Both runs' overheads against ``none``, long form, with a ``run`` column."""
    diff: pd.DataFrame
    """Per mesh x cell x percentile: B - A (ms, %), bootstrap CI, verdict."""
    mismatches: list[str] = field(default_factory=list)
    """Key metadata that differ (only non-empty when forced)."""
    differences: list[str] = field(default_factory=list)
    """Other metadata that differ (host, versions, load shape): worth knowing."""


def _get(d: Mapping[str, Any], *path: str) -> Any:
    cur: Any = d
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


_KEY = {
    "platform": ("platform", "name"),
    "topology": ("scenario", "topology"),
    "rates": ("scenario", "load", "rates_rps"),
    "sweep": ("scenario", "sweep"),
}
_OTHER = {
    "client sidecar": ("scenario", "client_sidecar"),
    "connections": ("scenario", "load", "connections"),
    "schedule": ("scenario", "load", "schedule"),
    "duration": ("scenario", "load", "duration_s"),
    "cpu model": ("host", "cpu_model"),
    "cpu count": ("host", "cpu_count"),
    "kernel": ("host", "kernel"),
    "pinning": ("pinning",),
    "envoy version": ("versions", "envoy"),
    "meshbench version": ("versions", "meshbench"),
}


def metadata_differences(
    a: Mapping[str, Any], b: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """``(key mismatches, other differences)`` between two ``run.json`` mappings."""

    def diff(fields: Mapping[str, tuple[str, ...]]) -> list[str]:
        out = []
        for name, path in fields.items():
            va, vb = _get(a, *path), _get(b, *path)
            if name == "rates" and va is not None and vb is not None:
                va, vb = sorted(float(x) for x in va), sorted(float(x) for x in vb)
            if va != vb:
                out.append(f"{name}: {_short(va)} vs {_short(vb)}")
        return out

    return diff(_KEY), diff(_OTHER)


def _short(v: Any, limit: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def run_labels(a: Run, b: Run) -> tuple[str, str]:
    """Names for the two runs in tables and legends (their ids, prefixed when equal)."""
    if a.run_id != b.run_id:
        return a.run_id, b.run_id
    return f"A:{a.run_id}", f"B:{b.run_id}"


def compare_runs(
    a: Run | str | Path,
    b: Run | str | Path,
    force: bool = False,
    *,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Comparison:
    """Compare run ``b`` against run ``a`` (both paths or loaded runs).

    Raises :class:`ResultsError` when platform, topology or rates differ, unless
    ``force``. The per-cell difference resamples each run's trials independently, like
    the mesh-vs-baseline overhead, so "within noise" means the same thing here.
    """
    run_a = a if isinstance(a, Run) else load_run(a)
    run_b = b if isinstance(b, Run) else load_run(b)
    key, other = metadata_differences(run_a.meta, run_b.meta)
    if key and not force:
        raise ResultsError(
            f"runs {run_a.run_id} and {run_b.run_id} measured different things: "
            + "; ".join(key),
            fix="compare runs of the same scenario, or pass --force (force=True) to compare anyway",
        )
    seed = run_b.seed if seed is None else seed
    an_a = analyse(run_a, n_boot=n_boot, seed=seed, confidence=confidence)
    an_b = analyse(run_b, n_boot=n_boot, seed=seed, confidence=confidence)
    percentiles = tuple(sorted(set(an_a.percentiles) | set(an_b.percentiles)))

    records = []
    meshes = [m for m in run_a.meshes if m in run_b.meshes]
    for cell in sorted(set(run_a.cells) & set(run_b.cells)):
        for mesh in meshes:
            ids_a = run_a.cell_trials(mesh, cell)
            ids_b = run_b.cell_trials(mesh, cell)
            if not ids_a and not ids_b:
                continue
            ca, lay = hist.stack([run_a.histograms[t]["latency"] for t in ids_a])
            cb, _ = hist.stack([run_b.histograms[t]["latency"] for t in ids_b])
            d = bootstrap_difference(
                cb, ca, lay, percentiles, n_boot=n_boot,
                rng=cell_seed(seed, "compare", mesh, *cell.as_dict().values()),
                confidence=confidence,
            )
            for j, q in enumerate(percentiles):
                v = verdict(len(ids_b), len(ids_a), float(d.low_us[j]), float(d.high_us[j]))
                records.append({
                    "mesh": mesh, **cell.as_dict(), "percentile": q,
                    "label": hist.label(q), "a_ms": d.control_us[j] / 1000,
                    "b_ms": d.treatment_us[j] / 1000, "diff_ms": d.diff_us[j] / 1000,
                    "diff_pct": d.diff_us[j] / d.control_us[j] * 100,
                    "ci_low_ms": d.low_us[j] / 1000, "ci_high_ms": d.high_us[j] / 1000,
                    "n_a": len(ids_a), "n_b": len(ids_b), "verdict": v,
                    "significant": v in ("slower", "faster"),
                })
    diff = pd.DataFrame.from_records(records, columns=DIFF_COLUMNS)
    diff.attrs.update({"a": run_a.run_id, "b": run_b.run_id, "n_boot": n_boot, "seed": seed,
                       "confidence": confidence})
    name_a, name_b = run_labels(run_a, run_b)
    cells = pd.concat(
        [an_a.cells.assign(run=name_a), an_b.cells.assign(run=name_b)], ignore_index=True
    )
    over = pd.concat(
        [an_a.overhead.assign(run=name_a), an_b.overhead.assign(run=name_b)], ignore_index=True
    )
    return Comparison(an_a, an_b, cells, over, diff, key, other)
