"""meshbench report: the terminal tables, report.html, summary.md and the plots."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from meshbench.analysis.plots import PLOTS
from meshbench.cli import main
from meshbench.report import report_run
from meshbench.testing.synthetic import small_run as synthetic

from .conftest import SampleReport

ONLY_WHEN_MEASURED = {"where_overhead_goes"}
"""Plots drawn only when the run measured what they show (attribution mode's captures)."""
ALWAYS_PLOTTED = [
    p for p in PLOTS if not p.startswith("overhead_vs_") and p not in ONLY_WHEN_MEASURED
]


def test_terminal_tables(sample_report: SampleReport) -> None:
    out = sample_report.output
    assert "100 rps: latency in ms (pooled over valid trials)" in out
    assert "200 rps: overhead against none" in out
    header = next(line for line in out.splitlines() if "requests" in line and "p99.9" in line)
    assert header.split() == [
        "mesh",
        "valid",
        "invalid",
        "requests",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
    ]
    assert re.search(r"envoy-mtls\s+2\s+1\s", out)  # 2 valid, 1 invalid at 200 rps
    assert "warning: 1 invalid trial(s) excluded: t016-envoy-mtls-200rps-r3" in out
    overhead_rows = [ln for ln in out.splitlines() if re.match(r"\s+envoy\s+p50\s", ln)]
    assert len(overhead_rows) == 2 and all("slower" in ln for ln in overhead_rows)
    assert "Latency budget: p99 <= 3.500 ms" in out
    for name in ("report.html", "summary.md", "plots"):
        assert f"wrote {sample_report.run_dir / name}" in out


def test_report_html_is_self_contained(sample_report: SampleReport) -> None:
    page = (sample_report.run_dir / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith("data:") for r in refs), refs[:5]
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == len(ALWAYS_PLOTTED)
    for text in (
        "Verdict",
        "Validity warnings",
        "Setup and environment",
        "MDE ms",
        "is slower: it adds +",
        "% of the 3.500 ms budget",
        "Design diagnostics (where the noise was)",
        "Holm-adjusted",
    ):
        assert text in page


def test_summary_md_and_plots(sample_report: SampleReport) -> None:
    md = (sample_report.run_dir / "summary.md").read_text()
    assert md.startswith("# meshbench report: sample-run")
    for heading in (
        "## Verdict",
        "## Validity warnings",
        "## Setup and environment",
        "## 100 rps",
        "## Plots",
    ):
        assert heading in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(links) == sorted(f"plots/{p}.png" for p in ALWAYS_PLOTTED)
    for name in ALWAYS_PLOTTED:
        png = sample_report.run_dir / "plots" / f"{name}.png"
        svg = sample_report.run_dir / "plots" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert "<svg" in svg.read_text()[:2000]
    assert not (sample_report.run_dir / "plots" / "overhead_vs_depth.png").exists()


def test_report_without_baseline_says_so(tmp_path: Path) -> None:
    run_dir = synthetic(tmp_path / "nobase", ["envoy", "envoy-mtls"])
    buf = StringIO()
    an = report_run(run_dir, console=Console(file=buf, width=160))
    out = buf.getvalue()
    assert "note: this run has no 'none' mesh" in out
    assert "overhead against none" not in out
    assert "latency in ms" in out and an.overhead.empty
    assert "No verdict on overhead" in (run_dir / "report.html").read_text()


def test_report_of_a_run_with_no_trials(tmp_path: Path) -> None:
    run_dir = synthetic(tmp_path / "empty", ["none", "envoy"])
    (run_dir / "trials.csv").unlink()
    run_json = run_dir / "run.json"  # a run that has just started
    run_json.write_text(run_json.read_text().replace('"status": "complete"', '"status": "running"'))
    buf = StringIO()
    report_run(run_dir, console=Console(file=buf, width=160))
    assert "warning: no trial has finished yet" in buf.getvalue()
    assert (run_dir / "report.html").exists()


def test_cli_report_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = synthetic(tmp_path / "a", ["none", "envoy"])
    b = synthetic(tmp_path / "b", ["none", "envoy"])
    assert main(["report", str(a)]) == 0
    assert "overhead against none" in capsys.readouterr().out
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "B - A" in out and (tmp_path / "cmp" / "compare.html").exists()
    assert (tmp_path / "cmp" / "plots" / "compare_diff.svg").exists()
    other = tmp_path / "other"
    synthetic(other, ["none", "envoy-mtls"], repeats=2)
    sc_path = other / "run.json"
    sc_path.write_text(sc_path.read_text().replace('"name": "local"', '"name": "kind"'))
    assert main(["compare", str(a), str(other)]) == 2
    err = capsys.readouterr().err
    assert "platform: 'local' vs 'kind'" in err and "--force" in err
    assert main(["compare", str(a), str(other), "--force", "--out", str(tmp_path / "f")]) == 0


def test_report_of_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a meshbench run directory" in capsys.readouterr().err


def test_report_names_each_meshs_resilience_policies(tmp_path: Path) -> None:
    """A retry turns an error into latency: the report says which mesh had which policy
    (kind records them in run.json; a run without them shows no such line)."""
    import json

    run_dir = synthetic(tmp_path / "kind", ["none", "envoy"])
    report_run(run_dir, console=Console(file=StringIO(), width=160))
    assert "resilience policies" not in (run_dir / "summary.md").read_text()

    meta = json.loads((run_dir / "run.json").read_text())
    meta["platform"]["resilience_policies"] = {
        "none": "no mesh: no retries, timeouts or circuit breakers",
        "kuma": "kuma: default MeshRetry (5 HTTP retries) not created",
    }
    (run_dir / "run.json").write_text(json.dumps(meta))
    report_run(run_dir, console=Console(file=StringIO(), width=160))
    line = (
        "no mesh: no retries, timeouts or circuit breakers; "
        "kuma: default MeshRetry (5 HTTP retries) not created"
    )
    assert "resilience policies" in (run_dir / "summary.md").read_text()
    assert line in (run_dir / "summary.md").read_text()
    assert line in (run_dir / "report.html").read_text()


def test_report_says_how_far_the_cpu_figures_go_where_the_platform_recorded_it(
    tmp_path: Path,
) -> None:
    """Kind's CPU comes from whole-second kubelet stamps: the report states the bound
    (run.json platform ``cpu_timing``); a run without it shows no such line."""
    import json

    run_dir = synthetic(tmp_path / "kind", ["none", "envoy"])
    report_run(run_dir, console=Console(file=StringIO(), width=160))
    assert "CPU figures" not in (run_dir / "summary.md").read_text()

    meta = json.loads((run_dir / "run.json").read_text())
    statement = "kubelet summary, stamped to the whole second: at most ±3.7 % at 60 s measured"
    meta["platform"]["cpu_timing"] = statement
    (run_dir / "run.json").write_text(json.dumps(meta))
    report_run(run_dir, console=Console(file=StringIO(), width=160))
    assert "CPU figures" in (run_dir / "summary.md").read_text()
    assert statement in (run_dir / "summary.md").read_text()
    assert statement in (run_dir / "report.html").read_text()
