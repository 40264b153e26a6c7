"""A platform that runs one mesh at a time (kind) runs the baseline beside every mesh, in
each mesh's install window (meshbench.planning.windows); analysis pairs each mesh only with the
baseline trials of its own window, so drift between windows is not read as overhead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from meshbench.analysis import load_run, overhead
from meshbench.analysis.overhead import cell_matrix
from meshbench.planning.plan import Trial
from meshbench.planning.windows import in_windows
from meshbench.testing.frames import row, value
from meshbench.testing.synthetic import write_synthetic_run

from .analysis_synth import scenario_dict

EFFECT_US = {"none": 0.0, "none-aa": 0.0, "istio": 1000.0, "linkerd": 500.0}
WINDOW_DRIFT_US = {"istio": 0.0, "linkerd": 3000.0}  # the host got slower between installs


def sample(t: Trial, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    window = getattr(t, "window", "")
    base = rng.lognormal(np.log(2000.0), 0.02, n)
    return np.asarray(base + WINDOW_DRIFT_US[window] + EFFECT_US[t.mesh], dtype=np.float64)


def windowed_run(tmp_path: Path, repeats: int = 3) -> Path:
    sc = scenario_dict(["none", "istio", "linkerd"], [50.0], repeats, platform="kind")
    sc["aa_control"] = True
    run_dir = tmp_path / "kind-run"
    run_dir.mkdir()
    write_synthetic_run(
        run_dir,
        sc,
        sample,
        measured_intervals=2,
        warmup_intervals=1,
        samples_per_interval=lambda _t: 500,
        platform_name="kind",
        order=in_windows,
    )
    return run_dir


def test_each_mesh_is_compared_with_the_baseline_of_its_own_window(tmp_path: Path) -> None:
    run = load_run(windowed_run(tmp_path))
    t = run.trials
    assert set(t.loc[t["mesh"] == "none", "window"]) == {"istio", "linkerd"}
    assert (t["mesh"] == "none").sum() == 6  # every baseline trial once per window
    o = overhead(run).set_index(["mesh", "label"])
    for mesh, effect_us in (("istio", 1000.0), ("linkerd", 500.0)):
        r = row(o, (mesh, "p50"))
        assert abs(r["overhead_ms"] - effect_us / 1000) < 0.05, (mesh, r["overhead_ms"])
        assert r["n_blocks"] == 3 and r["interleaved"] and r["method"] == "paired"
    # descriptive figures too: each mesh beside its own window's baseline
    baseline_ms = {mesh: value(o, (mesh, "p50"), "baseline_ms") for mesh in ("istio", "linkerd")}
    drift_ms = baseline_ms["linkerd"] - baseline_ms["istio"]
    assert abs(drift_ms - 3.0) < 0.1
    assert abs(value(o, ("linkerd", "p50"), "pooled_diff_ms") - 0.5) < 0.1
    # the A/A control is paired with none in every window: noise, never drift
    aa = row(o, ("none-aa", "p50"))
    assert abs(aa["overhead_ms"]) < 0.05 and aa["n_blocks"] == 6


def test_blocks_are_repeats_inside_windows(tmp_path: Path) -> None:
    run = load_run(windowed_run(tmp_path, repeats=2))
    m = cell_matrix(run, run.cells[0], [50.0])
    assert m.windows == ["istio", "istio", "linkerd", "linkerd"] and m.repeats == [1, 2, 1, 2]
    istio, linkerd = m.arms.index("istio"), m.arms.index("linkerd")
    assert np.isnan(m.values_us[istio, 2:]).all() and np.isnan(m.values_us[linkerd, :2]).all()
    assert m.interleaved  # each window's blocks ran back to back
