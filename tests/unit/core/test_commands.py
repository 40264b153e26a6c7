"""The one runner of external commands (meshbench.platforms.commands.run), used by the
local platform and by the kind platform's steps (tests/unit/kind/test_steps.py): its
timeout, exit and stdin behaviour."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from meshbench.errors import PlatformError, TimeoutExpired, ToolMissingError
from meshbench.platforms import commands


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_command_past_its_timeout_is_killed_and_raises_timeout_expired(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pid"
    argv = ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"]
    start = time.monotonic()
    with pytest.raises(TimeoutExpired) as e:
        commands.run(argv, timeout_s=0.5, what="wait", timeout_fix="raise the limit")
    assert time.monotonic() - start < 5
    assert e.value.message == (
        f"wait: `sh -c 'echo $$ > {pidfile}; exec sleep 30'` did not finish within 0.5 s"
    )
    assert e.value.fix == "raise the limit"
    assert isinstance(e.value, PlatformError)  # what the local platform's callers catch
    assert _gone(int(pidfile.read_text()))  # killed and reaped, not left running


def test_a_failure_names_the_command_and_the_last_line_of_its_output() -> None:
    with pytest.raises(PlatformError) as e:
        commands.run(["sh", "-c", "echo first >&2; echo last >&2; exit 3"])
    assert (
        e.value.message == "`sh -c 'echo first >&2; echo last >&2; exit 3'` failed (exit 3): last"
    )
    with pytest.raises(PlatformError, match=r"\(exit 1\): on stdout$"):
        commands.run(["sh", "-c", "echo '  ' >&2; echo on stdout; exit 1"])  # blank stderr
    proc = commands.run(["sh", "-c", "exit 4"], check=False)
    assert proc.returncode == 4
    assert commands.failure(["x"], proc, "step") == "step: `x` failed (exit 4): no output"


def test_stdin_is_the_given_text_or_nothing_never_the_terminal() -> None:
    assert commands.run(["cat"], input_text="a\nb\n").stdout == "a\nb\n"
    assert commands.run(["cat"], timeout_s=5).stdout == ""  # ends at once: stdin is empty


def test_a_missing_command_is_a_tool_missing_error() -> None:
    with pytest.raises(ToolMissingError, match=r"'no-such-tool-xyz' is not on PATH"):
        commands.run(["no-such-tool-xyz"])
