"""``meshbench clean``: remove what a killed local run left behind.

It only touches resources named by :mod:`meshbench.platforms.local.names`: network
namespaces ``mb-<run>-*`` (and every process inside them) and state directories
``/tmp/meshbench-<run>-*``. A run whose owning process is still alive is left alone
unless ``force`` is given.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import psutil

from meshbench.platforms.local import netns
from meshbench.platforms.local.names import STATE_PREFIX, STATE_ROOT

OWNER_FILE = "owner.pid"
_KEY = re.compile(r"^(?:mb-|" + re.escape(STATE_PREFIX) + r")([0-9a-f]{6})-")


def _run_key(name: str) -> str | None:
    m = _KEY.match(name)
    return m.group(1) if m else None


def _state_dirs() -> list[Path]:
    return sorted(p for p in Path(STATE_ROOT).glob(f"{STATE_PREFIX}*") if _run_key(p.name))


def live_run_keys() -> set[str]:
    """Run keys whose owning meshbench process is still running."""
    live = set()
    for d in _state_dirs():
        try:
            pid = int((d / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if psutil.pid_exists(pid) and pid != os.getpid():
            live.add(_run_key(d.name) or "")
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


def clean(force: bool = False) -> list[str]:
    """Remove leftovers of meshbench runs; returns what was removed."""
    skip = set() if force else live_run_keys()
    removed = []
    spaces = [n for n in netns.ours(netns.list_netns()) if _run_key(n) not in skip]
    # Processes first (apps, sidecars, generators), then the namespaces, hub last.
    _kill([pid for ns in spaces for pid in netns.pids(ns)])
    for ns in sorted(spaces, key=lambda n: n.endswith("-hub")):
        netns.delete(ns)
        removed.append(f"netns {ns}")
    for d in _state_dirs():
        if _run_key(d.name) not in skip:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(f"dir {d}")
    return removed
