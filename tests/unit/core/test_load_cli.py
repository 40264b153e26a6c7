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


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/", "is a name, not an address; meshbench load resolves no names"),
        ("http://10.0.0.1:8080/", "outside loopback and 198.18.0.0/15"),
        ("http://192.168.1.1/", "outside loopback and 198.18.0.0/15"),
        ("https://127.0.0.1/", "is not an http:// URL"),
    ],
)
def test_targets_off_this_machine_are_refused_without_a_lookup(
    url: str,
    message: str,
    no_dns: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["load", url, "--rate", "10", "--duration", "1"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()  # nothing created for a refused run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "-1"], "--duration -1"),
        (["--duration", "0"], "--duration 0"),
        (["--warmup", "-2"], "--warmup -2"),
        (["--connections", "0"], "--connections 0"),
        (["--workers", "0"], "--workers 0"),
        (["--rate", "nan"], "--rate nan"),
        (["--rate", "inf"], "--rate inf"),
        (["--cpus", "-"], "--cpus '-' is not a list of this host's CPUs"),
        (["--cpus", "999"], "--cpus '999' is not a list of this host's CPUs"),
    ],
)
def test_nonsense_load_settings_are_refused_by_name(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
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


def test_load_pins_by_measurement_unless_cpus_are_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --cpus, the generator goes where `meshbench run` would put it (off CPU 0 on
    a host with cores to spare), and says so; --cpus still wins, with no preflight."""
    from meshbench.host.preflight import Jitter, Preflight, read_facts
    from meshbench.load import standalone

    hosts = Path(__file__).resolve().parents[2] / "data" / "hosts"
    facts = read_facts(hosts / "vm-16cpu")
    quiet = Jitter(60.0, 110.0, 300.0, 1000)
    jitter = {c: quiet for c in facts.cpu_ids} | {1: Jitter(60.0, 900.0, 2700.0, 1000)}
    probed: list[int] = []

    def fake_preflight() -> Preflight:
        probed.append(1)
        return Preflight(facts, {c: 2.0 for c in facts.cpu_ids}, jitter)

    used: list[str | None] = []

    def fake_load_url(req: object, out: Path, workers: int = 1, cpus: str | None = None) -> object:
        used.append(cpus)
        raise SystemExit(0)  # the choice is what is tested, not the load

    monkeypatch.setattr(standalone, "run_preflight", fake_preflight)
    monkeypatch.setattr(standalone, "load_url", fake_load_url)
    monkeypatch.chdir(tmp_path)
    base = ["load", "http://127.0.0.1:9/", "--rate", "10", "--duration", "1"]
    with pytest.raises(SystemExit):
        main([*base, "--workers", "2"])
    assert used == ["2,3"]  # CPU 0's core and the noisy CPU 1 avoided, one core per worker
    assert "CPUs: load 2,3 (measured: 16 physical cores" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--cpus", "0"])
    assert used == ["2,3", "0"] and len(probed) == 1


@pytest.mark.parametrize("rate_rps", [0.5, 1.0])
def test_a_rate_below_one_per_second_is_a_load(rate_rps: float) -> None:
    from meshbench.errors import MeshbenchError
    from meshbench.load.spec import LoadRequest
    from meshbench.load.standalone import check_request

    check_request(LoadRequest("http://127.0.0.1:9/", rate_rps, duration_s=4.0), 1, None)
    with pytest.raises(MeshbenchError, match="--rate 0"):
        check_request(LoadRequest("http://127.0.0.1:9/", 0.0, duration_s=4.0), 1, None)
