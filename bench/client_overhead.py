"""Client overhead: meshbench's generator next to C reference tools on the same target.

    .venv/bin/python bench/client_overhead.py [--duration 10]

Target: an Envoy answering instantly on CPU 1; every client pinned to CPU 0. The
latency each tool reports against an instant server is mostly the client's own cost.
meshbench sends open loop at a fixed rate; wrk is closed loop (as fast as one connection
goes); h2load is rate-limited like meshbench (it reports mean/max, no percentiles).
"""

from __future__ import annotations

import argparse

from _common import HEADER, h2load, have, meshbench_load, wrk

from meshbench.testing.targets import instant_envoy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=1000.0)
    a = p.parse_args()
    with instant_envoy(18991, cpus="1") as url:
        print(f"target {url} (instant Envoy, CPU 1); clients on CPU 0; 1 connection")
        print(HEADER)
        fig, _, _ = meshbench_load(url, a.rate, 1, a.duration)
        print(fig.row() + f"  open loop {a.rate:g} rps")
        fig, _, _ = meshbench_load(url, a.rate, 1, a.duration, tag="latency")
        print(fig.row() + "  corrected for coordinated omission")
        if have("h2load"):
            print(h2load(url, 1, a.rate, a.duration).row())
        if have("wrk"):
            print(wrk(url, 1, a.duration).row())


if __name__ == "__main__":
    main()
