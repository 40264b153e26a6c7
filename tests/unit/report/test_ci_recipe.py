"""The CI recipe in examples/ci/: the shell script's commands run on stored runs (the two
`meshbench run` steps replaced by stored run directories), and the GitHub Actions workflow
runs the same meshbench commands with the same flags."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from meshbench.report.verdict_json import read_verdict
from meshbench.testing.derived import shifted_run

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "examples" / "ci" / "gate-mesh-upgrade.sh"
WORKFLOW = ROOT / "examples" / "ci" / "gate-mesh-upgrade.yml"
CALIBRATION = ROOT / "tests" / "data" / "calibration-run"
MESHBENCH = Path(sys.executable).parent / "meshbench"


def recipe(tmp_path: Path, candidate: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The script with BASELINE_RUN / CANDIDATE_RUN standing for its two runs."""
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={
            **os.environ,
            "MESHBENCH": str(MESHBENCH),
            "BASELINE_RUN": str(CALIBRATION),
            "CANDIDATE_RUN": str(candidate),
            "OUT": str(tmp_path / "gate-out"),
            "THRESHOLD_MS": "0.5",
            "PERCENTILES": "50",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.fixture(scope="module")
def slower(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ci")
    return shifted_run(CALIBRATION, root / "after", {"envoy": 500.0, "envoy-mtls": 500.0})


def test_the_recipe_fails_the_job_on_a_regression(tmp_path: Path, slower: Path) -> None:
    done = recipe(tmp_path, slower)
    assert done.returncode == 1, done.stderr
    assert "REGRESSION   envoy p50 at 150 rps" in done.stdout
    out = tmp_path / "gate-out"
    assert read_verdict(out)["gate"]["outcome"] == "regression"
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    assert len(list((out / "fortio").glob("*.json"))) == 4  # exported despite the failure
    assert len(list((out / "smp").glob("*.json"))) == 9


def test_the_recipe_passes_an_unchanged_mesh(tmp_path: Path) -> None:
    same = tmp_path / "after"
    shutil.copytree(CALIBRATION, same)
    done = recipe(tmp_path, same)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcome: pass (exit 0)" in done.stdout


def test_the_recipe_needs_an_upgrade_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UPGRADE"}
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**env, "MESHBENCH": str(MESHBENCH), "BASELINE_RUN": str(CALIBRATION)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "set UPGRADE" in done.stderr


def _meshbench_commands(text: str) -> dict[str, set[str]]:
    """``{verb: flags}`` of every meshbench command in shell text (line continuations joined)."""
    text = text.replace("\\\n", " ")
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"(?:\bmb|\$MESHBENCH)\s+(run|gate|export)\b([^\n|]*)", text):
        out.setdefault(m.group(1), set()).update(re.findall(r"--[a-z-]+", m.group(2)))
    return out


def test_the_workflow_runs_the_scripts_meshbench_commands() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["gate"]["steps"]
    shell = "\n".join(str(s.get("run", "")) for s in steps)
    assert _meshbench_commands(shell) == _meshbench_commands(SCRIPT.read_text())
    assert set(_meshbench_commands(shell)) == {"run", "gate", "export"}
    env = workflow["jobs"]["gate"]["env"]
    assert {"SCENARIO", "THRESHOLD_MS", "PERCENTILES", "OUT"} <= set(env)
    assert steps[-1]["run"] == 'exit "${{ steps.gate.outputs.status }}"'
