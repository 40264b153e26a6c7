from __future__ import annotations

from pathlib import Path

import pytest

from meshbench.config.scenario import load_scenario, parse_scenario
from meshbench.errors import ScenarioError

MINIMAL = {"name": "t", "meshes": ["none", "envoy"], "load": {"rates_rps": [100], "duration_s": 2}}


def test_shipped_scenarios_are_valid(repo: Path) -> None:
    default = load_scenario(repo / "scenarios" / "default.yaml")
    smoke = load_scenario(repo / "scenarios" / "smoke.yaml")
    for s in (default, smoke):
        assert s.platform == "local"
        assert set(s.meshes) == {"none", "envoy", "envoy-mtls"}
        assert [x.name for x in s.topology.reachable()] == ["frontend", "middle", "backend"]
    assert default.repeats >= 3
    # The default must fit in five minutes including set-up: budget the measured time
    # (a trial took 12.1 s for 3 + 8 s of load; a fresh deployment of an arm ~2 s; the
    # report ~15 s).
    per_trial_s = default.load.warmup_s + default.load.duration_s + 1.5
    trials = len(default.meshes) * default.repeats * len(default.load.rates_rps)
    assert trials * per_trial_s + len(default.meshes) * default.deployments * 2 < 285
    per_trial_s = smoke.load.warmup_s + smoke.load.duration_s + 3
    assert len(smoke.meshes) * smoke.repeats * per_trial_s < 45


def test_defaults_fill_in() -> None:
    s = parse_scenario(MINIMAL)
    assert s.topology.depth() == 3
    assert s.load.connections == 16
    assert s.has_baseline


def test_mesh_not_on_platform_names_field_value_and_allowed() -> None:
    with pytest.raises(ScenarioError) as e:
        parse_scenario({**MINIMAL, "meshes": ["none", "istio"]}, "x.yaml")
    msg = str(e.value)
    assert msg.startswith("x.yaml: ")
    assert "'istio'" in msg and "'local'" in msg and "envoy-mtls" in msg


def test_bad_value_names_field_path_and_value() -> None:
    bad = {**MINIMAL, "load": {"rates_rps": [100], "duration_s": -1}}
    with pytest.raises(
        ScenarioError, match=r"x.yaml: load.duration_s: -1 is invalid: .*greater than 0"
    ):
        parse_scenario(bad, "x.yaml")


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ScenarioError, match=r"load.rate: unknown field"):
        parse_scenario({**MINIMAL, "load": {"rates_rps": [1], "duration_s": 1, "rate": 5}}, "x")


def test_missing_field_is_named() -> None:
    with pytest.raises(ScenarioError, match=r"meshes: required field is missing"):
        parse_scenario({"name": "t", "load": {"rates_rps": [1], "duration_s": 1}}, "x")


def test_bad_rate_and_duplicate_mesh() -> None:
    with pytest.raises(ScenarioError, match=r"every rate must be > 0"):
        parse_scenario({**MINIMAL, "load": {"rates_rps": [0], "duration_s": 1}})
    with pytest.raises(ScenarioError, match=r"repeated: \['none'\]"):
        parse_scenario({**MINIMAL, "meshes": ["none", "none"]})


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(p)
    p.write_text("- a list\n")
    with pytest.raises(ScenarioError, match="must be a YAML mapping"):
        load_scenario(p)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"repeats": 2, "deployments": 3}, "deployments (3) cannot exceed repeats (2)"),
        ({"platform": "kind", "repeats": 4, "deployments": 2}, "only implemented for the local"),
    ],
)
def test_deployments_are_checked(extra: dict[str, object], message: str) -> None:
    data = {**MINIMAL, **extra}
    if data.get("platform") == "kind":
        data["meshes"] = ["none", "istio"]
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_scenario(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: t\nmeshes: [none]\nload: {rates_rps: [100], duration_s: 2}\n"
            "load: {rates_rps: [5000], duration_s: 2}\n",
            "key 'load' is given twice",
        ),
        ("name: t\nmeshes: [none]\nload: {rates_rps: [.nan], duration_s: 2}\n", "rates_rps"),
        ("name: t\nmeshes: [none]\nload: {rates_rps: [100], duration_s: .inf}\n", "duration_s"),
        (
            "name: t\nmeshes: [none]\nload: {rates_rps: [100], duration_s: 2, connections: true}\n",
            "connections: True is a boolean where a number belongs",
        ),
        (
            "name: t\nmeshes: [none]\nload: {rates_rps: [true], duration_s: 2}\n",
            "rates_rps: \\[True\\] is a boolean",
        ),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply|not valid YAML"),
    ],
)
def test_hostile_scenarios_get_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(p)


def test_scenario_files_that_are_not_text_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: t\n\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(binary)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario("/dev/zero")
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_text("#" * (2 << 20))
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(big)


@pytest.mark.parametrize(
    ("cpus", "message"),
    [
        ("-", "each part must be N or LOW-HIGH"),
        ("1-0", "each part must be N or LOW-HIGH"),
        ("0,", "each part must be N or LOW-HIGH"),
    ],
)
def test_cpu_lists_must_name_cpus(cpus: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({**MINIMAL, "local": {"load_cpus": cpus}})


def test_pinning_to_cpus_this_host_lacks_is_refused_before_anything_runs(
    tmp_path: Path, repo: Path
) -> None:
    import os

    from meshbench.runner.run import run_scenario

    text = (
        (repo / "scenarios" / "smoke.yaml").read_text().replace('pod_cpus: "1"', 'pod_cpus: "999"')
    )
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError, match=r"local.pod_cpus '999' names CPU\(s\) \[999\]"):
        run_scenario(tmp_path / "s.yaml", tmp_path / "results")
    assert not (tmp_path / "results").exists()
    assert max(os.sched_getaffinity(0)) < 999


def test_mesh_and_rate_errors_name_their_field() -> None:
    with pytest.raises(
        ScenarioError,
        match=r"^x.yaml: meshes: \['istio'\] is invalid: meshes "
        r"\['istio'\] are not available on platform 'local'",
    ):
        parse_scenario({**MINIMAL, "meshes": ["istio"]}, "x.yaml")
    with pytest.raises(ScenarioError, match=r"^x.yaml: load.rates_rps: \[0\] is invalid"):
        parse_scenario({**MINIMAL, "load": {"rates_rps": [0], "duration_s": 1}}, "x.yaml")
    kind = {**MINIMAL, "platform": "kind", "meshes": ["none", "envoy"]}
    with pytest.raises(ScenarioError, match=r"not available on platform 'kind'"):
        parse_scenario(kind, "x.yaml")


def test_the_number_of_trials_is_bounded_and_the_factors_named() -> None:
    from meshbench.config.scenario import MAX_TRIALS

    data = {
        "name": "wide",
        "meshes": ["none", "envoy"],
        "repeats": 1000,
        "load": {"rates_rps": list(range(1, 51)), "duration_s": 1},
        "sweep": {"connections": [1, 2]},
    }
    with pytest.raises(
        ScenarioError,
        match=rf"the plan has 200,000 trials \(2 arms x 50 "
        rf"load.rates_rps x 1000 repeats x 2 sweep.connections"
        rf"\); the most allowed is {MAX_TRIALS:,}",
    ):
        parse_scenario(data, "wide.yaml")
