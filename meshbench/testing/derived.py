"""Runs derived from a stored one: a known change applied to real measurements.

A known-answer test of ``gate`` needs a candidate whose true difference from its
baseline is known, with the noise of a real run. These helpers copy a stored run and
change it in one declared way: every latency of some meshes shifted by a constant
(:func:`shifted_run`), or only some repeats kept (:func:`subset_run`). The copy is a
complete run in the stored format; only ``run.json``'s ``run_id`` (and, for a subset, its
``plan`` and ``repeats``) and the changed files differ from the source.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from meshbench.results import hlog, store

SHIFTED_TAGS = ("latency", "service", "ttfb")
"""Tags whose values are response times (shifted); ``send_lag`` is the generator's own."""


def _copy(src: Path, dst: Path) -> dict[str, Any]:
    """Copy the run at ``src`` to the new directory ``dst`` (without logs, reports and
    plots) and return its run.json with the new run id."""
    if dst.exists():
        raise FileExistsError(dst)
    shutil.copytree(
        src,
        dst,
        ignore=shutil.ignore_patterns("logs", "plots", "report.html", "summary.md", "compare-*"),
    )
    meta = store.read_run_json(dst)
    meta["run_id"] = dst.name
    return meta


def shift_histogram(h: HdrHistogram, shift_us: float) -> HdrHistogram:
    """A copy of ``h`` with every recorded value moved by ``shift_us`` (µs): each bucket's
    count re-recorded at its lowest value plus the shift, clamped like
    :func:`meshbench.results.hlog.record_us`."""
    out = hlog.new_histogram()
    counts = np.ctypeslib.as_array(h.counts)[: h.counts_len]
    for i in np.flatnonzero(counts):
        v = int(h.get_value_from_index(int(i)) + shift_us)
        out.record_value(min(max(v, hlog.LOWEST_US), hlog.HIGHEST_US), int(counts[i]))
    return out


def _rewrite_log(path: Path, shift_us: float) -> None:
    intervals = list(hlog.iter_log(path))
    start = hlog.start_time(path) or 0.0
    with path.open("w") as out:
        writer = hlog.LogWriter(out, start, comment=f"derived: shifted by {shift_us:+g} us")
        for iv in intervals:
            shifted = iv.tag.removeprefix(hlog.WARMUP_PREFIX) in SHIFTED_TAGS
            h = shift_histogram(iv.histogram, shift_us) if shifted else iv.histogram
            writer.write(iv.tag, start + iv.start_s, start + iv.start_s + iv.length_s, h)


def _trial_rows(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (run_dir / store.TRIALS_CSV).open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write_rows(run_dir: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with (run_dir / store.TRIALS_CSV).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


_SHIFTED_COLUMNS = (
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "mean_ms",
    "service_p50_ms",
    "service_p99_ms",
)


def shifted_run(src: Path, dst: Path, shift_us: Mapping[str, float]) -> Path:
    """Copy the run ``src`` to ``dst`` with every response time of the meshes in
    ``shift_us`` moved by that many µs (histograms and the trials.csv summary columns).

    Each mesh's overhead against ``none`` then grows by exactly its shift (to the
    histogram's resolution, ~0.1 %), while the run keeps its real noise.
    """
    meta = _copy(src, dst)
    columns, rows = _trial_rows(dst)
    for row in rows:
        shift = float(shift_us.get(row["mesh"], 0.0))
        if not shift:
            continue
        if row.get("histogram"):
            _rewrite_log(dst / row["histogram"], shift)
        for c in _SHIFTED_COLUMNS:
            if row.get(c):
                row[c] = repr(float(row[c]) + shift / 1000)
    _write_rows(dst, columns, rows)
    meta["derived_from"] = {"run": str(src), "shift_us": dict(shift_us)}
    store.write_json(dst / store.RUN_JSON, meta)
    return dst


def subset_run(src: Path, dst: Path, repeats: Collection[int]) -> Path:
    """Copy the run ``src`` to ``dst`` keeping only the trials of ``repeats`` (and only
    those in run.json's plan), as if the scenario had asked for that many repeats."""
    meta = _copy(src, dst)
    columns, rows = _trial_rows(dst)
    keep = [r for r in rows if r.get("repeat") and int(r["repeat"]) in repeats]
    for r in rows:
        if r not in keep and r.get("histogram"):
            (dst / r["histogram"]).unlink(missing_ok=True)
            shutil.rmtree(dst / store.TRIALS / r["trial_id"], ignore_errors=True)
    _write_rows(dst, columns, keep)
    kept = {r["trial_id"] for r in keep}
    meta["plan"] = [t for t in meta.get("plan") or [] if t.get("trial_id") in kept]
    scenario = dict(meta.get("scenario") or {})
    scenario["repeats"] = len(set(repeats))
    scenario["deployments"] = min(int(scenario.get("deployments") or 1), len(set(repeats)))
    meta["scenario"] = scenario
    meta["derived_from"] = {"run": str(src), "repeats": sorted(repeats)}
    store.write_json(dst / store.RUN_JSON, meta)
    return dst


def with_host(run_dir: Path, **host: Any) -> Path:
    """Change fields of the run's recorded ``host`` block in place (e.g. ``cpu_model``)."""
    path = run_dir / store.RUN_JSON
    meta = json.loads(path.read_text())
    meta["host"] = {**(meta.get("host") or {}), **host}
    store.write_json(path, meta)
    return run_dir
