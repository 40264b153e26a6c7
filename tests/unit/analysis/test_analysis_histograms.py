"""Percentiles from counts arrays agree with hdrh, and with known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from meshbench.analysis import histograms as hist
from meshbench.results import hlog
from meshbench.testing.synthetic import counts_index, histogram_from_us

PCTS = [0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0]


@pytest.fixture(scope="module")
def values_us() -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.concatenate([rng.lognormal(np.log(900), 0.6, 4000), [1, 2, 70_000_000]])


def recorded(values: np.ndarray) -> HdrHistogram:
    h = hlog.new_histogram()
    for v in values:
        hlog.record_us(h, float(v))
    return h


def test_counts_index_matches_record_value(values_us: np.ndarray) -> None:
    h = hlog.new_histogram()
    ints = np.clip(values_us.astype(np.int64), hlog.LOWEST_US, hlog.HIGHEST_US)
    expected = [h._counts_index_for(int(v)) for v in ints]
    assert counts_index(h, ints).tolist() == expected


def test_vectorised_histogram_equals_recording_one_by_one(values_us: np.ndarray) -> None:
    fast = histogram_from_us(values_us)
    slow = recorded(values_us)
    assert np.array_equal(hist.counts(fast), hist.counts(slow))
    assert fast.get_total_count() == slow.get_total_count()
    assert fast.get_max_value() == slow.get_max_value()
    assert fast.get_min_value() == slow.get_min_value()


def test_percentiles_equal_hdrh_exactly(values_us: np.ndarray) -> None:
    h = histogram_from_us(values_us)
    ours = hist.percentiles_us(hist.counts(h), hist.layout(h), PCTS)
    theirs = [h.get_value_at_percentile(q) for q in PCTS]
    assert ours.tolist() == [float(v) for v in theirs]
    assert ours[-1] == h.get_max_value()


def test_rows_are_independent(values_us: np.ndarray) -> None:
    a = histogram_from_us(values_us)
    b = histogram_from_us(values_us * 3)
    empty = hlog.new_histogram()
    mat, lay = hist.stack([a, b, empty])
    out = hist.percentiles_us(mat, lay, PCTS)
    assert out[0].tolist() == hist.percentiles_us(hist.counts(a), lay, PCTS).tolist()
    assert out[1].tolist() == hist.percentiles_us(hist.counts(b), lay, PCTS).tolist()
    assert np.isnan(out[2]).all()


def test_percentiles_of_a_known_uniform_distribution() -> None:
    h = histogram_from_us(np.arange(1, 100_001))  # every µs from 1 to 100 000 once
    got = hist.percentiles_ms(h, [50.0, 90.0, 99.0, 99.9, 100.0])
    for q, want_ms in [(50.0, 50.0), (90.0, 90.0), (99.0, 99.0), (99.9, 99.9), (100.0, 100.0)]:
        assert got[q] == pytest.approx(want_ms, rel=1e-3)  # 3 significant digits


def test_percentiles_of_an_exponential_sample() -> None:
    rng = np.random.default_rng(11)
    mean_us = 2000.0
    h = histogram_from_us(rng.exponential(mean_us, 400_000))
    got = hist.percentiles_ms(h, [50.0, 99.0])
    assert got[50.0] == pytest.approx(mean_us * math.log(2) / 1000, rel=0.01)
    assert got[99.0] == pytest.approx(mean_us * math.log(100) / 1000, rel=0.02)
    assert hist.mean_us(hist.counts(h), hist.layout(h)) == pytest.approx(h.get_mean_value())


def test_pooling_adds_counts_and_is_not_averaging() -> None:
    fast = np.full(9000, 1000.0)  # a fast trial: everything 1 ms
    slow = np.full(1000, 20_000.0)  # a slow trial: everything 20 ms
    pooled = hist.pool([histogram_from_us(fast), histogram_from_us(slow)])
    assert pooled.get_total_count() == 10_000
    p = hist.percentiles_ms(pooled, [50.0, 95.0])
    assert p[50.0] == pytest.approx(1.0, rel=1e-3)
    assert p[95.0] == pytest.approx(20.0, rel=1e-3)  # averaging per-trial p95s gives 10.5
    assert np.array_equal(hist.counts(pooled), hist.counts(histogram_from_us(np.r_[fast, slow])))


def test_labels() -> None:
    assert [hist.label(q) for q in hist.PERCENTILES] == ["p50", "p90", "p99", "p99.9", "max"]


def test_nines_grid_reaches_the_supported_tail() -> None:
    q = hist.nines_grid(10_000, points=50)
    assert q[0] == 0.0
    assert q[-1] == pytest.approx(99.99)
    assert np.all(np.diff(q) > 0)


def test_from_counts_equals_adding_histograms(values_us: np.ndarray) -> None:
    a, b = histogram_from_us(values_us[:1000]), histogram_from_us(values_us[1000:])
    added = hist.pool([a, b])
    rebuilt = hist.from_counts(hist.counts(a) + hist.counts(b), hist.layout(a))
    assert np.array_equal(hist.counts(rebuilt), hist.counts(added))
    assert rebuilt.get_total_count() == added.get_total_count()
    assert rebuilt.get_max_value() == added.get_max_value()
    assert rebuilt.get_value_at_percentile(99) == added.get_value_at_percentile(99)
    assert rebuilt.encode() == histogram_from_us(values_us).encode()
