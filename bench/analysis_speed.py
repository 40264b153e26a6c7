"""How long the analysis takes on a big run: 10 million samples across 100 trials.

    .venv/bin/python bench/analysis_speed.py [--keep DIR]

Writes a synthetic run (4 arms incl. the A/A control x 5 rates x 5 repeats, 60 one-second
intervals of ~1 667 samples each plus 5 warm-up intervals per trial), then times each
stage: loading, tables (pooling, within-repeat overhead with intervals, diagnostics, SLO), plots
(PNG + SVG) and the report files. Target: load + tables + plots + report under 10 s. Not a
pass/fail test: it prints the figures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from meshbench.analysis import analyse, load_run
from meshbench.config.scenario import parse_scenario
from meshbench.report.write import write_plots, write_report
from meshbench.testing.synthetic import lognormal_sampler, write_synthetic_run

TRIALS = 100
SAMPLES = 10_000_000
INTERVALS = 60


def make_run(run_dir: Path) -> None:
    sc = parse_scenario(
        {
            "name": "bench",
            "meshes": ["none", "envoy", "envoy-mtls"],
            "aa_control": True,
            "repeats": 5,
            "load": {"rates_rps": [500, 1000, 1500, 2000, 2500], "duration_s": 60, "warmup_s": 5},
        }
    ).model_dump(mode="json")
    sc["slo"] = {"percentile": 99, "budget_ms": 5}
    per_interval = SAMPLES // TRIALS // INTERVALS
    sampler = lognormal_sampler(
        {"none": 0, "none-aa": 0, "envoy": 800, "envoy-mtls": 1000},
        rate_factor=lambda r: 1 + r / 5000,
    )
    write_synthetic_run(
        run_dir,
        sc,
        sampler,
        measured_intervals=INTERVALS,
        warmup_intervals=5,
        samples_per_interval=lambda _t: per_interval,
        resources=lambda t: {
            "generator_cpu": 0.1 + t.rate_rps / 5000,
            "service_cpu": 0.2 + t.rate_rps / 3000,
            "sidecar_cpu": 0.0 if t.mesh.startswith("none") else t.rate_rps / 2000,
            "service_rss_mib": 110.0,
            "sidecar_rss_mib": 0.0 if t.mesh.startswith("none") else 75.0,
        },
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", type=Path, help="write the run here and keep it")
    args = p.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="meshbench-bench-"))
    run_dir = base / "bench-run"
    try:
        t = time.perf_counter()
        make_run(run_dir)
        print(f"generate  {time.perf_counter() - t:6.2f} s  (not counted)")
        marks = {}
        t0 = time.perf_counter()
        run = load_run(run_dir)
        marks["load"] = time.perf_counter()
        an = analyse(run)
        marks["tables"] = time.perf_counter()
        written = write_plots(an, run_dir / "plots")
        marks["plots"] = time.perf_counter()
        write_report(an, run_dir, written)
        marks["report"] = time.perf_counter()
        samples = int(an.counts["requests"].sum())
        print(
            f"{len(run.trials)} trials, {samples:,} measured samples, "
            f"{len(run.intervals):,} interval rows, {len(an.overhead)} overhead rows"
        )
        prev = t0
        for stage, at in marks.items():
            print(f"{stage:8s}  {at - prev:6.2f} s")
            prev = at
        total = marks["report"] - t0
        print(f"total     {total:6.2f} s  (target < 10 s)")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
