"""`meshbench gate`, `baseline` and verdict.json: exit codes, CI-log summary, JUnit XML,
the baseline store's refusals, and the verdict file's schema and reader."""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from meshbench.analysis import analyse, compare_runs, load_run
from meshbench.cli import main
from meshbench.errors import ResultsError
from meshbench.report.verdict_json import (
    VERDICT_JSON,
    compare_document,
    read_verdict,
    run_document,
    write_verdict,
)
from meshbench.results.baselines import find_baseline, list_baselines, save_baseline
from meshbench.testing.derived import shifted_run, with_host

from .conftest import SampleReport

DATA = Path(__file__).resolve().parents[2] / "data"
CALIBRATION = DATA / "calibration-run"
GOLDEN_RUN = DATA / "golden" / "schema-v1"
GOLDEN_VERDICT = DATA / "golden" / "verdict-v1.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gate-cli")
    copy = root / "candidate-same"
    shutil.copytree(CALIBRATION, copy)
    slower = shifted_run(CALIBRATION, root / "candidate-slower", {"envoy": 500.0})
    return {"root": root, "same": copy, "slower": slower}


def test_gate_cli_regression_summary_junit_and_verdict_file(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    junit = runs["root"] / "junit.xml"
    out_dir = runs["root"] / "gate-out"
    code = main(
        [
            "gate",
            str(CALIBRATION),
            str(runs["slower"]),
            "--junit",
            str(junit),
            "--out",
            str(out_dir),
        ]
    )
    assert code == 1
    out = capsys.readouterr().out.splitlines()
    regression = [ln for ln in out if ln.startswith("REGRESSION")]
    assert len(regression) == 1 and regression[0].startswith("REGRESSION   envoy p50 at 150 rps")
    assert "+0.500 ms [+0.18" in regression[0]
    assert any(ln.startswith("PASS") or ln.startswith("INCONCLUSIVE") for ln in out)
    assert any(ln.startswith("not gated    none p50") for ln in out)
    assert out[-3] == "outcome: regression (exit 1)"

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 4  # envoy, envoy-mtls x p50, p99
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["envoy p50 at 150 rps"] and suite.get("failures") == "1"
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert suite.get("skipped") == str(len(skipped))

    doc = read_verdict(out_dir)
    assert doc["kind"] == "gate" and doc["gate"]["outcome"] == "regression"
    assert doc["gate"]["exit_code"] == 1
    gated = {(r["mesh"], r["label"]): r for r in doc["gate"]["rows"]}
    r = gated[("envoy", "p50")]
    assert r["outcome"] == "regression" and r["verdict"] == "slower"
    assert r["estimate_ms"] == pytest.approx(0.5, abs=0.005)
    assert gated[("envoy-mtls", "p50")]["outcome"] != "regression"
    assert doc["runs"]["baseline"]["run_id"] == "20261126T180701Z-calibration"
    assert doc["runs"]["candidate"]["design"]["repeats"] == 12


def test_gate_cli_pass_and_inconclusive(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["gate", str(CALIBRATION), str(runs["same"]), "--out", str(runs["root"] / "aa")]
    assert main([*args, "--threshold-ms", "0.5", "--percentiles", "50"]) == 0
    assert "outcome: pass (exit 0)" in capsys.readouterr().out
    assert main(args) == 3
    out = capsys.readouterr().out
    assert "outcome: inconclusive (exit 3)" in out
    assert "these runs could detect" in out and "repeats in each run would decide" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["gate", "only-one-run"],
        ["gate", "a", "b", "c"],
        ["gate", "--against", "main", "a", "b"],
        ["gate", "a", "b", "--percentiles", "p99"],
        ["gate", "a", "b", "--threshold-ms", "half"],
    ],
)
def test_gate_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_gate_input_errors_exit_2(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", str(CALIBRATION), str(tmp_path / "missing")]) == 2
    assert "not a meshbench run directory" in capsys.readouterr().err
    other = tmp_path / "other-host"
    shutil.copytree(runs["same"], other)
    with_host(other, cpu_count=16)
    assert main(["gate", str(CALIBRATION), str(other)]) == 2
    err = capsys.readouterr().err
    assert "not comparable: host cpu_count: 2 vs 16" in err and "--force" in err
    code = main(
        [
            "gate",
            str(CALIBRATION),
            str(other),
            "--force",
            "--threshold-ms",
            "0.5",
            "--percentiles",
            "50",
            "--out",
            str(tmp_path / "forced"),
        ]
    )
    assert code == 0
    assert "forced: host cpu_count: 2 vs 16" in capsys.readouterr().out


def test_baseline_save_then_gate_against_it(
    tmp_path: Path, runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "baselines"
    assert main(["baseline", "save", str(CALIBRATION), "main", "--baselines", str(store)]) == 0
    saved = list_baselines(store)
    assert [(b.name, b.scenario) for b in saved] == [("main", "calibration")]
    assert saved[0].run_dir.parent.name == saved[0].fingerprint
    assert (saved[0].run_dir / "histograms").is_dir() and (saved[0].run_dir / "run.json").exists()
    # a second save of the same name is refused unless forced
    assert main(["baseline", "save", str(CALIBRATION), "main", "--baselines", str(store)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (
        main(["baseline", "save", str(CALIBRATION), "main", "--baselines", str(store), "--force"])
        == 0
    )
    assert len(list_baselines(store)) == 1
    capsys.readouterr()
    assert main(["baseline", "list", "--baselines", str(store)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[:3] for ln in listed] == [["main", "calibration", saved[0].fingerprint]]

    base = ["gate", "--against", "main", "--baselines", str(store)]
    assert main([*base, str(runs["slower"]), "--out", str(tmp_path / "g1")]) == 1
    out = capsys.readouterr().out
    assert "against baseline main (20261126T180701Z-calibration)" in out
    assert (tmp_path / "g1" / VERDICT_JSON).exists()

    # a candidate from another host finds no baseline of its own: refused, naming it
    other = tmp_path / "other"
    shutil.copytree(runs["slower"], other)
    with_host(other, cpu_model="Intel(R) Xeon(R) Processor")
    assert main([*base, str(other)]) == 2
    err = capsys.readouterr().err
    assert "baseline 'main' was saved for another scenario or host" in err
    assert "host cpu_model: 'AMD EPYC' vs 'Intel(R) Xeon(R) Processor'" in err
    code = main([*base, str(other), "--force", "--out", str(tmp_path / "g2")])
    assert code == 1
    assert "forced: baseline main: host cpu_model" in capsys.readouterr().out

    assert (
        main(["gate", "--against", "nothing", "--baselines", str(store), str(runs["slower"])]) == 2
    )
    assert "no baseline named 'nothing'" in capsys.readouterr().err


def test_baseline_store_refusals(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not allowed"):
        save_baseline(CALIBRATION, "../escape", tmp_path)
    with pytest.raises(ResultsError, match="none saved"):
        find_baseline("main", load_run(CALIBRATION).meta, tmp_path)
    b = save_baseline(CALIBRATION, "main", tmp_path)
    found, differ = find_baseline("main", load_run(CALIBRATION).meta, tmp_path)
    assert found == b and differ == []
    sample = load_run(DATA / "sample-run").meta
    with pytest.raises(ResultsError, match="scenario: 'calibration' vs 'sample'"):
        find_baseline("main", sample, tmp_path)


# verdict.json ------------------------------------------------------------------------


def _volatile(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("generated_utc", "meshbench_version")}
    out["runs"] = {k: {**v, "path": None} for k, v in doc["runs"].items()}
    return out


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON, floats within 1e-6 relative (different scipy builds)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12), where
    else:
        assert a == b, where


def test_the_golden_verdict_file_is_still_read_and_still_written_the_same() -> None:
    golden = read_verdict(GOLDEN_VERDICT)
    assert golden["schema_version"] == 1 and golden["kind"] == "run"
    envoy = {r["label"]: r for r in golden["verdicts"] if r["mesh"] == "envoy"}
    assert envoy["p50"]["verdict"] == "slower" and envoy["p50"]["primary"] is True
    assert envoy["max"]["verdict"] == "descriptive"
    now = run_document(analyse(load_run(GOLDEN_RUN)))
    _same(_volatile(now), _volatile(golden))


def test_every_verdict_record_carries_interval_mde_and_threshold() -> None:
    doc = run_document(analyse(load_run(CALIBRATION)))
    assert doc["runs"]["run"]["design"]["repeats"] == 12
    assert doc["runs"]["run"]["scope"]["deployments_covered"] is False
    assert "Scope: the intervals cover" in doc["runs"]["run"]["scope"]["summary"]
    for r in doc["verdicts"]:
        assert {
            "estimate_ms",
            "ci_low_ms",
            "ci_high_ms",
            "mde_ms",
            "threshold_ms",
            "verdict",
        } <= r.keys()
    primary = [r for r in doc["verdicts"] if r["primary"] and r["mesh"] == "envoy"]
    assert {r["label"] for r in primary} == {"p50", "p99"}
    assert all(r["verdict"] == "slower" for r in primary)
    json.dumps(doc, allow_nan=False)  # no NaN left: null instead


def test_compare_and_report_write_verdict_json(tmp_path: Path, sample_report: SampleReport) -> None:
    doc = read_verdict(sample_report.run_dir)
    assert doc["kind"] == "run" and doc["runs"]["run"]["run_id"] == "sample-run"
    cmp_doc = compare_document(compare_runs(CALIBRATION, CALIBRATION))
    assert cmp_doc["kind"] == "compare" and {"a", "b"} == set(cmp_doc["runs"])
    assert {r["quantity"] for r in cmp_doc["verdicts"]} == {"latency", "overhead vs none"}
    path = write_verdict(cmp_doc, tmp_path)
    assert read_verdict(path)["verdicts"] == cmp_doc["verdicts"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 2}, "verdict schema version 2; this meshbench reads 1"),
        ({"schema_version": None}, "verdict schema version None"),
        ({"schema": "something.else"}, "not a meshbench verdict file"),
        ({"kind": "poll"}, "kind 'poll'"),
    ],
)
def test_the_reader_refuses_unknown_versions_and_schemas(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    doc = {**json.loads(GOLDEN_VERDICT.read_text()), **change}
    (tmp_path / VERDICT_JSON).write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message):
        read_verdict(tmp_path)


def test_the_reader_refuses_what_is_not_a_verdict_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="does not exist"):
        read_verdict(tmp_path)
    (tmp_path / VERDICT_JSON).write_text("[1, 2]")
    with pytest.raises(ResultsError, match="not a meshbench verdict file"):
        read_verdict(tmp_path)
    (tmp_path / VERDICT_JSON).write_text("{not json")
    with pytest.raises(ResultsError, match="not a readable JSON file"):
        read_verdict(tmp_path)
