"""Ctrl-C and SIGTERM stop meshbench once; later ones must not stop its cleanup.

One process-wide handler, shared by the CLI, :func:`meshbench.runner.run.run_scenario`
and the generator's workers: the first signal raises ``KeyboardInterrupt`` (every
``finally`` and exit stack then removes what was created); any later one only says that
cleanup is under way, so a second impatient Ctrl-C neither interrupts the removal of
namespaces nor turns the exit code 130 into death by SIGINT.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stopping = False
_deferring = 0
_pending = False


def handler(signum: int, frame: FrameType | None) -> None:
    """The first call raises ``KeyboardInterrupt`` (at the end of a :func:`deferred`
    block when one is running); later calls only say so."""
    global _stopping, _pending
    if _stopping or _pending:
        print(
            "meshbench: cleaning up what this run created; this takes a few seconds",
            file=sys.stderr,
        )
        return
    if _deferring:
        _pending = True
        return
    _stopping = True
    raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM until the block ends: for starting a process and
    recording it, which an interrupt between the two would leave running, unowned (a
    child forked inside ``Popen`` survives an exception raised in the parent)."""
    global _deferring, _pending, _stopping
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            _pending = False
            _stopping = True
            raise KeyboardInterrupt


def install() -> None:
    """Route Ctrl-C and SIGTERM to :func:`handler` for the rest of the process (the CLI)."""
    for s in SIGNALS:
        signal.signal(s, handler)


def ignore_until_exit() -> None:
    """Ignore Ctrl-C and SIGTERM for good: the process is interrupted and about to exit.
    (Python resets its own handlers while it shuts down, so a late Ctrl-C would otherwise
    kill the process by SIGINT after the cleanup had finished; an ignored signal stays
    ignored through shutdown.)"""
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)


@contextmanager
def guarded() -> Iterator[None]:
    """:func:`handler` for the ``with`` block, the previous handlers restored after it
    (so a notebook that runs a scenario keeps its own Ctrl-C afterwards)."""
    global _stopping
    _stopping = False
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
