"""CPU over the measured phase only, on the local platform.

The orchestrator's own usage snapshots wrap all of ``run_load``: the generator's start,
the warm-up and its exit. Dividing that CPU by that time mixes the warm-up (connections
opening, caches filling) into the measured phase's figure, by a share that depends on
the warm-up's length. Here the schedule origin is fixed before the generator starts
(its ``--start-at``), so the measured phase's boundaries are known in advance, and one
snapshot is taken at each on a timer while the load runs, as the kind platform does
with the kubelet's samples.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from meshbench.platforms.base import UsageSnapshot
from meshbench.results.hlog import start_time

log = logging.getLogger(__name__)

ORIGIN_TOLERANCE_S = 0.05
"""A generator whose schedule origin (its log's StartTime) differs from the planned one by
more than this did not take it: the snapshots would not bracket its measured phase. Less
moves an 8 s phase's window by under 1 %."""


class PhaseWindow:
    """Usage snapshots at ``start_s`` and ``end_s`` (epoch s), taken on timers while the
    ``with`` block runs (the load); :meth:`snapshots` after it."""

    def __init__(self, take: Callable[[], UsageSnapshot], start_s: float, end_s: float) -> None:
        self.start_s = start_s
        self.end_s = end_s
        self._take = take
        self._taken: list[UsageSnapshot] = []
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []

    def _snapshot(self) -> None:
        snap = self._take()
        with self._lock:
            self._taken.append(snap)

    def __enter__(self) -> PhaseWindow:
        for at in (self.start_s, self.end_s):
            t = threading.Timer(max(0.0, at - time.time()), self._snapshot)
            t.daemon = True
            t.start()
            self._timers.append(t)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        for t in self._timers:
            t.cancel()
        for t in self._timers:
            t.join()

    def snapshots(self) -> tuple[UsageSnapshot, UsageSnapshot] | None:
        """(at the phase's start, at its end), or None when the load ended before its
        measured phase began. A load that stopped early (a bound, an error) is closed by a
        snapshot now, its real end."""
        with self._lock:
            taken = list(self._taken)
        if not taken:
            return None
        if len(taken) == 1:
            taken.append(self._take())
        return taken[0], taken[1]


def took_origin(hlog_path: Path, planned_s: float, label: str) -> bool:
    """Whether the generator's log starts on the planned origin, so the window's snapshots
    bracket its measured phase; if not, says so (the snapshots around the whole load then
    stand, warm-up included)."""
    origin = start_time(hlog_path) if hlog_path.exists() else None
    if origin is not None and abs(origin - planned_s) <= ORIGIN_TOLERANCE_S:
        return True
    log.warning(
        "%s: the generator did not start on the planned origin (%s): its CPU figures "
        "include the warm-up",
        label,
        "no StartTime in its log" if origin is None else f"{origin - planned_s:+.2f} s off",
    )
    return False
