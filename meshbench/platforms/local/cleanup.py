"""``meshbench clean``: remove what a killed local run left behind.

It only touches resources named by :mod:`meshbench.platforms.local.names`: network
namespaces ``mb-<run>-*`` (and every process inside them) and state directories
``/tmp/meshbench-<run>-*``. A run whose owning process is still alive is left alone
unless ``force`` is given; the owner is that process only if its start time matches the
one recorded, so a reused PID does not keep a dead run's leftovers forever.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import psutil

from meshbench.platforms.local import netns
from meshbench.platforms.local.names import RUN_KEY_ENV, STATE_PREFIX, STATE_ROOT

OWNER_FILE = "owner.pid"
_KEY = re.compile(r"^(?:mb-|" + re.escape(STATE_PREFIX) + r")([0-9a-f]{6})-")


def _run_key(name: str) -> str | None:
    m = _KEY.match(name)
    return m.group(1) if m else None


def _state_dirs() -> list[Path]:
    return sorted(p for p in Path(STATE_ROOT).glob(f"{STATE_PREFIX}*") if _run_key(p.name))


START_TOLERANCE_S = 1.0
"""A process is the recorded owner if its start time is within this of the recorded one."""


def write_owner(state_dir: Path) -> None:
    """Record this process (PID and start time) as the owner of ``state_dir``."""
    me = psutil.Process()
    (state_dir / OWNER_FILE).write_text(f"{me.pid} {me.create_time():.3f}\n")


def owner(state_dir: Path) -> str | None:
    """How the owner of ``state_dir`` is alive, in words; None when it is gone (or the
    file is unreadable, or names a different process that reused its PID)."""
    try:
        fields = (state_dir / OWNER_FILE).read_text().split()
        pid = int(fields[0])
        started = float(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return None
    if pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        created = proc.create_time()
    except psutil.Error:
        return None
    if started is not None and abs(created - started) > START_TOLERANCE_S:
        return None  # the PID was reused by another process
    return f"pid {pid} ({proc.name()}) is alive"


def live_run_keys() -> dict[str, str]:
    """Run keys whose owning meshbench process is still running -> why it is live."""
    live = {}
    for d in _state_dirs():
        why = owner(d)
        if why is not None:
            live[_run_key(d.name) or ""] = why
    return live


def _kill(pids: list[int]) -> None:
    procs = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            p.send_signal(signal.SIGTERM)
            procs.append(p)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=3)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=3)


def tagged_processes(skip: set[str] | dict[str, str]) -> dict[int, str]:
    """Processes started by a local run (their environment names its run key, outside any
    namespace too), except those of runs in ``skip``: pid -> run key."""
    found = {}
    for p in psutil.process_iter(["pid"]):
        try:
            key = p.environ().get(RUN_KEY_ENV)
        except (psutil.Error, OSError):
            continue
        if key and key not in skip and p.pid != os.getpid():
            found[p.pid] = key
    return found


def clean(force: bool = False) -> tuple[list[str], list[str]]:
    """Remove leftovers of meshbench runs; returns (what was removed, what was left
    alone and why)."""
    skip = {} if force else live_run_keys()
    skipped = [f"run {key}: {why}; --force removes it" for key, why in sorted(skip.items())]
    removed = []
    spaces = [n for n in netns.ours(netns.list_netns()) if _run_key(n) not in skip]
    # Processes first (apps, sidecars, generators, also any whose namespace is already
    # gone), then the namespaces, hub last.
    orphans = tagged_processes(skip)
    _kill(sorted({pid for ns in spaces for pid in netns.pids(ns)} | set(orphans)))
    removed += [f"process {pid} of run {key}" for pid, key in sorted(orphans.items())]
    for ns in sorted(spaces, key=lambda n: n.endswith("-hub")):
        netns.delete(ns)
        removed.append(f"netns {ns}")
    for d in _state_dirs():
        if _run_key(d.name) not in skip:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(f"dir {d}")
    return removed, skipped
