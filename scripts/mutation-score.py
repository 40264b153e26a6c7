"""Mutation score per core module from mutmut's results under mutants/ (run by `make mutate`).

A mutant counts when it was checked: killed (a test failed, or it timed out) or survived;
"no tests" counts as survived (no test reaches the code), mutants not run are left out.
Prints one line per area, then, with --survivors, the surviving mutants' names (inspect
one with `mutmut show NAME`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

AREAS = {
    "meshbench/load/": "load/",
    "meshbench/results/": "results/",
    "meshbench/analysis/": "analysis/",
    "meshbench/run.py": "validity and accounting",
    "meshbench/validity.py": "validity and accounting",
    "meshbench/platforms/local/platform.py": "validity and accounting",
}
KILLED = {1, 3, 36, 24, -24, 152, 255}
SURVIVED = {0, 5, 33}


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 and not argv[1].startswith("-") else Path("mutants")
    counts: dict[str, Counter[str]] = {}
    survivors: list[str] = []
    for meta in sorted(root.glob("meshbench/**/*.py.meta")):
        source = str(meta.relative_to(root)).removesuffix(".meta")
        area = next((a for prefix, a in AREAS.items() if source.startswith(prefix)), None)
        if area is None:
            continue
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for name, code in codes.items():
            c = counts.setdefault(area, Counter())
            if code in KILLED:
                c["killed"] += 1
            elif code in SURVIVED:
                c["survived"] += 1
                survivors.append(name)
    for area in dict.fromkeys(AREAS.values()):
        c = counts.get(area, Counter())
        checked = c["killed"] + c["survived"]
        score = f"{100 * c['killed'] / checked:5.1f} %" if checked else "    -"
        print(f"{area:26s} {score}  ({c['killed']} killed of {checked} checked)")
    if "--survivors" in argv:
        print("\n".join(["", "survivors:", *survivors]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
