"""Meshbench tried as a hostile user would: kills at random moments, bad `load` inputs.

    sudo .venv/bin/python bench/hostile.py [--kills 8] [--seed 1]

Figures, not pass/fail (issue 13's closing note repeats them):

- **Kills**: a short local run (``scenarios/smoke.yaml`` cut to 1 s trials) is started
  ``--kills`` times and hit at a random moment with SIGKILL, SIGINT, SIGTERM or a
  process-group SIGINT (a terminal's Ctrl-C). After each: the namespaces and meshbench
  processes left, what one ``meshbench clean`` leaves, whether ``--resume`` finishes,
  whether ``report`` works, and how many trials were lost (stored before the kill but
  missing after the resume).
- **Bad load inputs**: each invocation's exit code, wall time, peak memory of the
  process, and whether it created a folder.

Needs root (network namespaces) and nothing else running meshbench on this host.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

from meshbench.platforms.local import netns
from meshbench.platforms.local.cleanup import tagged_processes

ROOT = Path(__file__).resolve().parents[1]
MESHBENCH = [sys.executable, "-m", "meshbench.cli"]
SIGNALS = ("SIGKILL", "SIGINT", "SIGTERM", "group SIGINT")

BAD_LOADS = [
    ["--rate", "inf", "--duration", "1"],
    ["--rate", "1000000", "--duration", "300"],
    ["--rate", "nan"],
    ["--rate", "100", "--duration", "-1"],
    ["--rate", "100", "--duration", "0"],
    ["--rate", "100", "--warmup", "-2"],
    ["--rate", "100", "--connections", "0"],
    ["--rate", "100", "--workers", "0"],
    ["--rate", "100", "--cpus", "-"],
    ["--rate", "100", "--cpus", "99"],
    ["--rate", "100", "--timeout", "0"],
]
BAD_TARGETS = ["http://example.com/", "http://10.0.0.1/", "https://127.0.0.1/", "ftp://x/"]


LEFT: list[str] = []
"""What the last :func:`_leftovers` counted as processes (pid and command), to print."""


def _leftovers() -> tuple[int, int]:
    """(meshbench network namespaces, processes of meshbench runs) on this host now.
    Every process a local run starts carries its run key in its environment, inside a
    namespace or not; meshbench processes that tests start on loopback carry none."""
    LEFT.clear()
    ns = len(netns.ours(netns.list_netns()))
    for pid, key in sorted(tagged_processes(set()).items()):
        try:
            cmd = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            cmd = "(gone)"
        LEFT.append(f"{pid} (run {key}) {cmd[:150]}")
    return ns, len(LEFT)


def _rows(run_dir: Path) -> set[str]:
    path = run_dir / "trials.csv"
    if not path.exists():
        return set()
    with path.open() as f:
        return {r["trial_id"] for r in csv.DictReader(f)}


def kills(n: int, rng: random.Random, work: Path) -> None:
    scenario = yaml.safe_load((ROOT / "scenarios" / "smoke.yaml").read_text())
    scenario["load"].update(duration_s=1, warmup_s=0.5)
    path = work / "hostile.yaml"
    path.write_text(yaml.safe_dump(scenario))
    print(
        f"{'#':>2} {'signal':<13}{'at s':>6}{'ns':>4}{'procs':>6}{'after clean':>12}"
        f"{'kept':>6}{'lost':>6}  resume / report"
    )
    totals = {"lost": 0, "left": 0, "resumed": 0, "reported": 0}
    for i in range(1, n + 1):
        results = work / f"kill-{i}"
        how = rng.choice(SIGNALS)
        at_s = rng.uniform(1.0, 25.0)
        proc = subprocess.Popen(
            [*MESHBENCH, "run", str(path), "--results", str(results)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        time.sleep(at_s)
        if proc.poll() is None:
            if how == "group SIGINT":
                os.killpg(proc.pid, signal.SIGINT)
            else:
                proc.send_signal(getattr(signal, how))
        proc.communicate(timeout=120)
        ns, procs = _leftovers()
        subprocess.run(
            [*MESHBENCH, "clean", "--results", str(results)], capture_output=True, cwd=ROOT
        )
        ns2, procs2 = _leftovers()
        for line in LEFT:
            print(f"   left after clean: {line}")
        runs = sorted(results.glob("*")) if results.exists() else []
        if not runs:  # killed before the run directory existed
            print(
                f"{i:>2} {how:<13}{at_s:>6.1f}{ns:>4}{procs:>6}{ns2 + procs2:>12}"
                f"{0:>6}{0:>6}  (no run directory yet)"
            )
            totals["left"] += ns2 + procs2
            continue
        run_dir = runs[0]
        kept = _rows(run_dir)
        status = json.loads((run_dir / "run.json").read_text()).get("status")
        resumed = reported = "-"
        if status != "complete":
            r = subprocess.run(
                [*MESHBENCH, "run", "--resume", str(run_dir), str(path)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            resumed = "ok" if r.returncode == 0 else f"rc {r.returncode}"
            totals["resumed"] += r.returncode == 0
        rep = subprocess.run(
            [*MESHBENCH, "report", str(run_dir)], capture_output=True, text=True, cwd=ROOT
        )
        reported = "ok" if rep.returncode == 0 else f"rc {rep.returncode}"
        totals["reported"] += rep.returncode == 0
        lost = len(kept - _rows(run_dir))
        totals["lost"] += lost
        totals["left"] += ns2 + procs2
        print(
            f"{i:>2} {how:<13}{at_s:>6.1f}{ns:>4}{procs:>6}{ns2 + procs2:>12}"
            f"{len(kept):>6}{lost:>6}  status {status}; resume {resumed}; report {reported}"
        )
    print(
        f"kills {n}: trials lost {totals['lost']}, leftovers after one clean "
        f"{totals['left']}, resumes ok {totals['resumed']}, reports ok {totals['reported']}"
    )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bad_loads(work: Path) -> None:
    print(f"\n{'meshbench load ...':<58}{'rc':>4}{'wall s':>8}{'folder':>8}")
    for args in [[t, "--rate", "10"] for t in BAD_TARGETS] + [
        ["http://127.0.0.1:9/", *a] for a in BAD_LOADS
    ]:
        out = work / "load-out"
        t0 = time.perf_counter()
        r = subprocess.run(
            [*MESHBENCH, "load", *args, "--out", str(out)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        wall = time.perf_counter() - t0
        folder = "yes" if out.exists() else "no"
        said = r.stderr.strip().splitlines()[-1][:90] if r.stderr.strip() else ""
        print(f"{' '.join(args):<58}{r.returncode:>4}{wall:>8.2f}{folder:>8}  {said}")
    print(f"peak RSS of any of those processes: {_peak_rss_mib():.0f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    # not "meshbench-...": that prefix names a run's state dir, which _leftovers looks for
    with tempfile.TemporaryDirectory(prefix="mbhostile-") as d:
        work = Path(d)
        bad_loads(work)
        kills(a.kills, random.Random(a.seed), work)


if __name__ == "__main__":
    main()
