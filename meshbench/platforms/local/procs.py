"""Processes the local platform owns: started in a namespace, pinned, always stopped.

Each process gets its own session (process group), so stopping it also stops anything it
forked. Output goes to a log file in the run's state directory, kept for post-mortems.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from meshbench.host import interrupts
from meshbench.platforms.local.netns import exec_prefix

STOP_GRACE_S = 3.0


@dataclass
class Owned:
    """One running process of one pod."""

    pod: str
    role: str  # "app", "sidecar" or "load"
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 5) -> str:
        """The last lines of the process's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wrap(netns: str, cpus: str | None, argv: Sequence[str], uid: int | None = None) -> list[str]:
    """``argv`` run inside ``netns``, pinned to ``cpus``, optionally as ``uid`` (and gid)."""
    cmd = exec_prefix(netns)
    if cpus:
        cmd += ["taskset", "-c", cpus]
    if uid is not None:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return cmd + list(argv)


class ProcessSet:
    """Starts and stops every process of a deployment."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.procs: list[Owned] = []
        self.env = env  # the environment of every process started (None: inherit ours)

    def start(self, pod: str, role: str, argv: Sequence[str], log: Path) -> Owned:
        log.parent.mkdir(parents=True, exist_ok=True)
        with interrupts.deferred(), log.open("ab") as out:  # started => owned
            popen = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
            owned = Owned(pod, role, popen, log)
            self.procs.append(owned)
        return owned

    def stop_all(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after a grace period."""
        for p in self.procs:
            _signal_group(p.popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for p in self.procs:
            try:
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(p.popen, signal.SIGKILL)
                p.popen.wait(timeout=STOP_GRACE_S)
        self.procs.clear()


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)
