"""``meshbench clean``: remove what a killed local run left behind, and only that.

A name proves nothing (anyone can ``ip netns add mb-abcdef-none-backend``), so clean
removes a network namespace ``mb-<run>-*`` (and every process inside it) only when its
run key ``<run>`` has an owner record: a state directory ``/tmp/meshbench-<run>-*``
that this user owns (not a link) holding ``owner.pid``, which every local run writes
before it creates anything. Processes are ours when their environment carries a run key
(:data:`~meshbench.platforms.local.names.RUN_KEY_ENV`). Anything else named like ours is
reported and left alone. A run whose owning process is still alive is left alone unless
``force`` is given; the owner is that process only if its start time matches the one
recorded, so a reused PID does not keep a dead run's leftovers forever.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
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
    """State directories with an owner record of this user (never a link, never another
    user's directory in the shared /tmp)."""
    out = []
    for p in sorted(Path(STATE_ROOT).glob(f"{STATE_PREFIX}*")):
        if not _run_key(p.name):
            continue
        try:
            d, record = p.lstat(), (p / OWNER_FILE).lstat()
        except OSError:
            continue
        me = os.geteuid()
        if (
            stat.S_ISDIR(d.st_mode)
            and stat.S_ISREG(record.st_mode)
            and d.st_uid == record.st_uid == me
        ):
            out.append(p)
    return out


def proven_keys() -> set[str]:
    """Run keys with an owner record: the runs whose namespaces clean may remove."""
    return {_run_key(d.name) or "" for d in _state_dirs()}


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
    proven = proven_keys()
    named = netns.ours(netns.list_netns())
    skipped += [
        f"netns {n}: named like meshbench's, but no owner record of run {_run_key(n)} "
        f"({STATE_ROOT}/{STATE_PREFIX}{_run_key(n)}-*/{OWNER_FILE}) proves it is: left alone "
        f"(`ip netns delete {n}` removes it if it is yours)"
        for n in named
        if _run_key(n) not in proven
    ]
    spaces = [n for n in named if _run_key(n) in proven and _run_key(n) not in skip]
    # Processes first (apps, sidecars, generators, also any whose namespace is already
    # gone), then the namespaces, hub last.
    orphans = tagged_processes(skip)
    _kill(sorted({pid for ns in spaces for pid in netns.pids(ns)} | set(orphans)))
    removed += [f"process {pid} of run {key}" for pid, key in sorted(orphans.items())]
    for ns in sorted(spaces, key=lambda n: n.endswith("-hub")):
        netns.delete(ns)
        removed.append(f"netns {ns}")
    left = {_run_key(n) for n in netns.ours(netns.list_netns())}
    for d in _state_dirs():
        key = _run_key(d.name)
        if key in skip:
            continue
        if key in left:  # the record is the only proof of what is left: kept with it
            skipped.append(f"dir {d}: namespaces of run {key} could not be removed")
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(f"dir {d}")
    return removed, skipped
