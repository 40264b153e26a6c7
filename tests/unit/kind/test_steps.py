"""The kind platform's steps run through the one runner of external commands: what they
log, their error messages and records, a timeout included."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from meshbench.errors import PlatformError, TimeoutExpired
from meshbench.platforms.kind.steps import TIMEOUT_FIX, Runner, Step


def _tool(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_a_kind_step_past_its_timeout_is_recorded_and_names_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tool(tmp_path, "kubectl", "exec sleep 30")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    runner = Runner()
    step = Step("mesh istio", "wait for istiod", ("kubectl", "wait", "pods"), timeout_s=0.3)
    with pytest.raises(TimeoutExpired) as e:
        runner.run(step)
    assert e.value.message == ("wait for istiod: `kubectl wait pods` did not finish within 0.3 s")
    assert e.value.fix == TIMEOUT_FIX
    assert [(r.step, r.returncode) for r in runner.records] == [(step, None)]


def test_a_kind_step_that_fails_or_times_out_itself_keeps_its_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _tool(tmp_path, "kubectl", 'echo "error: timed out waiting for the condition" >&2; exit 1')
    _tool(tmp_path, "helm", 'echo "Error: boom" >&2; exit 2')
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    runner = Runner()
    with pytest.raises(TimeoutExpired, match=r"^wait: `kubectl wait x` failed \(exit 1\): error"):
        runner.run(Step("p", "wait", ("kubectl", "wait", "x")))
    with pytest.raises(PlatformError) as e:
        runner.run(Step("p", "install", ("helm", "install", "a b")))
    assert not isinstance(e.value, TimeoutExpired)
    assert e.value.message == "install: `helm install 'a b'` failed (exit 2): Error: boom"
    cleanup = Step("teardown", "remove", ("helm", "uninstall"), ignore_errors=True)
    with caplog.at_level(logging.INFO, logger="meshbench.platforms.kind.steps"):
        assert runner.run(cleanup) == ""
    assert [r.getMessage() for r in caplog.records] == [
        "$ helm uninstall",
        "cleanup step failed (continuing): remove: `helm uninstall` failed (exit 2): Error: boom",
    ]
    assert [r.returncode for r in runner.records] == [1, 2, 2]
