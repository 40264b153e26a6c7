from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from meshbench.errors import ResultsError
from meshbench.results import hlog
from meshbench.results.store import (
    SCHEMA_VERSION,
    new_run_dir,
    read_run_json,
    read_trial_rows,
    read_trials,
    write_json,
    write_trials,
)
from meshbench.results.trial_record import TRIAL_COLUMNS, TrialRecord


def test_run_dirs_are_never_reused(tmp_path: Path) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    a = new_run_dir(tmp_path, "demo", now)
    b = new_run_dir(tmp_path, "demo", now)
    assert a.name == "20260102T030405Z-demo"
    assert b.name == "20260102T030405Z-demo-2"
    assert (a / "histograms").is_dir() and (a / "trials").is_dir()


def test_trials_round_trip_and_unknown_dimensions(tmp_path: Path) -> None:
    write_trials(tmp_path, [TrialRecord(trial_id="t1", valid=True, p50_ms=1.25, errors=0)])
    rows = read_trial_rows(tmp_path)
    assert list(rows[0]) == list(TRIAL_COLUMNS)
    assert rows[0]["valid"] == "true" and rows[0]["p50_ms"] == "1.25" and rows[0]["mesh"] == ""
    assert read_trials(tmp_path) == [TrialRecord(trial_id="t1", valid=True, p50_ms=1.25, errors=0)]
    with pytest.raises(ValueError, match="unknown sweep dimensions"):
        write_trials(tmp_path, [TrialRecord(trial_id="t1", valid=True, sweep={"bogus": 1})])
    assert read_trial_rows(tmp_path)[0]["trial_id"] == "t1"  # the failed write changed nothing
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]  # no temp file left


def test_run_json_versions(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a meshbench run directory"):
        read_run_json(tmp_path)
    write_json(tmp_path / "run.json", {"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(ResultsError, match=f"schema version {SCHEMA_VERSION + 1}"):
        read_run_json(tmp_path)
    write_json(tmp_path / "run.json", {"schema_version": SCHEMA_VERSION, "x": 1})
    assert read_run_json(tmp_path)["x"] == 1
    assert json.loads((tmp_path / "run.json").read_text())["x"] == 1


def test_record_clamps_instead_of_dropping() -> None:
    h = hlog.new_histogram()
    hlog.record_us(h, 0.2)
    hlog.record_us(h, 10**12)
    assert h.get_total_count() == 2
    assert h.get_min_value() == 1
    assert h.get_max_value() >= hlog.HIGHEST_US


def test_log_round_trip_with_tags_and_exact_merge(tmp_path: Path) -> None:
    rng = random.Random(5)
    values = [rng.randint(50, 500_000) for _ in range(20_000)]
    one = hlog.new_histogram()
    for v in values:
        hlog.record_us(one, v)
    path = tmp_path / "x.hlog"
    with path.open("w") as f:
        w = hlog.LogWriter(f, 1_700_000_000.0, "test")
        for i in range(4):  # four "workers", each a quarter of the samples
            part = hlog.new_histogram()
            for v in values[i::4]:
                hlog.record_us(part, v)
            w.write("latency", 1_700_000_000.0 + i, 1_700_000_001.0 + i, part)
            w.write(
                "warmup.latency", 1_700_000_000.0 + i, 1_700_000_001.0 + i, hlog.new_histogram()
            )
    merged = hlog.read_log(path, "latency")
    assert merged.get_total_count() == one.get_total_count() == len(values)
    for p in (50, 90, 99, 99.9, 100):
        assert merged.get_value_at_percentile(p) == one.get_value_at_percentile(p)
    assert hlog.read_log(path, "warmup.latency").get_total_count() == 0
    assert hlog.start_time(path) == pytest.approx(1_700_000_000.0)
    tags = [iv.tag for iv in hlog.iter_log(path)]
    assert tags.count("latency") == 4 and tags.count("warmup.latency") == 4


def test_standard_hdrhistogram_reader_reads_our_logs(tmp_path: Path) -> None:
    """Exports: the interval logs are what HdrHistogram's own log reader understands."""
    from hdrh.log import HistogramLogReader

    h = hlog.new_histogram()
    for v in (100, 200, 300, 40_000):
        hlog.record_us(h, v)
    path = tmp_path / "std.hlog"
    with path.open("w") as f:
        w = hlog.LogWriter(f, 1_700_000_000.0)
        w.write("latency", 1_700_000_000.0, 1_700_000_001.0, h)
        w.write("service", 1_700_000_000.0, 1_700_000_001.0, h)
    reader = HistogramLogReader(str(path), hlog.new_histogram())
    first = reader.get_next_interval_histogram()
    second = reader.get_next_interval_histogram()
    assert reader.get_next_interval_histogram() is None
    assert first.get_total_count() == second.get_total_count() == 4
    assert first.get_tag() == "latency" and second.get_tag() == "service"
    assert first.get_max_value() == h.get_max_value()
    reader.close()


def test_run_dir_names_keep_the_scenario_name_and_replace_only_unsafe_characters(
    tmp_path: Path,
) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert new_run_dir(tmp_path, "Chain_v2.1-A", now).name == "20260102T030405Z-Chain_v2.1-A"
    assert new_run_dir(tmp_path, "a b/c:d", now).name == "20260102T030405Z-a_b_c_d"


def test_json_values_json_cannot_hold_are_written_as_text(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    write_json(tmp_path / "x.json", {"at": when, "dir": tmp_path})
    assert json.loads((tmp_path / "x.json").read_text()) == {
        "at": "2026-01-02 03:04:05+00:00",
        "dir": str(tmp_path),
    }
