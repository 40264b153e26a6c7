from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from meshbench.load.recorder import Recorder
from meshbench.load.schedule import send_offsets
from meshbench.results import hlog


def test_constant_schedule_and_worker_shares_partition_it() -> None:
    whole = list(send_offsets(100, 2.0))
    assert len(whole) == 200
    assert whole[:3] == pytest.approx([0.0, 0.01, 0.02])
    shares = [list(send_offsets(100, 2.0, worker_index=i, worker_count=3)) for i in range(3)]
    assert sorted(x for s in shares for x in s) == pytest.approx(whole)


def test_poisson_schedule_is_seeded_and_near_the_rate() -> None:
    a = list(send_offsets(1000, 10.0, "poisson", seed=4))
    assert a == list(send_offsets(1000, 10.0, "poisson", seed=4))
    assert 9_500 < len(a) < 10_500
    assert all(y > x for x, y in itertools.pairwise(a))


def test_schedule_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        list(send_offsets(0, 1))
    with pytest.raises(ValueError):
        list(send_offsets(1, 1, "bursty"))
    with pytest.raises(ValueError):
        list(send_offsets(1, 1, worker_index=2, worker_count=2))


def test_recorder_separates_warmup_and_measures_from_intended_time(tmp_path: Path) -> None:
    r = Recorder(start_s=100.0, warmup_s=1.0)
    r.record(100.5, 100.5, 100.501)  # warm-up: 1 ms
    # measured: due at 101.2, sent 20 ms late, answered 2 ms after sending
    r.record(101.2, 101.22, 101.222)
    r.record(102.7, 102.7, 102.703)
    measured, warm = r.totals(), r.totals(warmup=True)
    assert warm["latency"].get_total_count() == 1
    assert measured["latency"].get_total_count() == 2
    assert measured["latency"].get_max_value() == pytest.approx(22_000, rel=0.01)
    assert measured["service"].get_max_value() == pytest.approx(3_000, rel=0.01)
    assert measured["send_lag"].get_max_value() == pytest.approx(20_000, rel=0.01)
    path = tmp_path / "l.hlog"
    r.write_log(path, epoch_start_s=1_800_000_000.0)
    intervals = list(hlog.iter_log(path))
    starts = [iv.start_s for iv in intervals if iv.tag == "latency"]
    assert starts == [1.0, 2.0]  # seconds since the log's start: after the 1 s warm-up
    assert [iv.tag for iv in intervals[:3]] == [
        "warmup.latency",
        "warmup.service",
        "warmup.send_lag",
    ]
