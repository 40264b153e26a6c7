"""Stalling a running load generator on purpose: SIGSTOP at a known moment of its measured
phase, which is exactly what a descheduled generator suffers, whatever the host's speed."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from meshbench.load.spec import READY_MARK

WAIT_FOR_READY_S = 120.0
"""How long the generator may take to import and start sending (a slow, busy host)."""


@dataclass
class Stall:
    """What the stalling thread did (the test asserts it happened)."""

    pid: int | None = None
    stopped_at_s: float | None = None  # epoch seconds
    resumed_at_s: float | None = None
    error: str = ""


def _generator_pid() -> int | None:
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):
            if "meshbench.load.generator" in child.cmdline():
                return child.pid
    return None


def _origin(log: Path) -> float | None:
    """The schedule origin (epoch s) the generator printed as it started sending."""
    with suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(READY_MARK):
                return float(line.split()[-1])
    return None


@contextmanager
def stalled_generator(
    log: Path, warmup_s: float, stall_s: float | None, into_phase_s: float = 0.2
) -> Iterator[Stall]:
    """Stop the generator writing ``log`` ``into_phase_s`` after its measured phase begins,
    for ``stall_s`` seconds (None: until the harness stops it); it is always resumed when
    the block ends."""
    stall = Stall()
    done = threading.Event()

    def act() -> None:
        deadline = time.monotonic() + WAIT_FOR_READY_S
        origin = None
        while origin is None and not done.is_set():
            if time.monotonic() > deadline:
                stall.error = f"no {READY_MARK!r} line in {log} within {WAIT_FOR_READY_S:g} s"
                return
            origin = _origin(log)
            done.wait(0.02)
        stall.pid = _generator_pid()
        if origin is None or stall.pid is None:
            stall.error = stall.error or "the generator process was not found"
            return
        done.wait(max(0.0, origin + warmup_s + into_phase_s - time.time()))
        if done.is_set():
            return
        os.kill(stall.pid, signal.SIGSTOP)
        stall.stopped_at_s = time.time()
        if stall_s is not None:
            done.wait(stall_s)
            with suppress(ProcessLookupError):
                os.kill(stall.pid, signal.SIGCONT)
            stall.resumed_at_s = time.time()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    try:
        yield stall
    finally:
        done.set()
        thread.join()
        if stall.pid is not None:
            with suppress(ProcessLookupError):
                os.kill(stall.pid, signal.SIGCONT)
