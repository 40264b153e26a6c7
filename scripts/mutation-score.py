"""Mutation score per core module from mutmut's results under mutants/ (run by `make mutate`).

    scripts/mutation-score.py [MUTANTS_DIR] [--survivors] [--only NAMES_FILE]
    scripts/mutation-score.py [MUTANTS_DIR] --sample N [--seed S]

A mutant counts when it was checked: killed (a test failed, or it timed out) or survived;
"no tests" counts as survived (no test reaches the code), mutants not run are left out.
Prints one line per area with a 95 % Wilson interval (a sample's score estimates the whole
area's), then, with --survivors, the surviving mutants' names (inspect one with
`mutmut show NAME`). ``--only`` scores just the names listed in a file (one per line).

``--sample N`` prints N mutant names per area drawn at random (seeded), for
``mutmut run $(...)`` when a full run does not fit the time there is: a full run is
~9,400 mutants, ~2 s each on 2 cores.
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

AREAS = {
    "meshbench/load/": "load/",
    "meshbench/results/": "results/",
    "meshbench/analysis/": "analysis/",
    "meshbench/runner/run.py": "validity and accounting",
    "meshbench/load/validity.py": "validity and accounting",
    "meshbench/platforms/local/deployment.py": "validity and accounting",
}
ONLY_FUNCTIONS = {
    "meshbench/platforms/local/deployment.py": {
        "verify",
        "check_accounting",
        "_inbound",
        "_counter",
        "_handshakes",
    },
}
"""Files of which only these functions count: the local deployment's crossing proof and
sidecar accounting, not its process and namespace set-up."""


def function_of(mutant: str) -> str:
    """``pkg.mod.xǁClassǁmethod__mutmut_3`` -> ``method``; ``pkg.mod.x_func__mutmut_1`` ->
    ``func`` (mutmut 3's names)."""
    last = mutant.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    return last.rsplit("ǁ", 1)[-1] if "ǁ" in last else last.removeprefix("x_")


KILLED = {1, 3, 36, 24, -24, 152, 255}
SURVIVED = {0, 5, 33}
Z95 = 1.959964


def mutants_by_area(root: Path) -> dict[str, dict[str, int | None]]:
    """Every mutant's exit code (None: not run yet), per area."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted(root.glob("meshbench/**/*.py.meta")):
        source = str(meta.relative_to(root)).removesuffix(".meta")
        area = next((a for prefix, a in AREAS.items() if source.startswith(prefix)), None)
        if area is not None:
            codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
            keep = ONLY_FUNCTIONS.get(source)
            if keep is not None:
                codes = {k: v for k, v in codes.items() if function_of(k) in keep}
            out.setdefault(area, {}).update(codes)
    return out


def wilson(killed: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (%), sound at 0 and n."""
    if n == 0:
        return (math.nan, math.nan)
    p = killed / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return (100 * (centre - half), 100 * (centre + half))


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 and not argv[1].startswith("-") else Path("mutants")
    by_area = mutants_by_area(root)
    sample = _option(argv, "--sample")
    if sample is not None:
        rng = random.Random(int(_option(argv, "--seed") or 15))
        for area in dict.fromkeys(AREAS.values()):
            names = sorted(by_area.get(area, {}))
            print("\n".join(rng.sample(names, min(int(sample), len(names)))))
        return 0
    only_file = _option(argv, "--only")
    only = set(Path(only_file).read_text().split()) if only_file else None
    survivors: list[str] = []
    for area in dict.fromkeys(AREAS.values()):
        c: Counter[str] = Counter()
        for name, code in by_area.get(area, {}).items():
            if only is not None and name not in only:
                continue
            if code in KILLED:
                c["killed"] += 1
            elif code in SURVIVED:
                c["survived"] += 1
                survivors.append(name)
        checked = c["killed"] + c["survived"]
        if checked:
            lo, hi = wilson(c["killed"], checked)
            score = f"{100 * c['killed'] / checked:5.1f} % [{lo:4.1f}, {hi:5.1f}]"
        else:
            score = "    -"
        print(f"{area:26s} {score}  ({c['killed']} killed of {checked} checked)")
    if "--survivors" in argv:
        print("\n".join(["", "survivors:", *survivors]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
