"""`meshbench export`: Fortio and SMP results checked field by field against the upstream
definitions, and a stored run's percentiles round-tripped through each within 1 µs.

The upstream definitions are transcribed here from the sources the exporters cite
(Go structs of fortio/fortio at 45e18710810d864a615618087228996a0a824b2f; the protos of
service-mesh-performance/service-mesh-performance at
6ecbce7985dddb5577509f25a1ab67959da8ca68), independently of the exporters' own tables;
the SMP files are parsed by protobuf's own JSON parser, which refuses unknown fields
and mistyped values.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    json_format,
    message_factory,
    timestamp_pb2,
)
from google.protobuf.message import Message

from meshbench.analysis import histograms as hist
from meshbench.analysis import load_run
from meshbench.analysis.stored_run import Run
from meshbench.cli import main
from meshbench.config.dimensions import cell_of
from meshbench.export import export_run
from meshbench.export.tidy_csv import RENAMED

DATA = Path(__file__).resolve().parents[2] / "data"
CALIBRATION = DATA / "calibration-run"

# --- Fortio: Go types of the exported fields (periodic.RunnerResults, fhttp.HTTPRunnerResults
# and its embedded HTTPOptions; stats.HistogramData, Bucket with its embedded Interval,
# Percentile) ----------------------------------------------------------------------------
FORTIO_RESULT = {
    "RunType": "string",
    "Labels": "string",
    "StartTime": "time.Time",
    "RequestedQPS": "string",
    "RequestedDuration": "string",
    "ActualQPS": "float64",
    "ActualDuration": "time.Duration",
    "NumThreads": "int",
    "Version": "string",
    "DurationHistogram": "*stats.HistogramData",
    "ErrorsDurationHistogram": "*stats.HistogramData",
    "Exactly": "int64",
    "Jitter": "bool",
    "Uniform": "bool",
    "NoCatchUp": "bool",
    "RunID": "int64",
    "AccessLoggerInfo": "string",
    "ID": "string",
    "RetCodes": "map[int]int64",
    "IPCountMap": "map[string]int",
    "Sizes": "*stats.HistogramData",
    "HeaderSizes": "*stats.HistogramData",
    "Sockets": "[]int64",
    "SocketCount": "int64",
    "ConnectionStats": "*stats.HistogramData",
    "AbortOn": "int",
    "URL": "string",
    "NumConnections": "int",
}
HISTOGRAM_DATA = {
    "Count": "int64",
    "Min": "float64",
    "Max": "float64",
    "Sum": "float64",
    "Avg": "float64",
    "StdDev": "float64",
    "Data": "[]Bucket",
    "Percentiles": "[]Percentile",
}
BUCKET = {"Start": "float64", "End": "float64", "Percent": "float64", "Count": "int64"}
PERCENTILE = {"Percentile": "float64", "Value": "float64"}
UI_READS = ["Labels", "URL", "StartTime", "ActualQPS", "RequestedQPS", "NumThreads", "RetCodes"]


def _go_value(go: str, v: Any, where: str) -> None:
    """``v`` is what Go's encoding/json writes for a value of type ``go``."""
    if go == "string":
        assert isinstance(v, str), where
    elif go == "bool":
        assert isinstance(v, bool), where
    elif go in ("int", "int64", "time.Duration"):
        assert isinstance(v, int) and not isinstance(v, bool), where
    elif go == "float64":
        assert isinstance(v, int | float) and not isinstance(v, bool), where
    elif go == "time.Time":
        assert isinstance(v, str) and v.endswith("Z"), where
        datetime.fromisoformat(v)
    elif go == "map[int]int64":
        assert isinstance(v, dict), where
        for k, n in v.items():
            int(k)
            _go_value("int64", n, f"{where}[{k}]")
    elif go == "*stats.HistogramData":
        if v is not None:
            _go_struct(HISTOGRAM_DATA, v, where)
    elif go == "[]Bucket":
        assert isinstance(v, list), where
        for i, b in enumerate(v):
            _go_struct(BUCKET, b, f"{where}[{i}]")
    elif go == "[]Percentile":
        assert isinstance(v, list), where
        for i, p in enumerate(v):
            _go_struct(PERCENTILE, p, f"{where}[{i}]")
    else:
        raise AssertionError(f"{where}: unexpected type {go}")


def _go_struct(fields: dict[str, str], obj: Any, where: str) -> None:
    assert isinstance(obj, dict), where
    unknown = set(obj) - set(fields)
    assert not unknown, f"{where}: not a field of the Go struct: {unknown}"
    for k, v in obj.items():
        _go_value(fields[k], v, f"{where}.{k}")


def fortio_calc_percentile(data: dict[str, Any], q: float) -> float:
    """Fortio's HistogramData.CalcPercentile (stats/stats.go), transcribed."""
    if q >= 100:
        return float(data["Max"])
    pp = 100.0 / data["Count"]
    if q <= pp:
        return float(data["Min"])
    for b in data["Data"]:
        if q <= b["Percent"]:
            return float(b["Start"] + (q - pp) / (b["Percent"] - pp) * (b["End"] - b["Start"]))
        pp = b["Percent"]
    return float(data["Max"])


@pytest.fixture(scope="module")
def run() -> Run:
    return load_run(CALIBRATION)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("export")
    return {f: export_run(CALIBRATION, f, out / f) for f in ("fortio", "smp", "csv")}


def _pooled_us(run: Run, mesh: str, cell_row: dict[str, Any], q: float) -> float:
    h = run.pooled(mesh, cell_of(cell_row))
    return float(hist.percentiles_us(hist.counts(h), hist.layout(h), [q])[0])


def test_fortio_results_have_fortios_fields_types_and_units(
    run: Run, exported: dict[str, list[Path]]
) -> None:
    files = exported["fortio"]
    assert sorted(p.name for p in files) == sorted(
        f"20261126T180701Z-calibration_{m}_150rps.json"
        for m in ("none", "none-aa", "envoy", "envoy-mtls")
    )
    assert all(p.parent == files[0].parent for p in files)  # flat: `fortio report` lists *.json
    for path in files:
        doc = json.loads(path.read_text())
        _go_struct(FORTIO_RESULT, doc, path.name)
        assert all(k in doc for k in UI_READS)
        mesh = path.stem.split("_")[1]
        cell = {"rate_rps": 150.0, **run.cells[0].as_dict()}
        t = run.trials[(run.trials["mesh"] == mesh) & run.trials["included"]]
        h = doc["DurationHistogram"]
        # units: seconds in the histogram, nanoseconds in ActualDuration
        assert h["Count"] == int(t["requests"].sum()) == sum(b["Count"] for b in h["Data"])
        assert doc["ActualDuration"] == pytest.approx(t["duration_s"].sum() * 1e9, rel=1e-9)
        assert doc["ActualQPS"] == pytest.approx(150.0, rel=0.01)
        assert doc["RequestedQPS"] == "150" and doc["NumThreads"] == 16
        assert doc["RetCodes"] == {"200": h["Count"]}
        pooled = run.pooled(mesh, cell_of(cell))
        assert h["Avg"] * 1000 == pytest.approx(pooled.get_mean_value() / 1000, rel=1e-9)
        assert 0.0005 < h["Min"] < h["Avg"] < h["Max"] < 0.1  # seconds, not ms or µs
        assert h["Data"][0]["Start"] == h["Min"] and h["Data"][-1]["End"] == h["Max"]
        assert h["Data"][-1]["Percent"] == pytest.approx(100.0)
        ends = [b["End"] for b in h["Data"]]
        assert ends == sorted(ends)
        assert all(b["Start"] <= b["End"] for b in h["Data"])
        for p in h["Percentiles"]:
            mine_us = _pooled_us(run, mesh, cell, p["Percentile"])
            assert abs(p["Value"] * 1e6 - mine_us) < 1.0  # the round trip, within 1 µs
            # Fortio's own interpolation over our buckets stays inside the bucket
            theirs_us = fortio_calc_percentile(h, p["Percentile"]) * 1e6
            assert mine_us - 0.002 * mine_us - 1 <= theirs_us <= mine_us + 1e-6


def test_fortio_percentiles_round_trip_a_shifted_run(
    tmp_path: Path, run: Run, exported: dict[str, list[Path]]
) -> None:
    """The failing side of the round trip: a run whose envoy arm is 0.5 ms slower exports
    values 0.0005 s larger; the unshifted export does not match it."""
    from meshbench.testing.derived import shifted_run

    slower = shifted_run(CALIBRATION, tmp_path / "slower", {"envoy": 500.0})
    (path,) = [p for p in export_run(slower, "fortio", tmp_path / "f") if "_envoy_" in p.name]
    before = json.loads(next(p for p in exported["fortio"] if "_envoy_" in p.name).read_text())[
        "DurationHistogram"
    ]["Percentiles"]
    after = json.loads(path.read_text())["DurationHistogram"]["Percentiles"]
    for b, a in zip(before, after, strict=True):
        assert a["Value"] - b["Value"] == pytest.approx(0.0005, abs=0.00001)


# --- SMP: the protos, transcribed as descriptors ------------------------------------------
F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def _map(msg: descriptor_pb2.DescriptorProto, name: str, number: int, scope: str) -> None:
    entry = msg.nested_type.add(name="".join(w.title() for w in name.split("_")) + "Entry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=OPT)
    entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=OPT)
    msg.field.add(
        name=name, number=number, type=F.TYPE_MESSAGE, label=REP, type_name=f"{scope}.{entry.name}"
    )


def _scalars(msg: descriptor_pb2.DescriptorProto, fields: list[tuple[str, int, int]]) -> None:
    for name, number, kind in fields:
        msg.field.add(name=name, number=number, type=kind, label=OPT)


def smp_pool() -> descriptor_pool.DescriptorPool:
    """protos/service_mesh_performance.proto and service_mesh.proto (package smp): the
    messages meshbench writes, every field with its number and type."""
    fd = descriptor_pb2.FileDescriptorProto(
        name="smp_transcribed.proto",
        package="smp",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    mesh = fd.message_type.add(name="ServiceMesh")
    mesh_type = mesh.enum_type.add(name="Type")
    for i, n in enumerate(
        [
            "INVALID_MESH",
            "APP_MESH",
            "CONSUL",
            "ISTIO",
            "KUMA",
            "LINKERD",
            "TRAEFIK_MESH",
            "OCTARINE",
            "NETWORK_SERVICE_MESH",
            "TANZU",
            "OPEN_SERVICE_MESH",
            "NGINX_SERVICE_MESH",
            "CILIUM_SERVICE_MESH",
        ]
    ):
        mesh_type.value.add(name=n, number=i)
    mesh.field.add(
        name="type", number=1, type=F.TYPE_ENUM, label=OPT, type_name=".smp.ServiceMesh.Type"
    )
    _scalars(mesh, [("version", 2, F.TYPE_STRING)])
    _map(mesh, "labels", 3, ".smp.ServiceMesh")
    _map(mesh, "annotations", 4, ".smp.ServiceMesh")

    res = fd.message_type.add(name="PerformanceTestResult")
    lat = res.nested_type.add(name="Latency")
    _scalars(
        lat,
        [
            (n, i + 1, F.TYPE_DOUBLE)
            for i, n in enumerate(["min", "average", "p50", "p90", "p99", "max"])
        ],
    )
    _scalars(res, [("smp_version", 1, F.TYPE_STRING), ("id", 2, F.TYPE_STRING)])
    _map(res, "labels", 3, ".smp.PerformanceTestResult")
    for name, number in (("start_time", 4), ("end_time", 5)):
        res.field.add(
            name=name,
            number=number,
            type=F.TYPE_MESSAGE,
            label=OPT,
            type_name=".google.protobuf.Timestamp",
        )
    res.field.add(
        name="latencies_ms",
        number=6,
        type=F.TYPE_MESSAGE,
        label=OPT,
        type_name=".smp.PerformanceTestResult.Latency",
    )
    _scalars(
        res,
        [
            ("actual_qps", 7, F.TYPE_DOUBLE),
            ("details_uri", 8, F.TYPE_STRING),
            ("test_id", 9, F.TYPE_STRING),
            ("mesh_config_id", 10, F.TYPE_STRING),
            ("env_id", 11, F.TYPE_STRING),
        ],
    )

    cfg = fd.message_type.add(name="ServiceMeshConfig")
    sidecar = cfg.nested_type.add(name="Sidecar")
    _scalars(
        sidecar,
        [
            (n, i + 1, F.TYPE_INT32)
            for i, n in enumerate(["count", "cpu_mcores", "mem_mb", "rps", "bps"])
        ],
    )
    _scalars(cfg, [("smp_version", 1, F.TYPE_STRING), ("id", 2, F.TYPE_STRING)])
    _map(cfg, "labels", 3, ".smp.ServiceMeshConfig")
    cfg.field.add(
        name="sidecar",
        number=5,
        type=F.TYPE_MESSAGE,
        label=OPT,
        type_name=".smp.ServiceMeshConfig.Sidecar",
    )
    _scalars(
        cfg,
        [
            ("mesh_policy_enabled", 9, F.TYPE_BOOL),
            ("mesh_telemetry_enabled", 10, F.TYPE_BOOL),
            ("mtls_enabled", 11, F.TYPE_BOOL),
            ("proxy_concurrency", 12, F.TYPE_INT32),
            ("mesh_build", 13, F.TYPE_STRING),
            ("proxy_build", 14, F.TYPE_STRING),
            ("exp_group_uuid", 15, F.TYPE_STRING),
            ("exp_uuid", 16, F.TYPE_STRING),
            ("profile", 17, F.TYPE_STRING),
        ],
    )
    cfg.field.add(
        name="mesh_type", number=18, type=F.TYPE_MESSAGE, label=OPT, type_name=".smp.ServiceMesh"
    )

    env = fd.message_type.add(name="EnvironmentConfig")
    node = env.nested_type.add(name="Node")
    _scalars(
        node, [("type", 1, F.TYPE_STRING), ("cores", 2, F.TYPE_INT32), ("mem_mb", 3, F.TYPE_INT64)]
    )
    _scalars(env, [("smp_version", 1, F.TYPE_STRING), ("id", 2, F.TYPE_STRING)])
    _map(env, "labels", 3, ".smp.EnvironmentConfig")
    _scalars(env, [("kubernetes_version", 4, F.TYPE_STRING)])
    env.field.add(
        name="nodes",
        number=5,
        type=F.TYPE_MESSAGE,
        label=REP,
        type_name=".smp.EnvironmentConfig.Node",
    )

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(fd)
    return pool


def _parse(pool: descriptor_pool.DescriptorPool, name: str, text: str) -> Message:
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"smp.{name}"))
    msg = cls()
    json_format.Parse(text, msg)  # unknown fields and mistyped values raise ParseError
    return msg


def test_smp_results_parse_as_the_protos_define_them(
    run: Run, exported: dict[str, list[Path]]
) -> None:
    pool = smp_pool()
    results = [p for p in exported["smp"] if not p.name.startswith(("mesh-config", "environment"))]
    assert len(results) == 4
    for path in results:
        text = path.read_text()
        msg = _parse(pool, "PerformanceTestResult", text)
        back = json_format.MessageToDict(msg, preserving_proto_field_name=True)
        doc = json.loads(text)
        assert set(back) == set(doc)  # nothing dropped or renamed by the parser
        mesh = doc["labels"]["meshbench.mesh"]
        cell = {"rate_rps": 150.0, **run.cells[0].as_dict()}
        lat = doc["latencies_ms"]
        assert set(lat) == {"min", "average", "p50", "p90", "p99", "max"}
        for key, q in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)):
            assert abs(lat[key] * 1000 - _pooled_us(run, mesh, cell, q)) < 1.0  # ms, within 1 µs
        assert 0.5 < lat["min"] < lat["p50"] < lat["max"] < 100  # milliseconds, not seconds
        start = msg.start_time.ToDatetime()  # type: ignore[attr-defined]
        end = msg.end_time.ToDatetime()  # type: ignore[attr-defined]
        assert (end - start).total_seconds() > 12 * 8
        assert doc["actual_qps"] == pytest.approx(150.0, rel=0.01)
        config = next(
            p
            for p in exported["smp"]
            if p.name.endswith(f"_{mesh}.json") and p.name.startswith("mesh-config")
        )
        assert json.loads(config.read_text())["id"] == doc["mesh_config_id"]


def test_smp_mesh_configs_and_environment(exported: dict[str, list[Path]]) -> None:
    pool = smp_pool()
    configs = {
        p.stem.rsplit("_", 1)[1]: json.loads(p.read_text())
        for p in exported["smp"]
        if p.name.startswith("mesh-config")
    }
    for doc in configs.values():
        _parse(pool, "ServiceMeshConfig", json.dumps(doc))
    assert configs["envoy-mtls"]["mtls_enabled"] is True
    assert configs["envoy"]["mtls_enabled"] is False and configs["none"]["mtls_enabled"] is False
    assert configs["envoy"]["proxy_build"] == "1.40.0"
    assert configs["envoy"]["sidecar"]["cpu_mcores"] > 0 and "sidecar" not in configs["none"]
    (env_path,) = [p for p in exported["smp"] if p.name.startswith("environment")]
    env = _parse(pool, "EnvironmentConfig", env_path.read_text())
    node = env.nodes[0]  # type: ignore[attr-defined]
    assert node.cores == 2 and node.type == "AMD EPYC" and node.mem_mb == 25233  # 23.5 GiB in MB


def test_a_mistyped_or_unknown_smp_field_is_refused_by_the_transcribed_protos() -> None:
    """The failing side of the SMP check: what Meshery-style output or a typo would write."""
    pool = smp_pool()
    with pytest.raises(json_format.ParseError):
        _parse(pool, "PerformanceTestResult", json.dumps({"latencies_ms": {"p95": 1.0}}))
    with pytest.raises(json_format.ParseError):
        _parse(pool, "PerformanceTestResult", json.dumps({"start_time": "yesterday"}))
    with pytest.raises(json_format.ParseError):
        _parse(pool, "ServiceMeshConfig", json.dumps({"mtls_enabled": "yes"}))


def test_the_tidy_csv_has_a_unit_in_every_quantity(
    run: Run, exported: dict[str, list[Path]]
) -> None:
    (path,) = exported["csv"]
    t = pd.read_csv(path)
    assert len(t) == len(run.trials) and "histogram" not in t.columns
    for old, new in RENAMED.items():
        assert new in t.columns and old not in t.columns
    assert np.allclose(t["p50_ms"], run.trials["p50_ms"])
    assert (t["run_id"] == "20261126T180701Z-calibration").all()


def test_export_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(CALIBRATION), "--format", "smp", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        out.count("wrote ") == 9
        and (tmp_path / "environment_20261126T180701Z-calibration.json").exists()
    )
    with pytest.raises(SystemExit) as e:
        main(["export", str(CALIBRATION), "--format", "prometheus"])
    assert e.value.code == 2
