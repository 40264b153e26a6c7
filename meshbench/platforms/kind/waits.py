"""Waiting on conditions with a deadline (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from meshbench.errors import TimeoutExpired


@dataclass
class Clock:
    """Monotonic time, wall time (epoch s) and sleep, injectable so tests never really wait.

    Wall time is what the cluster's own stamps use: the load workers' shared start and the
    kubelet's sample times. The kind platform measures the nodes' clock before a run and,
    where it differs from this host's, makes ``wall`` node time
    (:mod:`~meshbench.platforms.kind.clocks`).
    """

    now: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], None] = field(default=time.sleep)
    wall: Callable[[], float] = field(default=time.time)


def wait_for(
    check: Callable[[], str | None],
    *,
    timeout_s: float,
    what: str,
    fix: str,
    interval_s: float = 1.0,
    clock: Clock | None = None,
) -> None:
    """Poll ``check`` until it returns None (true); it returns why not, for the error.

    Raises :class:`TimeoutExpired` naming ``what`` and the last reason after ``timeout_s``.
    """
    c = clock or Clock()
    deadline = c.now() + timeout_s
    while True:
        reason = check()
        if reason is None:
            return
        remaining = deadline - c.now()
        if remaining <= 0:
            raise TimeoutExpired(f"{what}: not true after {timeout_s:g} s ({reason})", fix=fix)
        c.sleep(min(interval_s, remaining))
