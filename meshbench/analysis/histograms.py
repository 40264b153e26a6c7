"""Percentiles from HdrHistogram counts, vectorised with numpy.

hdrh computes a percentile with a Python loop over ~17 000 counters (~0.3 ms each);
the bootstrap needs hundreds of thousands of them. These functions read the counts
array directly and give exactly the values ``HdrHistogram.get_value_at_percentile``
gives (same target count, same "highest equivalent value" of the bucket), so a pooled
percentile here and one from hdrh agree to the microsecond.

Pooling is always by adding counts (``HdrHistogram.add`` or a sum of counts arrays
with the same layout), never by averaging percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

from meshbench.errors import ResultsError
from meshbench.results import hlog
from meshbench.results.hlog import percentiles_ms as percentiles_ms  # the one helper

Counts = NDArray[np.int64]
Layout = tuple[int, int, int]  # lowest_us, highest_us, significant digits

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9, 100.0)
"""The percentiles every table shows; 100 is the maximum."""


def label(percentile: float) -> str:
    """``50 -> 'p50'``, ``99.9 -> 'p99.9'``, ``100 -> 'max'``."""
    return "max" if percentile >= 100 else f"p{percentile:g}"


def layout(h: HdrHistogram) -> Layout:
    """What must match for two histograms' counts arrays to be added element-wise."""
    return (h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)


def counts(h: HdrHistogram) -> Counts:
    """A copy of ``h``'s counts array as int64 (index = hdrh counts index)."""
    return np.ctypeslib.as_array(h.counts)[: h.counts_len].astype(np.int64)


@lru_cache(maxsize=8)
def _values_us(lay: Layout) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    h = HdrHistogram(*lay)
    i = np.arange(h.counts_len, dtype=np.int64)
    half_mag = h.sub_bucket_half_count_magnitude
    half = h.sub_bucket_half_count
    bucket = (i >> half_mag) - 1
    sub = (i & (half - 1)) + half
    first = bucket < 0
    sub = np.where(first, sub - half, sub)
    bucket = np.where(first, 0, bucket)
    lowest = sub << (bucket + h.unit_magnitude)
    size = np.left_shift(np.int64(1), bucket + h.unit_magnitude)
    lowest.setflags(write=False)
    highest = lowest + size - 1
    highest.setflags(write=False)
    return lowest, highest


def bucket_lowest_us(lay: Layout) -> NDArray[np.int64]:
    """Lowest value (µs) each counts index stands for."""
    return _values_us(lay)[0]


def bucket_highest_us(lay: Layout) -> NDArray[np.int64]:
    """Highest value (µs) each counts index stands for: what hdrh reports for a percentile."""
    return _values_us(lay)[1]


def percentiles_us(
    c: Counts | NDArray[np.float64], lay: Layout, percentiles: Sequence[float] = PERCENTILES
) -> NDArray[np.float64]:
    """Percentile values (µs) of one counts vector ``(n,)`` or of each row of ``(k, n)``.

    Result shape: ``(len(percentiles),)`` or ``(k, len(percentiles))``; NaN where a
    histogram is empty. Matches ``HdrHistogram.get_value_at_percentile`` exactly.
    """
    arr = np.asarray(c)
    n = arr.shape[-1]
    used = np.flatnonzero(arr.reshape(-1, n).any(axis=0))  # empty buckets hold no percentile
    return percentiles_of_buckets(
        arr[..., used],
        bucket_lowest_us(lay)[:n][used],
        bucket_highest_us(lay)[:n][used],
        percentiles,
    )


def percentiles_of_buckets(
    c: NDArray[Any],
    lowest_us: NDArray[np.int64],
    highest_us: NDArray[np.int64],
    percentiles: Sequence[float],
) -> NDArray[np.float64]:
    """Like :func:`percentiles_us` for counts over a subset of buckets whose lowest and
    highest values are given (empty buckets may be left out: they never hold a percentile)."""
    arr = np.asarray(c)
    one = arr.ndim == 1
    rows = arr.reshape(1, -1) if one else arr
    out = percentiles_of_cumulative(
        np.cumsum(rows, axis=1, dtype=np.float64), lowest_us, highest_us, percentiles
    )
    return out[0] if one else out


def percentiles_of_cumulative(
    cum: NDArray[np.float64],
    lowest_us: NDArray[np.int64],
    highest_us: NDArray[np.int64],
    percentiles: Sequence[float],
) -> NDArray[np.float64]:
    """Percentiles (µs) of each row of cumulative counts ``(k, n)``: ``(k, len(percentiles))``.

    Taking cumulative counts lets the bootstrap resample with one matrix product, since
    the cumulative sum of a weighted sum of histograms is the weighted sum of theirs.
    """
    k, n = cum.shape
    out = np.full((k, len(percentiles)), np.nan)
    if n == 0:
        return out
    total = cum[:, -1]
    # Rows are non-decreasing; shifting row r by r * (max total + 1) makes the whole
    # matrix one sorted vector, so one searchsorted call serves every row (exact:
    # counts stay far below 2**53).
    step = float(total.max(initial=0.0)) + 1.0
    shift = np.arange(k, dtype=np.float64) * step
    flat = (cum + shift[:, None]).ravel()
    row_start = np.arange(k) * n
    for j, q in enumerate(percentiles):
        q_eff = min(q, 100.0)
        target = np.maximum(np.floor(q_eff * total / 100 + 0.5), 1.0)
        idx = np.clip(np.searchsorted(flat, target + shift, side="left") - row_start, 0, n - 1)
        values = (highest_us if q > 0 else lowest_us)[idx].astype(np.float64)
        out[:, j] = np.where(total > 0, values, np.nan)
    return out


def mean_us(c: Counts, lay: Layout) -> float:
    """Mean (µs) using each bucket's middle value, as ``HdrHistogram.get_mean_value``."""
    total = c.sum()
    if total == 0:
        return float("nan")
    lo = bucket_lowest_us(lay)[: c.size]
    mid = lo + (bucket_highest_us(lay)[: c.size] - lo + 1) // 2
    return float((c * mid).sum() / total)


def from_counts(c: NDArray[np.int64], lay: Layout) -> HdrHistogram:
    """A histogram of layout ``lay`` holding the counts ``c`` (e.g. a sum of intervals):
    the same as adding the histograms those counts came from."""
    h = HdrHistogram(*lay)
    np.ctypeslib.as_array(h.counts)[: c.size] = c
    nonzero = np.flatnonzero(c)
    if nonzero.size:
        h.set_internal_tacking_values(int(nonzero[0]), int(nonzero[-1]), int(c.sum()))
    return h


def pool(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    """All ``histograms`` merged into a new one with ``HdrHistogram.add`` (lossless)."""
    total = hlog.new_histogram()
    for h in histograms:
        if layout(h) != layout(total):
            raise ResultsError(
                f"a histogram has range/precision {layout(h)}; meshbench writes {layout(total)}",
                fix="re-record the run with this meshbench version",
            )
        total.add(h)
    return total


def stack(histograms: Sequence[HdrHistogram]) -> tuple[NDArray[np.int64], Layout]:
    """The counts of ``histograms`` as rows of one ``(k, n)`` matrix, and their layout."""
    if not histograms:
        empty = hlog.new_histogram()
        return np.zeros((0, empty.counts_len), dtype=np.int64), layout(empty)
    lay = layout(histograms[0])
    for h in histograms:
        if layout(h) != lay:
            raise ResultsError(f"histograms of different layouts {layout(h)} and {lay}")
    return np.stack([counts(h) for h in histograms]), lay


def nines_grid(total_count: int, points: int = 200) -> NDArray[np.float64]:
    """Percentiles from 0 to the highest one ``total_count`` samples can support,
    spaced evenly on a "nines" axis (-log10(1 - q/100))."""
    top = max(np.log10(max(total_count, 10)), 1.0)
    x = np.linspace(0.0, top, points)
    return np.asarray(100.0 * (1.0 - 10.0 ** (-x)), dtype=np.float64)
