"""Generator capacity: the highest rate N Locust worker processes sustain open loop with
send-lag p99 under 1 ms, against a target that answers instantly, and how it scales.

    .venv/bin/python bench/generator_capacity.py [--duration 5] [--workers 1,2,4,8]

Cores are chosen as a local run would choose them (:mod:`meshbench.host.cores`: CPU 0's core
avoided where there are cores to spare, one thread per core, quietest first); the target
gets cores the generator does not use. The target is an Envoy answering directly where
``envoy`` is on PATH, else ``bench/instant_server.py``. Each worker count is ramped
through ``--rates`` (per worker) until send-lag p99 reaches 1 ms or the achieved rate
falls short; the table shows the best rate, its ratio to one worker's, and the cores.
With ``--cpu0`` one worker is also measured pinned to CPU 0 at 3,000 rps, the stall seen
on a 16-core VM. On a 2-CPU host: target on CPU 1, one worker on CPU 0; two workers share
CPU 1 with the target, so the 2-worker figure is a floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import HEADER, meshbench_load

from meshbench.host.cores import choose
from meshbench.host.preflight import run_preflight

LAG_P99_LIMIT_MS = 1.0
PORT = 18990


@contextmanager
def instant_target(cpus: str) -> Iterator[str]:
    """An instantly answering target on ``cpus``: Envoy if installed, else our asyncio one."""
    if shutil.which("envoy"):
        from meshbench.testing.targets import instant_envoy

        with instant_envoy(PORT, cpus=cpus) as url:
            yield url
        return
    server = Path(__file__).with_name("instant_server.py")
    proc = subprocess.Popen([sys.executable, str(server), "--port", str(PORT), "--cpus", cpus])
    try:
        time.sleep(1.0)
        yield f"http://127.0.0.1:{PORT}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument(
        "--rates", default="2000,3000,3500,4000,4500,5000,6000", help="rates per worker to try, rps"
    )
    p.add_argument("--workers", default="1,2,4,8")
    p.add_argument("--connections", type=int, default=16, help="per worker")
    p.add_argument("--cpu0", action="store_true", help="also measure one worker on CPU 0")
    a = p.parse_args()
    rates = [float(r) for r in a.rates.split(",")]
    pre = run_preflight()
    n_cpus = len(pre.facts.cpu_ids)
    counts = [
        w for w in (int(x) for x in a.workers.split(",")) if w == 1 or w <= max(2, n_cpus - 2)
    ]
    results: list[tuple[int, str, str, float]] = []
    for workers in counts:
        pin = choose(pre, workers)
        load_cpus = (
            pin.load_cpus if n_cpus > 2 else ",".join(str(c) for c in pre.facts.cpu_ids[:workers])
        )
        target_cpus = ",".join(
            sorted({*pin.pod_cpus.split(","), *pin.sidecar_cpus.split(",")}, key=int)
        )
        print(
            f"\n== {workers} worker(s) on CPU {load_cpus}; target on CPU {target_cpus}; "
            f"{a.connections * workers} connections =="
        )
        print(HEADER + f"{'lag p50':>9}{'lag p99':>9}{'gen cpu':>9}")
        best = 0.0
        with instant_target(target_cpus) as url:
            for per_worker in rates:
                rate = per_worker * workers
                fig, s, lag = meshbench_load(
                    url, rate, a.connections * workers, a.duration, workers, load_cpus
                )
                print(
                    fig.row() + f"{lag['p50']:>9.3f}{lag['p99']:>9.3f}{s.generator_cpu:>9.2f}",
                    flush=True,
                )
                if lag["p99"] >= LAG_P99_LIMIT_MS or s.achieved_rps < 0.99 * rate:
                    break
                best = rate
        results.append((workers, load_cpus, target_cpus, best))
        if workers == 1 and a.cpu0 and n_cpus > 2:
            with instant_target(target_cpus) as url:
                for rate in (1000, 3000):
                    for cpu in ("0", load_cpus):
                        fig, s, lag = meshbench_load(url, rate, a.connections, a.duration, 1, cpu)
                        print(
                            f"one worker on CPU {cpu} at {rate:,} rps: send-lag p99 "
                            f"{lag['p99']:.2f} ms, latency p99 {fig.p99_ms:.2f} ms",
                            flush=True,
                        )
    one = results[0][3] or float("nan")
    print(
        f"\n{'workers':>8}{'best rps':>10}{'per worker':>11}{'x one':>7}  load CPUs | "
        f"target CPUs   (send-lag p99 < {LAG_P99_LIMIT_MS} ms)"
    )
    for workers, load_cpus, target_cpus, best in results:
        print(
            f"{workers:>8}{best:>10.0f}{best / workers:>11.0f}{best / one:>7.2f}  "
            f"{load_cpus} | {target_cpus}"
        )
    print(
        f"host: {n_cpus} CPUs allowed ({os.cpu_count()} online), preflight warnings: "
        f"{len(pre.warnings())}"
    )
    for w in pre.warnings():
        print(f"  {w}")


if __name__ == "__main__":
    main()
