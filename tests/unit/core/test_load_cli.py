"""`meshbench load` refuses, before any folder is created or any packet sent, what it
must never do: leave the machine (names are not even resolved) or run nonsense."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from meshbench.cli import main


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("meshbench load resolved a name")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize(("url", "message"), [
    ("http://example.com/", "is a name, not an address; meshbench load resolves no names"),
    ("http://10.0.0.1:8080/", "outside loopback and 198.18.0.0/15"),
    ("http://192.168.1.1/", "outside loopback and 198.18.0.0/15"),
    ("https://127.0.0.1/", "is not an http:// URL"),
])
def test_targets_off_this_machine_are_refused_without_a_lookup(
    url: str, message: str, no_dns: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["load", url, "--rate", "10", "--duration", "1"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()  # nothing created for a refused run


@pytest.mark.parametrize(("args", "message"), [
    (["--duration", "-1"], "--duration -1"),
    (["--duration", "0"], "--duration 0"),
    (["--warmup", "-2"], "--warmup -2"),
    (["--connections", "0"], "--connections 0"),
    (["--workers", "0"], "--workers 0"),
    (["--rate", "nan"], "--rate nan"),
    (["--rate", "inf"], "--rate inf"),
    (["--cpus", "-"], "--cpus '-' is not a list of this host's CPUs"),
    (["--cpus", "999"], "--cpus '999' is not a list of this host's CPUs"),
])
def test_nonsense_load_settings_are_refused_by_name(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["load", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1"]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_localhost_is_loopback_without_a_lookup(no_dns: None) -> None:
    from meshbench.load.standalone import check_target

    check_target("http://localhost:8080/")
    check_target("http://198.18.3.10:8080/")
    check_target("http://[::1]:8080/")
