"""A Ctrl-C that lands while a process is being started is held until the process is
recorded, so cleanup stops it (a child forked inside Popen survives an exception raised
in the parent: that left one app or generator running after some interrupted runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meshbench.host import interrupts
from meshbench.platforms.local import procs


def test_an_interrupt_inside_deferred_is_raised_when_the_block_ends() -> None:
    ran_on = []
    with interrupts.guarded(), pytest.raises(KeyboardInterrupt), interrupts.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        ran_on.append("after the signal")  # the block is not cut short
    with interrupts.guarded(), pytest.raises(KeyboardInterrupt):  # not deferred: raised at once
        os.kill(os.getpid(), signal.SIGINT)
        ran_on.append("never")
    assert ran_on == ["after the signal"]


def test_a_process_started_as_ctrl_c_lands_is_owned_and_stopped(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_popen = subprocess.Popen

    def popen_then_interrupt(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        child = real_popen(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, right after the fork
        return child

    monkeypatch.setattr("meshbench.platforms.local.procs.subprocess.Popen", popen_then_interrupt)
    owned = procs.ProcessSet()
    with interrupts.guarded(), pytest.raises(KeyboardInterrupt):
        owned.start(
            "frontend",
            "app",
            [sys.executable, "-c", "import time; time.sleep(60)"],
            tmp_path / "app.log",
        )
    assert len(owned.procs) == 1 and owned.procs[0].alive()
    child = owned.procs[0].popen
    owned.stop_all()
    assert child.poll() is not None
