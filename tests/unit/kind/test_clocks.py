"""The kind nodes' clock against this host's (issue 27): measured before the run, used
for the shared start and the CPU window, or refused with its size."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshbench.errors import PlatformError
from meshbench.load.spec import LoadRequest
from meshbench.platforms.kind import bundle, clocks

from .conftest import Build
from .fakes import START_EPOCH_S, Rule, scenario
from .test_load import write_worker

NOW = START_EPOCH_S - 20  # the fake host's wall time when the cluster is prepared


def _node_clock(at_s: float) -> dict[str, list[Rule]]:
    return {"docker": [Rule("docker exec * date +%s.%N", stdout=f"{at_s:.9f}")]}


def _start_at(stdin: str, name: str) -> float:
    job = next(
        d
        for d in yaml.safe_load_all(stdin)
        if d and d["kind"] == "Job" and d["metadata"]["name"] == name
    )
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    return float(next(e["value"] for e in env if e["name"] == "MB_START_AT"))


def test_a_node_clock_ahead_of_the_host_moves_the_shared_start_into_node_time(
    build: Build, tmp_path: Path
) -> None:
    """Docker Desktop: the nodes' VM runs 7.5 s ahead. The workers read MB_START_AT on
    their own clock, so it is sent in node time (without this, 7.5 s of start delay
    is lost; beyond the delay every worker misses the shared origin)."""
    sc = scenario(meshes=["none"], kind={"load_workers": 1})
    write_worker(tmp_path / "w0", 0, START_EPOCH_S + 7.5)  # a worker on the node's clock
    logs = {0: bundle.pack(tmp_path / "w0")}
    platform, fake, _ = build(sc, rules=_node_clock(NOW + 7.5), worker_logs=logs)
    env = platform.environment().to_json()
    assert env["clock_skew"]["applied_s"] == pytest.approx(7.5)
    assert set(env["clock_skew"]["nodes"]) == {
        "meshbench-control-plane",
        "meshbench-worker",
        "meshbench-worker2",
    }
    assert any(c.startswith("docker exec meshbench-worker date +%s.%N") for c in fake.calls())
    assert platform.clock.wall() == pytest.approx(NOW + 7.5)
    request = LoadRequest(target_url="http://x/", rate_rps=5, duration_s=1, label="t1")
    with platform.deploy("none") as dep:
        summary = dep.run_load(request, tmp_path / "trial")
    assert _start_at(fake.stdin(), "load-t1") == pytest.approx(START_EPOCH_S + 7.5)
    assert summary.extra["workers_missed_shared_start"] == []


def test_a_host_clock_shared_with_the_nodes_changes_nothing(build: Build) -> None:
    sc = scenario(meshes=["none"])
    platform, _, _ = build(sc, rules=_node_clock(NOW + 0.02))  # within the noise
    env = platform.environment().to_json()
    assert env["clock_skew"]["applied_s"] == 0.0
    assert platform.clock.wall() == NOW


def test_a_skew_too_large_to_trust_is_refused_with_its_size(build: Build) -> None:
    sc = scenario(meshes=["none"])
    platform, fake, _ = build(sc, rules=_node_clock(NOW - 31.25))
    with pytest.raises(PlatformError, match=r"clock is -31\.2 s off this host's") as e:
        platform.environment()
    assert e.value.fix and "Docker Desktop" in e.value.fix
    assert not any("apply" in c for c in fake.calls())  # nothing deployed


def test_nodes_that_disagree_are_refused() -> None:
    measured = clocks.measure(
        ["a", "b"], {"a": "100.0", "b": "101.5"}.__getitem__, iter([100.0] * 4).__next__
    )
    with pytest.raises(PlatformError, match=r"disagree by 1\.50 s"):
        clocks.skew_to_use(measured)


def test_the_skew_is_taken_halfway_through_the_read() -> None:
    walls = iter([10.0, 10.4])
    [c] = clocks.measure(["n"], lambda node: "110.2\n", walls.__next__)
    assert c.skew_s == pytest.approx(100.0)
    assert c.uncertainty_s == pytest.approx(0.2)


def test_an_unreadable_node_clock_is_recorded_as_not_measured(build: Build) -> None:
    sc = scenario(meshes=["none"])
    platform, _, _ = build(sc, rules={"docker": [Rule("docker exec*", exit_code=1, stderr="no")]})
    env = platform.environment().to_json()
    assert str(env["clock_skew"]).startswith("not measured")
    assert platform.clock.wall() == NOW
