"""A real smoke run (local platform, Envoy sidecars) stored under tests/data/smoke-run:
the analysis and the report must read what the harness really writes, not only
synthetic data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshbench.analysis import analyse, load_run
from meshbench.report import report_run
from meshbench.testing.frames import value

SMOKE = Path(__file__).resolve().parents[2] / "data" / "smoke-run"


def test_real_run_loads_with_every_trial() -> None:
    run = load_run(SMOKE)
    assert run.status == "complete" and run.platform == "local"
    assert run.meshes == ["none", "envoy", "envoy-mtls"]
    a = analyse(run)
    p50 = a.cells[(a.cells["tag"] == "latency") & (a.cells["label"] == "p50")].set_index("mesh")
    assert set(p50["trials_valid"]) == {2}
    assert set(p50["requests"]) == {1200}
    # three sidecar hops (six Envoy traversals) cost something at the median in this run
    assert value(p50, "envoy", "value_ms") > value(p50, "none", "value_ms")
    assert value(p50, "envoy-mtls", "value_ms") > value(p50, "none", "value_ms")


def test_report_of_a_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "smoke-run"
    shutil.copytree(SMOKE, run_dir)
    report_run(run_dir)
    out = capsys.readouterr().out
    assert "overhead against none" in out
    assert (run_dir / "report.html").stat().st_size > 10_000
    assert (run_dir / "summary.md").read_text().startswith("# meshbench report:")
