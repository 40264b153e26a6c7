"""load_run: typed frames, warm-up kept but excluded, invalid and missing trials."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from meshbench.analysis import DIMS, load_run
from meshbench.analysis import histograms as hist
from meshbench.errors import ResultsError
from meshbench.results import hlog
from meshbench.testing.synthetic import lognormal_sampler

from .analysis_synth import RunFactory


def test_frames_are_tidy_and_typed(make_run: RunFactory) -> None:
    run = load_run(
        make_run(meshes=["none", "envoy"], rates=[50.0, 100.0], repeats=2, samples=500, intervals=3)
    )
    t = run.trials
    assert len(t) == 8 and t["valid"].dtype == bool and t["included"].all()
    assert t["rate_rps"].dtype == float and set(t["rate_rps"]) == {50.0, 100.0}
    assert (t["depth"] == 3).all() and (t["connections"] == 16).all()
    assert (t["mtls"] == "default").all() and (t["payload_bytes"] == 1024).all()
    assert run.swept == ["rate_rps"] and len(run.cells) == 2
    assert run.meshes == ["none", "envoy"]

    p = run.percentiles
    assert set(p["tag"]) == {"latency", "service", "send_lag"}
    assert len(p) == 8 * 3 * len(hist.PERCENTILES)
    assert set(p["label"]) == {"p50", "p90", "p99", "p99.9", "max"}
    assert {"trial_id", "mesh", *DIMS, "repeat", "percentile", "value_ms"} <= set(p.columns)

    iv = run.intervals
    lat = iv[iv["tag"] == "latency"]
    assert len(lat) == 8 * (1 + 3)  # one warm-up and three measured intervals per trial
    assert lat["warmup"].sum() == 8
    assert (lat.loc[~lat["warmup"], "count"] == 500).all()
    # each interval's percentiles are its own histogram's, as HdrHistogram reads them
    first = t.iloc[0]
    mine = lat[lat["trial_id"] == first["trial_id"]].sort_values("start_s")
    logged = [
        iv
        for iv in hlog.iter_log(run.path / first["histogram"])
        if iv.tag.removeprefix(hlog.WARMUP_PREFIX) == "latency"
    ]
    logged.sort(key=lambda iv: iv.start_s)
    assert len(logged) == len(mine) == 4
    for (_, row), logged_iv in zip(mine.iterrows(), logged, strict=True):
        for q, col in ((50, "p50_ms"), (99, "p99_ms"), (100, "max_ms")):
            assert row[col] == logged_iv.histogram.get_value_at_percentile(q) / 1000, (col, row)
    assert lat["run_time_s"].min() == 0.0

    c = run.cost
    assert set(c["component"]) == {"sidecar", "service", "generator"}
    assert len(c) == 8 * 3


def test_warmup_is_excluded_from_pooled_histograms(make_run: RunFactory) -> None:
    sampler = lognormal_sampler({"none": 0.0, "envoy": 0.0}, warmup_us=50_000.0)
    run = load_run(make_run(sampler=sampler, repeats=2, samples=300, intervals=2))
    pooled = run.pooled("none", 100.0)
    assert pooled.get_total_count() == 2 * 2 * 300
    assert pooled.get_max_value() < 50_000
    warm = run.intervals[run.intervals["warmup"] & (run.intervals["tag"] == "latency")]
    assert warm["p50_ms"].round(1).eq(50.0).all()  # kept and shown, but not pooled


def test_pooled_histogram_is_the_sum_of_trial_histograms(make_run: RunFactory) -> None:
    run = load_run(make_run(repeats=3, samples=400, intervals=2))
    ids = run.cell_trials("envoy", 100.0)
    total = sum(hist.counts(run.histograms[t]["latency"]) for t in ids)
    assert np.array_equal(hist.counts(run.pooled("envoy", 100.0)), total)
    per_trial = run.trials.set_index("trial_id").loc[ids, "p50_ms"]
    pooled_p50 = hist.percentiles_ms(run.pooled("envoy", 100.0), [50.0])[50.0]
    assert per_trial.min() <= pooled_p50 <= per_trial.max()


def test_invalid_and_missing_trials_are_not_included(make_run: RunFactory) -> None:
    probe = load_run(make_run("probe", repeats=2, samples=100, intervals=1))
    first, second = probe.trials["trial_id"].iloc[:2]
    run_dir = make_run("real", repeats=2, samples=100, intervals=1, invalid={first: "lag"})
    (run_dir / "histograms" / f"{second}.hlog").unlink()
    run = load_run(run_dir)
    t = run.trials.set_index("trial_id")
    assert not t.loc[first, "valid"] and not t.loc[first, "included"]
    assert t.loc[second, "valid"] and not t.loc[second, "included"]
    assert any(second in w and "no latency histogram" in w for w in run.warnings)


def test_incomplete_run_is_loaded_with_a_warning(make_run: RunFactory) -> None:
    run = load_run(make_run(status="interrupted", samples=100, intervals=1))
    assert any("interrupted" in w for w in run.warnings)


def test_unknown_schema_version_is_refused(make_run: RunFactory) -> None:
    run_dir = make_run(samples=100, intervals=1)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["schema_version"] = 99
    (run_dir / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ResultsError, match="schema version 99"):
        load_run(run_dir)


def test_not_a_run_directory(tmp_path: object) -> None:
    with pytest.raises(ResultsError, match=r"not a meshbench run directory"):
        load_run(str(tmp_path))


def test_a_run_with_no_trials_yet(make_run: RunFactory) -> None:
    run_dir = make_run(samples=100, intervals=1, status="running")
    (run_dir / "trials.csv").unlink()
    shutil.rmtree(run_dir / "histograms")
    run = load_run(run_dir)
    assert run.trials.empty and run.cells == [] and run.percentiles.empty


def test_sweep_dimensions_become_cells(make_run: RunFactory) -> None:
    run_dir = make_run(samples=200, intervals=1, repeats=2)
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["scenario"]["sweep"]["depth"] is None  # the scenario model dumps the sweep
    from meshbench.testing.synthetic import write_synthetic_run

    from .analysis_synth import scenario_dict

    sc = scenario_dict(["none", "envoy"], [100.0], 2)
    sc["sweep"]["depth"] = [1, 3]
    sc["aa_control"] = True
    out = run_dir.parent / "swept"
    out.mkdir()

    def sampler(t, n, rng):  # type: ignore[no-untyped-def]
        per_hop = 0.0 if t.mesh.startswith("none") else 400.0
        return rng.lognormal(np.log(800), 0.2, n) + per_hop * (t.depth or 3)

    write_synthetic_run(
        out,
        sc,
        sampler,
        measured_intervals=2,
        warmup_intervals=1,
        samples_per_interval=lambda _t: 1000,
    )
    run = load_run(out)
    assert run.swept == ["depth"] and [c.depth for c in run.cells] == [1, 3]
    assert run.meshes == ["none", "none-aa", "envoy"]
    assert run.cells[0].title(run.swept) == "100 rps, depth 1"
    from meshbench.analysis import overhead

    o = overhead(run).set_index(["mesh", "depth", "label"])
    assert o.loc[("envoy", 1, "p50"), "overhead_ms"] == pytest.approx(0.4, abs=0.05)
    assert o.loc[("envoy", 3, "p50"), "overhead_ms"] == pytest.approx(1.2, abs=0.05)
    assert o.loc[("none-aa", 3, "p50"), "verdict"] not in ("slower", "faster")


def test_platform_name_of_kind_runs_recorded_before_it_was_named(make_run: RunFactory) -> None:
    """Kind runs used to record the platform under "platform", not "name": they must not
    be reported (or compared) as "unknown"."""
    run_dir = make_run(platform="kind", meshes=["none", "istio"], repeats=2, samples=100)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["platform"] = {"platform": "kind", "kube_context": "kind-meshbench"}
    (run_dir / "run.json").write_text(json.dumps(meta))
    assert load_run(run_dir).platform == "kind"


def _edit_csv(run_dir: Path, edit: object) -> None:
    import csv

    path = run_dir / "trials.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    rows = edit(rows)  # type: ignore[operator]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: [*rows, rows[1]], r"lines 3 and \d+ have the same trial id"),
        (
            lambda rows: [{k: v for k, v in r.items() if k != "mesh"} for r in rows],
            r"missing column\(s\) \['mesh'\]",
        ),
        (
            lambda rows: [{**rows[0], "histogram": "../../../../etc/passwd"}, *rows[1:]],
            r"line 2 \(t001-.*\): histogram '../../../../etc/passwd' is outside the run directory",
        ),
        (
            lambda rows: [*rows[:2], {**rows[2], "p50_ms": "fast"}, *rows[3:]],
            r"line 4 \(.*\): p50_ms is 'fast', not a number",
        ),
        (
            lambda rows: [{**rows[0], "repeat": "1.5"}, *rows[1:]],
            r"line 2 \(.*\): repeat is '1.5', not a whole number",
        ),
        (
            lambda rows: [{**rows[0], "valid": "yes"}, *rows[1:]],
            r"line 2 \(.*\): valid is 'yes', not true or false",
        ),
    ],
)
def test_a_tampered_trials_csv_is_refused_not_analysed(
    make_run: RunFactory, edit: object, message: str
) -> None:
    run_dir = make_run(repeats=2, samples=100, intervals=1)
    _edit_csv(run_dir, edit)
    with pytest.raises(ResultsError, match=message):
        load_run(run_dir)


def _corrupt(run_dir: Path, shape: str) -> None:
    hlog_file = sorted((run_dir / "histograms").iterdir())[0]
    if shape == "run.json is a list":
        (run_dir / "run.json").write_text("[1, 2]")
    elif shape == "binary trials.csv":
        (run_dir / "trials.csv").write_bytes(b"\xe5\x00\xff" * 100)
    elif shape == "trials.csv is a directory":
        (run_dir / "trials.csv").unlink()
        (run_dir / "trials.csv").mkdir()
    elif shape == "no trials.csv on a complete run":
        (run_dir / "trials.csv").unlink()
    elif shape == "binary histogram":
        hlog_file.write_bytes(b"\xf0\x9f\x00" * 500)
    elif shape == "histogram is a directory":
        hlog_file.unlink()
        hlog_file.mkdir()


@pytest.mark.parametrize(
    ("shape", "refused"),
    [
        ("run.json is a list", "holds a JSON list"),
        ("binary trials.csv", "not a CSV file meshbench wrote"),
        ("trials.csv is a directory", "cannot read .*trials.csv"),
        ("no trials.csv on a complete run", "missing or empty, but run.json says"),
        ("binary histogram", None),
        ("histogram is a directory", None),
    ],
)
def test_corrupt_files_give_one_line_errors_or_exclude_the_trial(
    tmp_path: Path,
    shape: str,
    refused: str | None,
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(Path(__file__).resolve().parents[2] / "data" / "smoke-run", run_dir)
    _corrupt(run_dir, shape)
    if refused is not None:
        with pytest.raises(ResultsError, match=refused):
            load_run(run_dir)
        return
    run = load_run(run_dir)  # a broken histogram excludes its trial, with a warning
    assert any("cannot read" in w for w in run.warnings)
    assert (~run.trials["included"]).sum() == 1
