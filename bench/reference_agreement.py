"""Does meshbench's sidecar overhead agree with a trusted reference on the same pods?

    sudo .venv/bin/python bench/reference_agreement.py [--rate 150] [--connections 16]
        [--blocks 4] [--duration 10] [--tools meshbench,wrk2]

Deploys the default three-hop chain twice, side by side on the local platform (no mesh
and Envoy sidecars), and measures the overhead (envoy - none) at p50, p90 and p99 with
each tool in interleaved blocks: every block measures both arms with every tool, in an
order rotated per block, so drift lands on both arms and both tools alike. The reference
is wrk2 (open loop, coordinated omission corrected; ``wrk2`` on PATH, built by hand from
giltene/wrk2 since it is not packaged); without it only meshbench is measured and the
script says so. Tools other than ``meshbench`` and ``wrk2``:

- ``meshbench-1conn-each``: meshbench with one request in flight per connection, its
  schedule split per connection as wrk2 does (``--connections`` generator processes,
  one connection each).

Prints figures per block and their mean with a t interval over blocks; never fails.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from meshbench.load.spec import HLOG_FILE, LoadRequest
from meshbench.load.workers import run_workers
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.platforms.local.names import LOAD_POD
from meshbench.platforms.local.netns import exec_prefix
from meshbench.platforms.local.platform import LocalPlatform
from meshbench.results import hlog
from meshbench.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
PERCENTILES = (50.0, 90.0, 99.0)
WRK2_CALIBRATION_S = 10.0
"""wrk2 discards its first 10 s (+5 ms per connection) as calibration (src/wrk.h)."""
Figures = dict[str, dict[float, float]]
"""Percentiles (ms) per figure name: a probe may report several (meshbench: corrected
latency, service time and send lag from one run)."""
Probe = Callable[[str, tuple[str, ...]], Figures]
T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
)
"""Student t 97.5 % quantiles for 1..20 degrees of freedom (no scipy needed)."""


def meshbench_probe(
    name: str, rate: float, conns: int, duration_s: float, cpus: str, workers: int = 1
) -> Probe:
    def run(url: str, prefix: tuple[str, ...]) -> Figures:
        with tempfile.TemporaryDirectory(prefix="meshbench-ref-") as d:
            req = LoadRequest(
                target_url=url,
                rate_rps=rate,
                duration_s=duration_s,
                warmup_s=1.0,
                connections=conns // workers,
            )
            run_workers(req, Path(d), workers, cpus, prefix=list(prefix))
            hists = hlog.read_logs(Path(d) / HLOG_FILE)
        return {
            f"{name}{suffix}": {p: hists[tag].get_value_at_percentile(p) / 1e3 for p in PERCENTILES}
            for tag, suffix in (("latency", ""), ("service", " service"), ("send_lag", " send lag"))
        }

    return run


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def wrk2_probe(rate: float, conns: int, duration_s: float, cpus: str) -> Probe:
    def run(url: str, prefix: tuple[str, ...]) -> Figures:
        total_s = duration_s + WRK2_CALIBRATION_S + conns * 0.005
        out = subprocess.run(
            [
                *prefix,
                "taskset",
                "-c",
                cpus,
                "wrk2",
                "-t1",
                f"-c{conns}",
                f"-d{math.ceil(total_s)}s",
                f"-R{rate:g}",
                "--latency",
                "-U",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures: Figures = {}
        for name, title in (
            ("wrk2", "Recorded Latency"),
            ("wrk2 uncorrected", "Uncorrected Latency"),
        ):
            block = out.split(f"Latency Distribution (HdrHistogram - {title}")[1]
            got = {}
            for p in PERCENTILES:
                m = re.search(rf"^\s*{p:.3f}%\s+([0-9.]+)(us|ms|s|m)\b", block, re.M)
                got[p] = float(m.group(1)) * _UNITS[m.group(2)] if m else math.nan
            figures[name] = got
        return figures

    return run


def _mean_ci(values: list[float]) -> str:
    n = len(values)
    if n < 2:
        return f"{values[0]:+.3f}" if values else "-"
    m, se = statistics.fmean(values), statistics.stdev(values) / math.sqrt(n)
    half = T975[min(n - 1, len(T975)) - 1] * se
    return f"{m:+.3f} ± {half:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per probe")
    parser.add_argument("--tools", default="meshbench,wrk2")
    parser.add_argument("--load-cpus", help="pin the tools here (default: the measured choice)")
    parser.add_argument("--pod-cpus", help="pin apps and sidecars here (default: measured)")
    a = parser.parse_args()
    scenario = load_scenario(REPO / "scenarios" / "default.yaml")
    if a.load_cpus or a.pod_cpus:
        local = scenario.local.model_copy(update={"load_cpus": a.load_cpus, "pod_cpus": a.pod_cpus})
        scenario = scenario.model_copy(update={"local": local})
    platform = LocalPlatform(scenario)
    cpus = platform.pinning.load_cpus
    probes: dict[str, Probe] = {}
    for tool in a.tools.split(","):
        if tool == "meshbench":
            probes[tool] = meshbench_probe(tool, a.rate, a.connections, a.duration, cpus)
        elif tool == "meshbench-1conn-each":
            probes[tool] = meshbench_probe(
                tool, a.rate, a.connections, a.duration, cpus, workers=a.connections
            )
        elif tool == "wrk2":
            if shutil.which("wrk2"):
                probes[tool] = wrk2_probe(a.rate, a.connections, a.duration, cpus)
            else:
                print(
                    "wrk2 is not on PATH: no reference measured (build giltene/wrk2 and "
                    "install its wrk binary as wrk2)"
                )
        else:
            raise SystemExit(f"unknown tool {tool!r}")
    print(
        f"three-hop chain, {a.rate:g} rps, {a.connections} connections, {a.duration:g} s "
        f"measured per probe, {a.blocks} blocks; generator on CPU {cpus}, apps on "
        f"{platform.pinning.pod_cpus}, sidecars on {platform.pinning.sidecar_cpus}"
    )
    # figures[figure name][arm] = one dict of percentiles per block
    figures: dict[str, dict[str, list[dict[float, float]]]] = {}
    try:
        with (
            platform.deploy("none", scenario.topology) as none,
            platform.deploy("envoy", scenario.topology) as envoy,
        ):
            deps = {"none": none, "envoy": envoy}
            for dep in deps.values():
                assert isinstance(dep, LocalDeployment)
                dep.verify()
            tools = list(probes)
            for block in range(a.blocks):
                arms = ["none", "envoy"] if block % 2 == 0 else ["envoy", "none"]
                order = tools if block % 2 == 0 else tools[::-1]
                for tool in order:
                    for arm in arms:
                        dep = deps[arm]
                        assert isinstance(dep, LocalDeployment)
                        got = probes[tool](
                            dep.target_url(), tuple(exec_prefix(dep.netns[LOAD_POD]))
                        )
                        for name, pct in got.items():
                            figures.setdefault(name, {"none": [], "envoy": []})[arm].append(pct)
                            print(
                                f"block {block + 1} {name:<28}{arm:<7}"
                                + "".join(f"  p{p:g} {pct[p]:.3f}" for p in PERCENTILES),
                                flush=True,
                            )
    finally:
        platform.close()
    print(f"\n== overhead envoy - none, ms (mean over {a.blocks} blocks ± 95 % t interval) ==")
    print(
        f"{'figure':<28}"
        + "".join(f"{'p' + format(p, 'g'):>20}" for p in PERCENTILES)
        + f"{'none p50':>10}{'envoy p50':>10}"
    )
    for tool, per_arm in figures.items():
        cells = []
        for p in PERCENTILES:
            diffs = [e[p] - n[p] for e, n in zip(per_arm["envoy"], per_arm["none"], strict=True)]
            cells.append(f"{_mean_ci(diffs):>20}")
        print(
            f"{tool:<28}"
            + "".join(cells)
            + f"{statistics.fmean(x[50.0] for x in per_arm['none']):>10.3f}"
            + f"{statistics.fmean(x[50.0] for x in per_arm['envoy']):>10.3f}"
        )
        print(
            f"{'  per block p50':<28}"
            + " ".join(
                f"{e[50.0] - n[50.0]:+.3f}"
                for e, n in zip(per_arm["envoy"], per_arm["none"], strict=True)
            )
        )


if __name__ == "__main__":
    main()
