"""Intended send times of an open-loop schedule (seconds from the schedule's origin)."""

from __future__ import annotations

import random
from collections.abc import Iterator


def send_offsets(
    rate_rps: float,
    total_s: float,
    kind: str = "constant",
    seed: int = 1,
    worker_index: int = 0,
    worker_count: int = 1,
) -> Iterator[float]:
    """Offsets (s) of this worker's sends within ``[0, total_s)``.

    ``constant``: worker ``i`` of ``n`` takes sends ``i, i+n, i+2n, ...`` of the evenly
    spaced global schedule, so the workers together keep exactly ``rate_rps``.
    ``poisson``: each worker is an independent Poisson process at ``rate_rps / n`` (a sum
    of independent Poisson processes is a Poisson process at the summed rate).
    """
    if rate_rps <= 0:
        raise ValueError("rate_rps must be > 0")
    if not 0 <= worker_index < worker_count:
        raise ValueError("worker_index must be in [0, worker_count)")
    if kind == "constant":
        k = worker_index
        while (t := k / rate_rps) < total_s:
            yield t
            k += worker_count
    elif kind == "poisson":
        rng = random.Random(seed * 1_000_003 + worker_index)
        per_worker = rate_rps / worker_count
        t = rng.expovariate(per_worker)
        while t < total_s:
            yield t
            t += rng.expovariate(per_worker)
    else:
        raise ValueError(f"unknown schedule {kind!r}; allowed: constant, poisson")
