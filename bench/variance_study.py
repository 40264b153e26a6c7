"""Where the variance of the sidecar overhead lives on this machine: a study you can rerun.

    .venv/bin/python bench/variance_study.py [--runs 3] [--gap 60] [--scenario FILE]
    .venv/bin/python bench/variance_study.py --analyse RUN_DIR [RUN_DIR ...]

Runs the scenario (default ``scenarios/variance.yaml``) ``--runs`` times as separate
processes, ``--gap`` seconds apart (each run deploys every arm afresh ``deployments``
times), then decomposes the overhead
contrast ``mesh - none`` (per-trial p50 and p99, in ms and in % of none) into nested
components, Kalibera & Jones style:

- within trial: sampling noise of one trial's percentile (from its two halves);
- trial: what is left of a repeat's contrast once within-trial noise is taken out;
- deployment: extra spread between fresh deployments of the same run;
- run: extra spread between runs (separate processes, minutes apart).

The repeat-level drift shared by all arms is printed too (it cancels in every
contrast). Components are method-of-moments estimates from a balanced nested design,
truncated at 0; with few runs the run component is rough. Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from meshbench.analysis import BASELINE, blocks, cell_matrix, load_run
from meshbench.analysis import histograms as hist
from meshbench.analysis.variance import nested, within_trial_var_us2

PERCENTILES = (50.0, 99.0)


def run_once(scenario: Path, results: Path) -> Path:
    out = subprocess.run(
        [sys.executable, "-m", "meshbench.cli", "run", str(scenario), "--results", str(results)],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def analyse(run_dirs: list[Path]) -> None:
    runs = [load_run(p) for p in run_dirs]
    meshes = [m for m in runs[0].meshes if m != BASELINE]
    cell = runs[0].cells[0]
    print(
        f"\n== variance study: {len(runs)} run(s): {', '.join(r.run_id for r in runs)}; "
        f"{cell.title(runs[0].swept)} =="
    )
    for q in PERCENTILES:
        for mesh in meshes:
            for scale in ("ms", "%"):
                contrasts, within, drift, trial_res = [], [], [], []
                for run in runs:
                    m = cell_matrix(run, cell, [q])
                    y = m.values_us[:, :, 0]
                    if scale == "%":
                        y = np.log(y) * 100  # log-ratio contrasts, ~% for small effects
                    i, b = m.arms.index(mesh), m.arms.index(BASELINE)
                    deps = sorted(set(m.deployments))
                    per_dep = [
                        y[i, np.array(m.deployments) == g] - y[b, np.array(m.deployments) == g]
                        for g in deps
                    ]
                    contrasts.append(np.array(per_dep))
                    fit = blocks.two_way(y)
                    if fit is not None:
                        drift.append(fit.drift_var)
                        trial_res.append(fit.residual_var)
                    if scale == "ms":
                        ids = run.trials[
                            cell.matches(run.trials)
                            & run.trials["included"]
                            & run.trials["mesh"].isin([mesh, BASELINE])
                        ]["trial_id"]
                        within += [within_trial_var_us2(run, str(t), q) for t in ids]
                d = np.array(contrasts)
                unit = 1000.0 if scale == "ms" else 1.0
                rep, dep, run_var = nested(d / unit)
                w = 2 * float(np.nanmean(within)) / unit**2 if within else math.nan
                trial = max(0.0, rep - w) if math.isfinite(w) else rep
                mean = float(d.mean()) / unit

                def sd(v: float) -> str:
                    return f"{math.sqrt(v):8.3f}" if math.isfinite(v) else f"{'-':>8}"

                print(
                    f"{hist.label(q):>5} {mesh:<11} {scale:>2}: mean contrast {mean:+8.3f}"
                    f" | sd of one repeat's contrast: within-trial {sd(w)}, trial {sd(trial)}"
                    f" | deployment {sd(dep)} | run {sd(run_var)}"
                    f" | repeat drift (cancels) {sd(float(np.mean(drift)) / unit**2)}"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gap", type=float, default=60.0, help="seconds between runs")
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/variance.yaml"))
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--analyse", type=Path, nargs="+", help="analyse these runs, run none")
    args = ap.parse_args()
    run_dirs = list(args.analyse or [])
    for k in range(0 if args.analyse else args.runs):
        if k:
            time.sleep(args.gap)
        print(f"run {k + 1}/{args.runs}: meshbench run {args.scenario}", flush=True)
        run_dirs.append(run_once(args.scenario, args.results))
    analyse(run_dirs)
    print(f"\ncommand: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
