"""The one error family a user can cause or fix.

The CLI prints a :class:`MeshbenchError` on one line (message, then the fix) and
exits non-zero. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class MeshbenchError(Exception):
    """Something the user can fix: a bad scenario, a missing tool, a cluster not ready."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class ScenarioError(MeshbenchError):
    """The scenario file is missing, unreadable or invalid."""


class ToolMissingError(MeshbenchError):
    """A required executable (ip, iptables, envoy, kind, kubectl, ...) is not available."""


class PlatformError(MeshbenchError):
    """The platform could not be prepared, verified or torn down."""


class DeploymentBroken(PlatformError):
    """A deployment found broken before a trial measured anything: redeploy and retry."""


class ReadFailed(PlatformError):
    """A read of the running deployment (an API call, a proxy's counters, a node's stats)
    failed: the trial in progress pays for it (invalid, with the cause), not the run."""


class TimeoutExpired(PlatformError):
    """A readiness condition did not become true before its deadline."""


class ResultsError(MeshbenchError):
    """A results directory is missing, unreadable or of an unknown schema version."""


class StorageError(ResultsError):
    """A file could not be written or read: the disk is full, the filesystem read-only,
    or this user may not write there."""


STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
"""Errors of the place meshbench writes to, not of meshbench: the user fixes them."""


def storage_error(e: OSError, path: str | os.PathLike[str] | None, action: str) -> StorageError:
    """``e`` (one of :data:`STORAGE_ERRNOS`) as one line naming ``path`` and the fix;
    ``action`` is what was being done to it (``"write"``, ``"create"``, ``"read"``)."""
    named = path if path is not None else e.filename
    what = e.strerror or str(e)
    if named is None:  # a write() or close() that failed names no file
        where, folder = "a file", "the directory it writes to"
    else:
        where = str(named)
        try:
            folder = where if Path(where).is_dir() else str(Path(where).parent)
        except OSError:
            folder = str(Path(where).parent)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free space on the filesystem of {folder} (see `df -h {folder}`), then run again"
    elif e.errno == errno.EROFS:
        fix = (
            f"{folder} is on a read-only filesystem: remount it read-write, or give a "
            "writable directory (run --results DIR, report/compare --out DIR)"
        )
    else:
        fix = (
            f"let this user (uid {os.geteuid()}) {'read' if action == 'read' else 'write'} "
            f"{folder}, or give another directory (run --results DIR, report/compare --out DIR)"
        )
    return StorageError(f"cannot {action} {where}: {what}", fix=fix)


def translated(e: BaseException) -> BaseException:
    """``e`` as the user should see it: a storage :class:`OSError` becomes a
    :class:`StorageError` naming its file; anything else is returned as it is."""
    if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
        out = storage_error(e, e.filename, "use")
        out.__notes__ = list(getattr(e, "__notes__", []))
        return out
    return e


def one_line(e: BaseException) -> str:
    """``e`` and every note added to it (errors met while cleaning up after it), on one
    line: the first error first."""
    notes = [str(n).replace("\n", " ") for n in getattr(e, "__notes__", [])]
    text = str(translated(e)).replace("\n", " ")
    return "; ".join([text, *notes])
