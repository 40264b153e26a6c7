"""How often the verdict is wrong on real data: A/A false positives and power, from one run.

    .venv/bin/python bench/verdict_calibration.py RUN_DIR [--repeats 3 6 10]

RUN_DIR is a run with ``aa_control: true`` and many repeats (12 or more), e.g.
``meshbench run scenarios/calibration.yaml``. For every subset of R of its repeats (or
2,000 random subsets when there are more), the blocked contrast is recomputed as if
only those repeats had run:

- ``none-aa - none`` whose interval excludes 0: an A/A false positive (nominal 5 %);
- each mesh's contrast called slower, and its minimum detectable effect (80 % power).

Subsets share repeats, so these are estimates for this run's machine and load, not
independent trials. The variance components of the whole run (drift shared by a
repeat, per-trial noise) are printed first: they are what the simulation tests in
tests/unit/analysis/test_analysis_blocks.py are calibrated on. Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import itertools
import math
from pathlib import Path

import numpy as np

from meshbench.analysis import AA_CONTROL, BASELINE, blocks, cell_matrix, load_run
from meshbench.analysis import histograms as hist

PERCENTILES = (50.0, 99.0)
MAX_SUBSETS = 2000


def subsets(n: int, r: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Every r-subset of n repeats, or MAX_SUBSETS random ones when there are more."""
    if math.comb(n, r) <= MAX_SUBSETS:
        return list(itertools.combinations(range(n), r))
    return [tuple(sorted(rng.choice(n, r, replace=False))) for _ in range(MAX_SUBSETS)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--repeats", type=int, nargs="+", default=[3, 6, 10])
    args = ap.parse_args()
    run = load_run(args.run_dir)
    if AA_CONTROL not in run.meshes or BASELINE not in run.meshes:
        raise SystemExit(f"{args.run_dir}: needs a run with '{BASELINE}' and aa_control: true")
    rng = np.random.default_rng(run.seed)
    for cell in run.cells:
        m = cell_matrix(run, cell, PERCENTILES)
        b = m.arms.index(BASELINE)
        n = len(m.repeats)
        print(f"\n== {run.run_id}: {cell.title(run.swept)}, {n} repeats, arms {m.arms} ==")
        for j, q in enumerate(PERCENTILES):
            y = m.values_us[:, :, j] / 1000
            fit = blocks.two_way(y)
            if fit is None:
                print(f"{hist.label(q)}: too few complete repeats")
                continue
            base = float(np.nanmean(y[b]))
            print(
                f"\n{hist.label(q)}: none mean {base:.3f} ms; drift sd "
                f"{math.sqrt(fit.drift_var):.3f} ms; per-trial sd "
                f"{math.sqrt(fit.residual_var):.3f} ms "
                f"({math.sqrt(fit.residual_var) / base * 100:.1f}% of none)"
            )
            whole = {arm: blocks.contrast(y, i, b) for i, arm in enumerate(m.arms) if i != b}
            for arm, c in whole.items():
                print(
                    f"  all {n} repeats: {arm:<11} {c.estimate:+.3f} ms "
                    f"[{c.low:+.3f}, {c.high:+.3f}] ({c.method}, df {c.df:g})"
                )
            print(
                f"  {'R':>3} {'subsets':>8} {'A/A false pos':>14} "
                + "".join(f"{a + ' slower':>20}{'MDE ms':>9}" for a in whole if a != AA_CONTROL)
            )
            for r in args.repeats:
                if r > n:
                    continue
                subs = subsets(n, r, rng)
                aa = 0
                slower = {a: 0 for a in whole if a != AA_CONTROL}
                mde = {a: [] for a in slower}  # type: dict[str, list[float]]
                for cols in subs:
                    ys = y[:, list(cols)]
                    fit_s = blocks.two_way(ys)
                    for i, arm in enumerate(m.arms):
                        if i == b:
                            continue
                        c = blocks.contrast(ys, i, b, fit=fit_s)
                        if arm == AA_CONTROL:
                            aa += int(c.low > 0 or c.high < 0)
                        else:
                            slower[arm] += int(c.low > 0)
                            mde[arm].append(c.mde())
                print(
                    f"  {r:>3} {len(subs):>8} {aa / len(subs) * 100:>13.1f}%"
                    + "".join(
                        f"{slower[a] / len(subs) * 100:>19.1f}%{float(np.nanmedian(mde[a])):>9.3f}"
                        for a in slower
                    )
                )


if __name__ == "__main__":
    main()
