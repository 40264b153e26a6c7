"""Sidecar overhead measured by meshbench and by reference tools on the same deployments.

    .venv/bin/python bench/sidecar_overhead.py [--rate 150] [--duration 10]   (as root)

Deploys the default three-hop chain on the local platform with no mesh and with Envoy
sidecars, then from the load pod drives each with meshbench's generator (open loop),
h2load (rate-limited, same rate) and wrk (closed loop, one connection), and prints the
overhead (envoy - none) each tool sees.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import HEADER, Figures, h2load, have, meshbench_load, wrk

from meshbench.config.scenario import load_scenario
from meshbench.platforms.local.deployment import LocalDeployment
from meshbench.platforms.local.names import LOAD_POD
from meshbench.platforms.local.netns import exec_prefix
from meshbench.platforms.local.platform import LocalPlatform

REPO = Path(__file__).resolve().parent.parent


def measure(dep: LocalDeployment, rate: float, conns: int, duration_s: float) -> list[Figures]:
    prefix = tuple(exec_prefix(dep.netns[LOAD_POD]))
    url = dep.target_url()
    out = [
        meshbench_load(url, rate, conns, duration_s, prefix=prefix, tag="latency")[0],
        meshbench_load(url, rate, conns, duration_s, prefix=prefix, tag="service")[0],
    ]
    if have("h2load"):
        out.append(h2load(url, conns, rate / conns, duration_s, prefix=prefix))
    if have("wrk"):
        out.append(wrk(url, 1, duration_s, prefix=prefix))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rate", type=float, default=150.0)
    p.add_argument("--connections", type=int, default=10)
    p.add_argument("--duration", type=float, default=10.0)
    a = p.parse_args()
    scenario = load_scenario(REPO / "scenarios" / "default.yaml")
    platform = LocalPlatform(scenario)
    results: dict[str, list[Figures]] = {}
    try:
        for mesh in ("none", "envoy"):
            with platform.deploy(mesh, scenario.topology) as dep:
                assert isinstance(dep, LocalDeployment)
                dep.verify()
                results[mesh] = measure(dep, a.rate, a.connections, a.duration)
    finally:
        platform.close()
    print(f"three-hop chain, {a.rate:g} rps, {a.connections} connections, {a.duration:g} s each")
    for mesh, figs in results.items():
        print(f"\n== {mesh} ==\n{HEADER}")
        for f in figs:
            print(f.row())
    print(f"\n== overhead envoy - none (ms) ==\n{'tool':<34}{'p50':>9}{'p99':>9}{'mean':>9}")
    for base, env in zip(results["none"], results["envoy"], strict=True):
        print(
            f"{base.tool:<34}{env.p50_ms - base.p50_ms:>9.3f}{env.p99_ms - base.p99_ms:>9.3f}"
            f"{env.mean_ms - base.mean_ms:>9.3f}"
        )


if __name__ == "__main__":
    main()
