"""The HdrHistogram interval log of one trial, read into merged histograms and a frame of
its ~1 s intervals (warm-up kept, tagged).

Intervals are merged by adding their counts, sliced to each interval's non-empty range:
copying full 17 408-counter rows cost ~1 s per 100 trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

from meshbench.analysis import histograms as hist
from meshbench.results import hlog

TIME_SERIES_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 100.0)

INTERVAL_COLUMNS: tuple[str, ...] = (
    "trial_id",
    "tag",
    "warmup",
    "start_s",
    "run_time_s",
    "length_s",
    "count",
    "rate_rps_achieved",
    *[f"{hist.label(q)}_ms" for q in TIME_SERIES_PERCENTILES],
)
"""Columns of a trial's interval frame (before the trial's keys are joined to it)."""


@dataclass
class _Series:
    """The interval histograms of one tag of one trial, each cut to its non-empty range."""

    starts_s: list[float] = field(default_factory=list)
    lengths_s: list[float] = field(default_factory=list)
    first: list[int] = field(default_factory=list)  # counts index of each slice's first bucket
    slices: list[NDArray[np.uint64]] = field(default_factory=list)

    def add(self, interval: hlog.Interval) -> None:
        h = interval.histogram
        self.starts_s.append(interval.start_s)
        self.lengths_s.append(interval.length_s)
        if h.get_total_count() == 0:
            self.first.append(0)
            self.slices.append(np.zeros(0, dtype=np.uint64))
            return
        # decoding set min/max from the first and last non-empty bucket
        lo = h.get_counts_array_index(h.min_value)
        hi = h.get_counts_array_index(h.max_value)
        self.first.append(lo)
        self.slices.append(np.ctypeslib.as_array(h.counts)[lo : hi + 1])

    def matrix(self) -> tuple[int, NDArray[np.int64]]:
        """``(first index, counts)``: one row per interval over the union of their ranges
        (copying only non-empty ranges: full 17 408-counter rows cost ~1 s per 100 trials)."""
        used = [(f, s) for f, s in zip(self.first, self.slices, strict=True) if s.size]
        if not used:
            return 0, np.zeros((len(self.slices), 1), dtype=np.int64)
        lo = min(f for f, _ in used)
        hi = max(f + s.size for f, s in used)
        mat = np.zeros((len(self.slices), hi - lo), dtype=np.int64)
        for i, (f, s) in enumerate(zip(self.first, self.slices, strict=True)):
            mat[i, f - lo : f - lo + s.size] = s
        return lo, mat


def _interval_frame(
    trial_id: str,
    tag: str,
    ser: _Series,
    first: int,
    mat: NDArray[np.int64],
    lay: hist.Layout,
    run_offset_s: float,
) -> pd.DataFrame:
    n = mat.shape[1]
    lowest = hist.bucket_lowest_us(lay)[first : first + n]
    highest = hist.bucket_highest_us(lay)[first : first + n]
    pct = hist.percentiles_of_buckets(mat, lowest, highest, TIME_SERIES_PERCENTILES) / 1000
    start = np.array(ser.starts_s)
    length = np.array(ser.lengths_s)
    count = mat.sum(axis=1)
    part = pd.DataFrame(
        {
            "trial_id": trial_id,
            "tag": tag.removeprefix(hlog.WARMUP_PREFIX),
            "warmup": tag.startswith(hlog.WARMUP_PREFIX),
            "start_s": start,
            "run_time_s": start + run_offset_s,
            "length_s": length,
            "count": count,
            "rate_rps_achieved": np.divide(
                count, length, out=np.full(len(count), np.nan), where=length > 0
            ),
        }
    )
    for j, q in enumerate(TIME_SERIES_PERCENTILES):
        part[f"{hist.label(q)}_ms"] = pct[:, j]
    return part


def read_trial_log(
    trial_id: str, source: Path | IO[str], run_offset_s: float
) -> tuple[dict[str, HdrHistogram], pd.DataFrame]:
    """Every tag's intervals merged (by adding counts) and the per-interval frame, from a
    log's path or its open text."""
    series: dict[str, _Series] = {}
    lay: hist.Layout | None = None
    counts_len = 0
    for interval in hlog.iter_log(source):
        h = interval.histogram
        if lay is None:
            lay, counts_len = hist.layout(h), h.counts_len
        elif hist.layout(h) != lay:
            raise ValueError(f"intervals of different range/precision {hist.layout(h)}, {lay}")
        series.setdefault(interval.tag or "latency", _Series()).add(interval)
    if lay is None:
        return {}, pd.DataFrame()
    merged: dict[str, HdrHistogram] = {}
    parts = []
    for tag, ser in series.items():
        first, mat = ser.matrix()
        full = np.zeros(counts_len, dtype=np.int64)
        full[first : first + mat.shape[1]] = mat.sum(axis=0)
        merged[tag] = hist.from_counts(full, lay)
        parts.append(_interval_frame(trial_id, tag, ser, first, mat, lay, run_offset_s))
    return merged, pd.concat(parts, ignore_index=True)
