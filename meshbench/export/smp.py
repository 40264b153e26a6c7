"""Service Mesh Performance (SMP) results: a ``PerformanceTestResult`` per mesh and cell.

Messages and fields as the SMP protos define them, read in
service-mesh-performance/service-mesh-performance at commit
6ecbce7985dddb5577509f25a1ab67959da8ca68 (tag v0.6.1 plus docs; ``protos/`` last changed
in 69125ea8f709949b44cb6ab5fb7d59fa59e32478), the repository formerly
layer5io/service-mesh-performance:

- ``protos/service_mesh_performance.proto`` ``PerformanceTestResult``: ``smp_version``
  (1), ``id`` (2), ``labels`` (3, map<string,string>), ``start_time`` (4) and
  ``end_time`` (5) (google.protobuf.Timestamp, "All times in UTC"), ``latencies_ms``
  (6, ``Latency``: ``min``, ``average``, ``p50``, ``p90``, ``p99``, ``max``, doubles,
  "latency histogram in ms"), ``actual_qps`` (7), ``details_uri`` (8), ``test_id`` (9),
  ``mesh_config_id`` (10), ``env_id`` (11);
- ``ServiceMeshConfig``: ``smp_version``, ``id``, ``labels``, ``sidecar`` (``count``,
  ``cpu_mcores``, ``mem_mb``, ``rps``: int32), ``mtls_enabled`` (11),
  ``proxy_concurrency`` (12), ``mesh_build`` (13), ``proxy_build`` (14), ``mesh_type``
  (18, ``ServiceMesh`` of ``protos/service_mesh.proto``: ``type`` enum, ``version``);
- ``EnvironmentConfig``: ``smp_version``, ``id``, ``labels``, ``kubernetes_version``,
  ``nodes`` (``Node``: ``type``, ``cores``, ``mem_mb``).

Written in the proto3 JSON mapping with the proto field names (``latencies_ms``, not
``latenciesMs``; parsers accept both), timestamps as RFC 3339 in UTC, enums by name.
``latencies_ms`` is in **milliseconds**: SMP's own example result
(docs/assets/spec/readme/service mesh performance result.yaml, ``min: 0.012007082``) and
Meshery's conversion carry Fortio's seconds in that field; meshbench does not.

Files: ``<run>_<mesh>_<cell>.json`` (a PerformanceTestResult each), one
``mesh-config_<run>_<mesh>.json`` per mesh (ServiceMeshConfig, referenced by
``mesh_config_id``) and ``environment_<run>.json`` (EnvironmentConfig, ``env_id``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meshbench.analysis import histograms as hist
from meshbench.analysis.stored_run import Run
from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.config.meshes import find_mesh
from meshbench.export.cells import CellResult, cell_results
from meshbench.results.store import atomic_write_text

SMP_COMMIT = "6ecbce7985dddb5577509f25a1ab67959da8ca68"
SMP_VERSION = "v0.6.1"
"""The SMP release whose protos these messages follow (``smp_version``)."""


def mesh_type(mesh: str) -> str:
    """``ServiceMesh.Type`` of a meshbench mesh, as it declares it; the local Envoy arms and
    the baselines have none (``INVALID_MESH``, the enum's zero)."""
    d = find_mesh(mesh)
    return d.smp_type if d is not None else "INVALID_MESH"


MB_PER_MIB = 1.048576
MB_PER_GIB = 1073.741824
LATENCY_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}


def timestamp(t: datetime) -> str:
    """A google.protobuf.Timestamp in the proto3 JSON mapping (RFC 3339, ``Z``)."""
    t = t.astimezone(UTC)
    return t.isoformat(timespec="microseconds" if t.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


def latencies_ms(r: CellResult) -> dict[str, float]:
    """``PerformanceTestResult.Latency`` of the pooled histogram, in ms."""
    h = r.histogram
    got = hist.percentiles_ms(h, list(LATENCY_PERCENTILES.values()))
    out = {"min": h.get_min_value() / 1000, "average": h.get_mean_value() / 1000}
    out.update({k: got[q] for k, q in LATENCY_PERCENTILES.items()})
    return {k: out[k] for k in ("min", "average", "p50", "p90", "p99", "max")}


def _labels(run: Run, extra: Mapping[str, object]) -> dict[str, str]:
    return {
        "meshbench.run_id": run.run_id,
        "meshbench.config.scenario": str(run.scenario.get("name", "")),
        "meshbench.platform": run.platform,
        **{k: str(v) for k, v in extra.items()},
    }


def mtls_enabled(run: Run, mesh: str, mtls: str) -> bool:
    """Whether ``mesh``'s sidecars spoke mutual TLS (a cell's stored ``mtls``: on, off,
    or default: the mesh's or scenario's own)."""
    if mesh in (BASELINE, AA_CONTROL):
        return False
    if mtls in ("on", "off"):
        return mtls == "on"
    d = find_mesh(mesh)
    if d is not None and d.mtls != "setting":
        return d.mtls_always_on  # local Envoy arms, Linkerd, ztunnel: fixed by the mesh
    return bool((run.scenario.get("kind") or {}).get("mtls", True))


def _ids(run: Run, mesh: str) -> tuple[str, str]:
    return f"{run.run_id}/{mesh}", f"{run.run_id}/environment"


def result(run: Run, r: CellResult) -> dict[str, Any]:
    """One ``PerformanceTestResult`` of a mesh x cell."""
    mesh_id, env_id = _ids(run, r.mesh)
    return {
        "smp_version": SMP_VERSION,
        "id": f"{run.run_id}/{r.name}",
        "labels": _labels(
            run,
            {
                "meshbench.mesh": r.mesh,
                "meshbench.cell": r.title,
                "meshbench.trials_pooled": r.trials,
                **{f"meshbench.{k}": v for k, v in r.cell.as_dict().items()},
            },
        ),
        "start_time": timestamp(r.start),
        "end_time": timestamp(r.end),
        "latencies_ms": latencies_ms(r),
        "actual_qps": r.requests / r.measured_s if r.measured_s > 0 else 0.0,
        "details_uri": (run.path / "report.html").resolve().as_uri(),
        "test_id": run.run_id,
        "mesh_config_id": mesh_id,
        "env_id": env_id,
    }


def _int(v: float) -> int:
    return round(v) if math.isfinite(v) else 0


def mesh_config(run: Run, mesh: str) -> dict[str, Any]:
    """The ``ServiceMeshConfig`` of one arm (sidecar cost: means over its valid trials)."""
    t = run.trials[(run.trials["mesh"] == mesh) & run.trials["included"]]
    mtls = sorted({str(m) for m in t["mtls"]}) or ["default"]
    versions = (run.meta.get("platform") or {}).get("versions") or run.meta.get("versions") or {}
    proxy = str(versions.get("envoy", ""))
    mesh_version = str(versions.get(mesh, ""))
    concurrency = int((run.scenario.get("local") or {}).get("envoy_concurrency", 0) or 0)
    meshed = mesh not in (BASELINE, AA_CONTROL)
    cpu = float(t["sidecar_cpu"].mean()) if meshed and len(t) else math.nan
    mem = float(t["sidecar_rss_mib"].mean()) if meshed and len(t) else math.nan
    doc: dict[str, Any] = {
        "smp_version": SMP_VERSION,
        "id": _ids(run, mesh)[0],
        "labels": _labels(run, {"meshbench.mesh": mesh}),
        "mtls_enabled": all(mtls_enabled(run, mesh, m) for m in mtls),
        "mesh_type": {"type": mesh_type(mesh), "version": mesh_version},
    }
    if meshed:
        doc["sidecar"] = {
            "cpu_mcores": _int(cpu * 1000),
            "mem_mb": _int(mem * MB_PER_MIB),
        }
        if proxy:
            doc["proxy_build"] = proxy
        if concurrency and run.platform == "local":
            doc["proxy_concurrency"] = concurrency
    if mesh_version:
        doc["mesh_build"] = mesh_version
    return doc


def environment(run: Run) -> dict[str, Any]:
    """The ``EnvironmentConfig`` of the host that ran the benchmark."""
    host = run.meta.get("host") or {}
    versions = (run.meta.get("platform") or {}).get("versions") or {}
    doc: dict[str, Any] = {
        "smp_version": SMP_VERSION,
        "id": _ids(run, BASELINE)[1],
        "labels": _labels(run, {"meshbench.kernel": host.get("kernel", "")}),
        "nodes": [
            {
                "type": str(host.get("cpu_model") or "unknown"),
                "cores": int(host.get("cpu_count") or 0),
                "mem_mb": str(_int(float(host.get("mem_gib") or 0) * MB_PER_GIB)),
            }
        ],
    }
    k8s = versions.get("kubernetes")
    if k8s:
        doc["kubernetes_version"] = str(k8s)
    return doc


def write(run: Run, out_dir: Path) -> list[Path]:
    """The result of every mesh x cell, each mesh's config and the environment."""
    written = []

    def put(name: str, doc: Mapping[str, Any]) -> None:
        path = out_dir / f"{name}.json"
        atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        written.append(path)

    results = cell_results(run)
    for r in results:
        put(r.name, result(run, r))
    for mesh in sorted({r.mesh for r in results}):
        put(f"mesh-config_{run.run_id}_{mesh}", mesh_config(run, mesh))
    put(f"environment_{run.run_id}", environment(run))
    return written
