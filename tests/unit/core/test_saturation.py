"""Saturation is never silent: a stalled generator yields valid=false with the reason, and
one that cannot finish is stopped by the harness and stored invalid, never hung on.

Stalls are made with SIGSTOP at a known moment of the measured phase (:mod:`.stall`), so
the outcome does not depend on how fast this host starts Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from meshbench import cli
from meshbench.config.scenario import parse_scenario
from meshbench.host import interrupts
from meshbench.load import spec as load_spec
from meshbench.load import workers as load_workers
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.load.workers import run_workers
from meshbench.planning.plan import Trial
from meshbench.results.hlog import read_log
from meshbench.results.store import read_trial_rows, write_trials
from meshbench.runner.run import run_trial
from meshbench.testing.fake_deployment import NoSidecarDeployment
from meshbench.testing.targets import instant_envoy

from .loopback import free_port
from .stall import stalled_generator


class LoopbackDeployment(NoSidecarDeployment):
    """The real generator against a real server on loopback, behind an argv prefix."""

    def __init__(self, url: str, prefix: list[str]) -> None:
        self.url = url
        self.prefix = prefix

    def target_url(self) -> str:
        return self.url

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        return run_workers(request, out_dir, 1, "0", prefix=self.prefix)


SCENARIO = parse_scenario(
    {
        "name": "starved",
        "meshes": ["none"],
        "load": {
            "rates_rps": [500],
            "duration_s": 3,
            "warmup_s": 0.5,
            "connections": 8,
            "timeout_s": 1,
        },
        "validity": {"max_send_lag_p99_ms": 5},
    }
)
STALL_S = 1.0
"""A generator stopped this long in a 3 s measured phase: a third of its sends are late by
up to a second, far past the 5 ms send-lag limit."""


def test_a_stalled_generator_is_stored_invalid_with_the_reason(tmp_path: Path) -> None:
    trial = Trial("t001-none-500rps-r1", 1, "none", 500, 1, 8)
    log = tmp_path / "trials" / trial.trial_id / "generator.log"
    with instant_envoy(free_port(), cpus="1") as url:
        dep = LoopbackDeployment(url, [])
        with stalled_generator(log, SCENARIO.load.warmup_s, STALL_S) as stall:
            row = run_trial(SCENARIO, dep, trial, tmp_path)
    assert stall.resumed_at_s is not None, stall.error  # the stall did happen
    write_trials(tmp_path, [row])
    stored = read_trial_rows(tmp_path)[0]
    assert stored["valid"] == "false"
    assert "the generator's own schedule fell behind" in stored["invalid_reason"]
    # the stall is in the tail: the sends due while it lasted waited for it
    assert float(stored["send_lag_max_ms"]) > 0.5 * STALL_S * 1000
    assert float(stored["max_ms"]) > 0.5 * STALL_S * 1000


class KilledGeneratorDeployment(LoopbackDeployment):
    """The harness's overrun limit cut short, so a generator that never ends is stopped
    within seconds."""

    def run_load(self, request: LoadRequest, out_dir: Path) -> LoadSummary:
        return run_workers(request, out_dir, 1, "0", prefix=self.prefix, overrun_grace_s=1.0)


@pytest.fixture
def short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness's view of a generator's time bound with 1 s of grace instead of 5 (the
    stopped generator cannot use its own), so a test of the kill waits 4 s less."""
    monkeypatch.setattr(load_spec, "GENERATOR_GRACE_S", 1.0)


@pytest.mark.usefixtures("short_bound")
def test_a_generator_that_never_finishes_is_killed_and_stored_invalid(tmp_path: Path) -> None:
    """Stopped in its measured phase and never resumed: the harness stops it past its time
    bound, the trial is invalid with the cause, and what it measured before is kept."""
    trial = Trial("t001-none-500rps-r1", 1, "none", 500, 1, 8)
    log = tmp_path / "trials" / trial.trial_id / "generator.log"
    with instant_envoy(free_port(), cpus="1") as url:
        dep = KilledGeneratorDeployment(url, [])
        with stalled_generator(log, SCENARIO.load.warmup_s, None) as stall:
            row = run_trial(SCENARIO, dep, trial, tmp_path)
    assert stall.stopped_at_s is not None, stall.error
    assert row.valid is False
    assert (
        "generator starved: did not finish within 1 s of its time bound; killed"
        in row.invalid_reason
    )
    summary = LoadSummary.read(tmp_path / "trials" / trial.trial_id)
    assert summary.stopped_by == "killed" and summary.killed_after_s == 1.0
    # it wrote what it had on SIGTERM: the sends before the stall are in the histograms
    assert summary.requests > 0
    assert read_log(tmp_path / row.histogram).get_total_count() > 0


@pytest.mark.usefixtures("short_bound")
def test_a_generator_that_never_starts_is_killed_with_nothing_measured(tmp_path: Path) -> None:
    """A generator stopped before it ran any Python (its launcher stops itself) leaves no
    files: the trial is stored invalid from an empty summary and an empty log."""
    trial = Trial("t001-none-500rps-r1", 1, "none", 500, 1, 8)
    stops_itself = ["sh", "-c", 'kill -STOP $$ && exec "$@"', "sh"]
    scenario = SCENARIO.model_copy(
        update={"load": SCENARIO.load.model_copy(update={"duration_s": 1, "warmup_s": 0})}
    )
    row = run_trial(
        scenario, KilledGeneratorDeployment("http://127.0.0.1:9/", stops_itself), trial, tmp_path
    )
    assert row.valid is False
    reason = row.invalid_reason
    assert "no request completed" in reason and "killed" in reason, reason
    assert row.requests == 0 and read_log(tmp_path / row.histogram).get_total_count() == 0


def test_same_trial_unstarved_is_valid(tmp_path: Path) -> None:
    """The check above can pass: without the hogs the same trial is valid."""
    trial = Trial("t001-none-500rps-r1", 1, "none", 500, 1, 8)
    scenario = SCENARIO.model_copy(
        update={"validity": SCENARIO.validity.model_copy(update={"max_send_lag_p99_ms": 50})}
    )
    with instant_envoy(free_port(), cpus="1") as url:
        row = run_trial(scenario, LoopbackDeployment(url, []), trial, tmp_path)
    assert row.valid, row.invalid_reason
    assert row.requests == 1500


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_the_schedule_exactly(tmp_path: Path, workers: int) -> None:
    req = LoadRequest(target_url="", rate_rps=300, duration_s=2, warmup_s=0.5, connections=4)
    with instant_envoy(free_port(), cpus="1") as url:
        req = LoadRequest(**{**req.__dict__, "target_url": url})
        s = run_workers(req, tmp_path, workers, "0")
    assert (s.requests, s.warmup_requests, s.errors) == (600, 150, 0)
    assert s.extra["worker_count"] == workers
    assert sorted(w["requests"] for w in s.extra["workers"]) == sorted(
        len(range(i, 750, workers)) - len(range(i, 150, workers)) for i in range(workers)
    )


class DyingSidecarDeployment(LoopbackDeployment):
    """A sidecar whose admin answers before the trial and is gone after it."""

    def __init__(self, url: str) -> None:
        super().__init__(url, [])
        self.reads = 0

    def sidecar_stats(self) -> dict[str, dict[str, int]]:
        self.reads += 1
        if self.reads > 1:
            raise ConnectionRefusedError(111, "Connection refused")
        return {"frontend": {"http.inbound.downstream_rq_total": 0}}


def test_a_sidecar_dying_mid_trial_makes_the_trial_invalid_not_the_run_crash(
    tmp_path: Path,
) -> None:
    trial = Trial("t001-envoy-100rps-r1", 1, "envoy", 100, 1, 4)
    scenario = parse_scenario(
        {
            "name": "dying",
            "meshes": ["none", "envoy"],
            "load": {"rates_rps": [100], "duration_s": 1, "warmup_s": 0.2, "connections": 4},
        }
    )
    with instant_envoy(free_port(), cpus="1") as url:
        row = run_trial(scenario, DyingSidecarDeployment(url), trial, tmp_path)
    assert row.valid is False
    assert "sidecar counters unreadable after the trial" in row.invalid_reason
    assert "a sidecar died" in row.invalid_reason
    write_trials(tmp_path, [row])  # and the row is storable like any other
    assert read_trial_rows(tmp_path)[0]["valid"] == "false"


def load_argv(url: str, out: Path) -> list[str]:
    return [
        "load",
        url,
        "--rate",
        "500",
        "--duration",
        "2",
        "--warmup",
        "0.5",
        "--connections",
        "8",
        "--timeout",
        "1",
        "--cpus",
        "0",
        "--strict",
        "--out",
        str(out),
    ]


def test_meshbench_load_strict_exits_non_zero_on_a_stalled_generator(tmp_path: Path) -> None:
    meshbench = [sys.executable, "-m", "meshbench.cli"]
    with instant_envoy(free_port(), cpus="1") as url:
        with stalled_generator(tmp_path / "stalled" / "generator.log", 0.5, STALL_S) as stall:
            stalled = subprocess.run(
                [*meshbench, *load_argv(url, tmp_path / "stalled")],
                capture_output=True,
                text=True,
                timeout=120,
            )
        calm = subprocess.run(
            [*meshbench, *load_argv(url, tmp_path / "calm")],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert stall.resumed_at_s is not None, stall.error
    assert stalled.returncode == 3, stalled.stdout + stalled.stderr
    assert "NOT A TRUSTWORTHY MEASUREMENT" in stalled.stdout
    assert "the generator's own schedule fell behind" in stalled.stdout, stalled.stdout
    # the exit status follows the verdict line, whichever it is on this machine
    assert (calm.returncode == 3) == ("NOT A TRUSTWORTHY" in calm.stdout), calm.stdout
    assert calm.returncode in (0, 3)


@pytest.mark.usefixtures("short_bound")
def test_meshbench_load_strict_exits_3_on_a_killed_generator_and_never_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, so the harness's overrun limit can be cut to 1 s."""
    monkeypatch.setattr(load_workers, "OVERRUN_GRACE_S", 1.0)
    monkeypatch.setattr(interrupts, "install", lambda: None)  # keep pytest's own Ctrl-C
    with (
        instant_envoy(free_port(), cpus="1") as url,
        stalled_generator(tmp_path / "out" / "generator.log", 0.5, None) as stall,
    ):
        rc = cli.main(load_argv(url, tmp_path / "out"))
    out = capsys.readouterr().out
    assert stall.stopped_at_s is not None, stall.error
    assert rc == 3, out
    assert "killed by the harness" in out
    assert "generator starved: did not finish within 1 s of its time bound; killed" in out
