"""End to end on a real kind cluster: the smoke scenario, every mesh, one short trial each.

Needs a running Docker engine, kind, kubectl and helm (``meshbench doctor`` says what is
missing). Skipped, with the reason, wherever they are absent. It creates its own kind
cluster (``meshbench-e2e``) and deletes it at the end.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

MESHES = ["none", "istio", "linkerd", "kuma"]
SMOKE = {
    "name": "kind-smoke",
    "description": "One short trial per mesh on kind, to prove the whole path works.",
    "platform": "kind",
    "meshes": MESHES,
    "topology": {
        "entry": "frontend",
        "port": 8080,
        "services": [{"name": "frontend", "calls": ["backend"]}, {"name": "backend"}],
    },
    # 40 s measured: longer than the kubelet's ~15 s sample period, so CPU is not flagged
    "load": {"rates_rps": [20], "duration_s": 40, "warmup_s": 2, "connections": 4},
    "repeats": 1,
    "seed": 7,
    "validity": {"max_send_lag_p99_ms": 50},
    "kind": {
        "cluster_name": "meshbench-e2e",
        "load_workers": 2,
        "keep_cluster": False,
        "app_cpu_request": "50m",
        "load_cpu_request": "200m",
        "load_start_delay_s": 15,
    },
}


def kind_missing() -> str | None:
    """Why a kind cluster cannot be started here, or None when it can."""
    for tool in ("docker", "kind", "kubectl", "helm"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (run `meshbench doctor`)"
    try:
        subprocess.run(["docker", "info"], capture_output=True, check=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return "`docker info` failed: no Docker engine is running here"
    return None


_REASON = kind_missing()
pytestmark = [
    pytest.mark.kind,
    pytest.mark.skipif(_REASON is not None, reason=f"needs a kind cluster: {_REASON}"),
]


def test_smoke_scenario_on_kind(tmp_path: Path) -> None:
    from meshbench.runner.run import run_scenario

    scenario_path = tmp_path / "kind-smoke.yaml"
    scenario_path.write_text(yaml.safe_dump(SMOKE, sort_keys=False))
    run_dir = run_scenario(scenario_path, results_root=tmp_path / "results")
    assert run_dir is not None
    run = json.loads((run_dir / "run.json").read_text())
    platform = run["platform"]
    assert platform["pinned_versions"]["kubernetes"].startswith(platform["kubernetes_server"][:5])
    with (run_dir / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    # Issue 10: the baseline runs inside every mesh's install window, once per window.
    meshed = [m for m in MESHES if m != "none"]
    assert sorted(r["mesh"] for r in rows) == sorted(meshed + ["none"] * len(meshed))
    for row in rows:
        assert row["window"] in meshed, row
        assert row["mesh"] in ("none", row["window"]), row
    for row in rows:
        assert int(row["requests"]) > 0, row
        assert row["valid"] == "true", row
    for mesh in ("istio", "linkerd", "kuma"):
        proof = json.loads((run_dir / "proof" / f"{mesh}.json").read_text())
        assert proof["sidecars"] and all(proof["sidecars"].values()), proof
        assert proof["crossed_sidecars"] is True, proof  # every service's proxy counted
    assert set(platform["resilience_policies"]) == set(MESHES)
    trials = run_dir / "trials"
    for trial in trials.iterdir():
        summary = json.loads((trial / "summary.json").read_text())
        assert summary["extra"]["workers_missed_shared_start"] == [], trial.name
        usage = json.loads((trial / "usage.json").read_text())
        assert usage["after"]["sampled_at_s"], trial.name  # the kubelet's own sample times
    for mesh in meshed:  # no proxy in the baseline's pods while the mesh was installed
        none = json.loads((run_dir / "proof" / f"none-in-{mesh}.json").read_text())
        assert none["sidecars"] and not any(none["sidecars"].values()), none
        assert none["details"]["mesh_installed"] == mesh, none
        assert none["details"]["namespaces"]["app"] == "mb-base-app", none
    # Nothing left behind: the cluster this test created is gone.
    clusters = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True)
    assert "meshbench-e2e" not in clusters.stdout.split()
