"""Generator capacity: the highest rate one (and two) Locust processes sustain open loop
with send-lag p99 under 1 ms, against an Envoy that answers instantly.

    .venv/bin/python bench/generator_capacity.py [--duration 5]

Layout on a 2-core machine: target Envoy on CPU 1; one worker on CPU 0; two workers on
CPUs 0 and 1 (sharing CPU 1 with the target, so the 2-process figure is a floor).
"""

from __future__ import annotations

import argparse

from _common import HEADER, meshbench_load

from meshbench.load.targets import instant_envoy

LAG_P99_LIMIT_MS = 1.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--rates", default="2000,3000,3500,4000,4500,5000,6000")
    p.add_argument("--connections", type=int, default=16)
    a = p.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    with instant_envoy(18990, cpus="1") as url:
        for workers, cpus in ((1, "0"), (2, "0-1")):
            print(
                f"\n== {workers} generator process(es), CPU {cpus}, {a.connections} connections =="
            )
            print(HEADER + f"{'lag p50':>9}{'lag p99':>9}{'gen cpu':>9}")
            best = 0.0
            for rate in rates:
                fig, s, lag = meshbench_load(url, rate, a.connections, a.duration, workers, cpus)
                print(fig.row() + f"{lag['p50']:>9.3f}{lag['p99']:>9.3f}{s.generator_cpu:>9.2f}")
                if lag["p99"] < LAG_P99_LIMIT_MS and s.achieved_rps >= 0.99 * rate:
                    best = rate
            print(f"=> highest rate with send-lag p99 < {LAG_P99_LIMIT_MS} ms: {best:.0f} rps")


if __name__ == "__main__":
    main()
