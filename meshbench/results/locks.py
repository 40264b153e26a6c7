"""One benchmark at a time: a host-wide lock for local runs, and one per run directory.

Two local runs on one host share its CPUs and measure each other: both would be
stored as valid with inflated latencies. Two ``--resume`` of one run directory would
both run the pending trials and the last writer would replace the other's rows. Both
are refused up front with a message naming the holder. The locks are ``flock`` locks,
released by the kernel when the holder exits however it exits (SIGKILL included), so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from meshbench.errors import STORAGE_ERRNOS, MeshbenchError, storage_error
from meshbench.results.rundir import LinkRefused

HOST_LOCK = Path(tempfile.gettempdir()) / "meshbench-host.lock"
RUN_LOCK = ".lock"


class BusyError(MeshbenchError):
    """Another meshbench run holds the host or the run directory."""


@contextmanager
def exclusive(path: Path, what: str, holder: str, fix: str) -> Iterator[Callable[[str], None]]:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block;
    raise :class:`BusyError` naming whoever holds it now. Yields a function that
    replaces the holder's description (e.g. once the run directory exists)."""
    fd, writable = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise BusyError(f"{what} is busy: {other}", fix=fix) from None

    def rename(text: str) -> None:
        if writable:
            with suppress(OSError):  # a courtesy to the next one: a full disk loses it
                os.ftruncate(fd, 0)
                os.pwrite(fd, text.encode(), 0)

    try:
        rename(holder)
        yield rename
    finally:
        rename("")
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _open_lock(path: Path) -> tuple[int, bool]:
    """``(descriptor, writable)`` of the lock file, made if missing. A link there is
    refused, never followed (the holder's description is written into the file); where
    it cannot be written (another user's file, a read-only filesystem) it is opened
    read-only, which is enough to lock it."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644), True
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LinkRefused(
                f"{path} is a symbolic link: meshbench never opens its lock files through one",
                fix=f"remove the link (rm {path})",
            ) from None
        if e.errno not in STORAGE_ERRNOS:
            raise
        first = e
    try:
        return os.open(path, os.O_RDONLY | _NOFOLLOW), False
    except OSError as e:
        if e.errno in STORAGE_ERRNOS or isinstance(e, FileNotFoundError):
            raise storage_error(first, path, "create") from None
        raise


def describe(run_dir: Path | None) -> str:
    """Who holds a lock, for the other run's error message."""
    where = f" on {run_dir}" if run_dir is not None else ""
    since = datetime.now(UTC).strftime("%H:%M:%S UTC")
    return f"meshbench run (pid {os.getpid()} on {socket.gethostname()}{where}, since {since})"


def host(run_dir: Path | None = None) -> AbstractContextManager[Callable[[str], None]]:
    """The host-wide lock of local runs."""
    return exclusive(
        HOST_LOCK,
        "this host",
        describe(run_dir),
        fix="wait for that run to finish (two runs on one host measure each other), or stop "
        "it with Ctrl-C and `meshbench clean`",
    )


def run_directory(run_dir: Path) -> AbstractContextManager[Callable[[str], None]]:
    """The lock of one run directory (a run, or its resume)."""
    return exclusive(
        run_dir / RUN_LOCK,
        f"run directory {run_dir}",
        describe(run_dir),
        fix="let the other `meshbench run --resume` finish; resume a run from one place only",
    )


def is_held(run_dir: Path) -> bool | None:
    """Whether a live process holds ``run_dir``'s lock now (None: the run has no lock
    file, it predates them). Takes and drops a shared lock; never blocks."""
    path = run_dir / RUN_LOCK
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:  # a link, or not ours to read: cannot tell
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we took
    return False
