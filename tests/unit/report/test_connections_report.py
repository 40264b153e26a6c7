"""Connections and TLS handshakes per request, and time to first byte, read back from a
stored run's trial files and shown in the report only where they say something."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from meshbench.analysis.connections import COLUMNS, connection_frame, first_byte_frame
from meshbench.analysis.stored_run import load_run
from meshbench.analysis.summary import analyse
from meshbench.config.scenario import parse_scenario
from meshbench.report import workload_tables
from meshbench.results import hlog
from meshbench.testing.frames import cells
from meshbench.testing.synthetic import histogram_from_us, lognormal_sampler, write_synthetic_run


def stored(run_dir: Path, churn: int) -> Path:
    sc: dict[str, Any] = parse_scenario(
        {
            "name": "t",
            "meshes": ["none", "envoy-mtls"],
            "repeats": 2,
            "topology": {"requests_per_connection": churn, "services": [{"name": "frontend"}]},
            "load": {"rates_rps": [100], "duration_s": 2, "warmup_s": 1},
        }
    ).model_dump(mode="json")
    run_dir.mkdir(parents=True)
    write_synthetic_run(
        run_dir,
        sc,
        lognormal_sampler({"none": 0.0, "envoy-mtls": 0.0}),
        measured_intervals=2,
        warmup_intervals=1,
        samples_per_interval=lambda _t: 100,
    )
    return run_dir


def add_trial_files(run_dir: Path) -> None:
    """Each trial sent 300 requests over 30 connections; the mTLS sidecar accepted 15
    handshakes (the cluster side's count must not be added to it)."""
    for d in (run_dir / "trials").iterdir():
        (d / "summary.json").write_text(json.dumps({"extra": {"connections_opened": 30}}))
        if "envoy-mtls" in d.name:
            before = {
                "frontend": {
                    "listener.0.0.0.0_15006.ssl.handshake": 5,
                    "cluster.outbound_passthrough.ssl.handshake": 7,
                }
            }
            after = {
                "frontend": {
                    "listener.0.0.0.0_15006.ssl.handshake": 20,
                    "cluster.outbound_passthrough.ssl.handshake": 22,
                }
            }
            (d / "sidecar_stats.json").write_text(json.dumps({"before": before, "after": after}))


def test_connections_and_handshakes_per_request(tmp_path: Path) -> None:
    run_dir = stored(tmp_path / "run", churn=10)
    (run_dir / "trials").mkdir(exist_ok=True)
    for t in load_run(run_dir).trials["trial_id"]:
        (run_dir / "trials" / t).mkdir(parents=True, exist_ok=True)
    add_trial_files(run_dir)
    run = load_run(run_dir)
    f = connection_frame(run).set_index("mesh")
    assert cells(f, "none", COLUMNS[0]).tolist() == [0.1, 0.1]  # 30 / (200 + 100)
    assert cells(f, "envoy-mtls", COLUMNS[1]).tolist() == [0.05, 0.05]  # 15 / 300
    assert np.isnan(cells(f, "none", COLUMNS[1])).all()  # no sidecars: no figure, not 0
    table = workload_tables.connection_table(analyse(run))
    assert table is not None
    assert table.rows[0][2:] == ["0.100", "-"] or table.rows[1][2:] == ["0.100", "-"]
    assert ["0.100", "0.050"] in [r[2:] for r in table.rows]


def test_no_connection_table_without_churn_or_tls(tmp_path: Path) -> None:
    run_dir = stored(tmp_path / "run", churn=0)
    assert workload_tables.connection_table(analyse(load_run(run_dir))) is None


def test_first_byte_only_where_responses_were_streamed(tmp_path: Path) -> None:
    run_dir = stored(tmp_path / "run", churn=0)
    run = load_run(run_dir)
    assert first_byte_frame(run).empty
    assert workload_tables.first_byte_table(analyse(run)) is None
    for rel in run.trials["histogram"]:  # first bytes at 1 ms, appended to every log
        t0 = hlog.start_time(run_dir / rel) or 0.0
        with (run_dir / rel).open("a") as out:
            w = hlog.LogWriter(out, t0)
            w.write("ttfb", t0 + 1, t0 + 2, histogram_from_us(np.full(100, 1000.0)))
    run = load_run(run_dir)
    f = first_byte_frame(run)
    assert sorted(f["mesh"]) == ["envoy-mtls", "none"]
    table = workload_tables.first_byte_table(analyse(run))
    assert table is not None and table.columns[2] == "first byte p50"
    assert all(float(r[2]) == pytest.approx(1.0, rel=0.01) for r in table.rows)
