"""The trial record owns a trials.csv row: its columns (the sweep's from the dimension
model), their types, their text, and reading a stored row back exactly."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from meshbench.config.dimensions import DIMENSIONS, DIMS
from meshbench.results.trial_record import (
    COLUMN_TYPES,
    TRIAL_COLUMNS,
    FieldError,
    TrialRecord,
)

DATA = Path(__file__).resolve().parents[2] / "data"
STORED = sorted(DATA.glob("**/trials.csv"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_columns_are_the_fields_and_the_dimensions_in_schema_1_order() -> None:
    assert set(TRIAL_COLUMNS) == {*COLUMN_TYPES, *DIMS} and len(TRIAL_COLUMNS) == len(
        set(TRIAL_COLUMNS)
    )
    assert TRIAL_COLUMNS[:4] == ("trial_id", "order", "mesh", DIMS[0])
    assert TRIAL_COLUMNS[4:6] == ("repeat", "deployment")
    assert TRIAL_COLUMNS[6 : 6 + len(DIMS) - 1] == DIMS[1:]
    assert TRIAL_COLUMNS[-3:] == ("host_flag", "started_utc", "histogram")
    for path in STORED:  # older runs lack some columns; those they have keep their order
        header = list(_rows(path)[0])
        assert [c for c in TRIAL_COLUMNS if c in header] == header, path


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.parent.name)
def test_every_stored_row_reads_back_to_the_same_text(path: Path) -> None:
    """A resumed run rewrites its stored rows: they must not change on the way."""
    for row in _rows(path):
        record = TrialRecord.from_row(row)
        assert record.to_row() == {c: row.get(c) or "" for c in TRIAL_COLUMNS}
        assert record.valid is (row["valid"] == "true")
        assert isinstance(record.p50_ms, float) and isinstance(record.requests, int)


def test_a_planned_sweep_is_written_and_read_back_as_planned() -> None:
    sweep = {"rate_rps": 150.0, "connections": 8, "payload_bytes": None, "depth": 3, "mtls": True}
    record = TrialRecord(
        trial_id="t001-istio-150rps-d3-mtls-r1",
        order=1,
        mesh="istio",
        repeat=1,
        deployment=2,
        sweep=sweep,
        valid=False,
        invalid_reason="errors",
        p99_ms=0.000123,
        host_cpu_mhz=2400,
    )
    row = record.to_row()
    assert (row["rate_rps"], row["payload_bytes"], row["depth"], row["mtls"]) == (
        "150",
        "",
        "3",
        "true",
    )
    assert row["p99_ms"] == "1.230000e-04" and row["host_cpu_mhz"] == "2400"
    back = TrialRecord.from_row(row)
    assert back == record and {k: back.sweep[k] for k in sweep} == sweep
    defaults = {d.name: d.default({}) for d in DIMENSIONS} | {"payload_bytes": 1024}
    stored = back.stored_sweep(defaults)
    assert {k: stored[k] for k in sweep} == {
        "rate_rps": 150.0,
        "connections": 8,
        "payload_bytes": 1024,
        "depth": 3,
        "mtls": "on",
    }


def test_an_unswept_setting_is_empty_and_reads_as_the_scenario_default() -> None:
    record = TrialRecord(trial_id="t1", valid=True, sweep={"rate_rps": 100.0})
    assert all(record.to_row()[d] == "" for d in DIMS[1:])
    defaults = {d.name: f"default {d.name}" for d in DIMENSIONS}
    stored = TrialRecord.from_row(record.to_row()).stored_sweep(defaults)
    assert stored == {d.name: d.from_stored("", defaults[d.name]) for d in DIMENSIONS} | {
        "rate_rps": 100.0
    }
    assert stored["depth"] == "default depth" and stored["mtls"] == "default"


def test_a_sweep_outside_the_dimension_model_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown sweep dimensions: \['protocol_x'\]"):
        TrialRecord(trial_id="t1", valid=True, sweep={"protocol_x": "h2"})


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("p50_ms", "fast", "p50_ms is 'fast', not a number"),
        ("repeat", "1.5", "repeat is '1.5', not a whole number"),
        ("requests", "²", "requests is '²', not a whole number"),
        ("depth", "deep", "depth is 'deep', not a whole number"),
        ("rate_rps", "lots", "rate_rps is 'lots', not a number"),
        ("valid", "yes", "valid is 'yes', not true or false"),
    ],
)
def test_a_field_its_column_cannot_hold_is_named(column: str, value: str, message: str) -> None:
    row = {**TrialRecord(trial_id="t1", valid=True).to_row(), column: value}
    with pytest.raises(FieldError, match=message) as err:
        TrialRecord.from_row(row)
    assert (err.value.column, err.value.value) == (column, value)


def test_empty_fields_and_missing_columns_read_as_not_measured() -> None:
    record = TrialRecord.from_row({"trial_id": "t1", "valid": "TRUE", "p50_ms": " "})
    assert record.valid and record.p50_ms is None and record.deployment is None
    assert record.host_flag == "" and set(record.sweep) == set(DIMS)
