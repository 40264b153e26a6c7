"""What the sample application does per request, as data: its work-time distribution and
its response sizes (the protocol it speaks is declared in :mod:`meshbench.config.protocols`).
Pure (no I/O), so scenarios, analysis and the services share one definition;
:mod:`meshbench.service` acts on it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

WorkDistribution = Literal["constant", "exponential", "lognormal"]

Server = Literal["python", "envoy"]
SERVERS: tuple[Server, ...] = ("python", "envoy")
"""What plays a service: meshbench's sample service (Python: any behaviour), or Envoy
(a service whose own time is negligible: answers from its route table, or forwards to its
one downstream service)."""

Z99 = 2.3263478740408408
"""The standard normal's 99th percentile: a lognormal's p99 is its median x exp(Z99 x sigma)."""


@dataclass(frozen=True)
class Work:
    """Simulated work per request (an asynchronous wait), in ms.

    ``constant``: always ``median_ms``. ``exponential``: median ``median_ms`` (mean
    median / ln 2, p99 ~6.6 x median). ``lognormal``: median ``median_ms`` and p99
    ``p99_ms``.
    """

    distribution: WorkDistribution = "constant"
    median_ms: float = 0.0
    p99_ms: float | None = None

    def __post_init__(self) -> None:
        if self.median_ms < 0:
            raise ValueError(f"work median must be >= 0 ms; got {self.median_ms}")
        if self.distribution == "lognormal" and (
            self.p99_ms is None or not self.p99_ms > self.median_ms > 0
        ):
            raise ValueError(
                "lognormal work needs a median > 0 and a p99 above it "
                f"(work_ms and work_p99_ms); got {self.median_ms} and {self.p99_ms}"
            )

    def sample_s(self, rng: random.Random) -> float:
        """One work time, in seconds."""
        m = self.median_ms / 1000.0
        if m <= 0 or self.distribution == "constant":
            return m
        if self.distribution == "exponential":
            return rng.expovariate(math.log(2) / m)
        assert self.p99_ms is not None
        sigma = math.log(self.p99_ms / self.median_ms) / Z99
        return rng.lognormvariate(math.log(m), sigma)


@dataclass(frozen=True)
class PayloadMix:
    """Response sizes (bytes) drawn by weight for every request."""

    sizes: tuple[int, ...]
    weights: tuple[float, ...]

    @classmethod
    def single(cls, payload_bytes: int) -> PayloadMix:
        return cls((payload_bytes,), (1.0,))

    @classmethod
    def parse(cls, text: str) -> PayloadMix:
        """``"100:9,65536:1"`` (size:weight, comma-separated) or a plain size ``"1024"``."""
        sizes: list[int] = []
        weights: list[float] = []
        for part in text.split(","):
            size, _, weight = part.partition(":")
            sizes.append(int(size))
            weights.append(float(weight or 1))
        return cls(tuple(sizes), tuple(weights))

    def format(self) -> str:
        return ",".join(f"{s}:{w:g}" for s, w in zip(self.sizes, self.weights, strict=True))

    def mean_bytes(self) -> float:
        total = sum(self.weights)
        return sum(s * w for s, w in zip(self.sizes, self.weights, strict=True)) / total

    def sample(self, rng: random.Random) -> int:
        if len(self.sizes) == 1:
            return self.sizes[0]
        return rng.choices(self.sizes, self.weights)[0]
