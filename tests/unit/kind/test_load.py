"""Load in the cluster: result bundles through pod logs, and the lossless worker merge."""

from __future__ import annotations

import io
import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshbench.errors import PlatformError
from meshbench.load.merge import merge_hlogs, merge_summaries
from meshbench.load.spec import HLOG_FILE, LOCUST_STATS_FILE, LoadRequest, LoadSummary
from meshbench.platforms.kind import bundle
from meshbench.results.hlog import LogWriter, new_histogram, read_log, record_us

from .conftest import Build
from .fakes import START_EPOCH_S, scenario


def _summary(requests: int, cpu: float, started: str = "2026-11-01T10:00:00+00:00") -> LoadSummary:
    return LoadSummary(
        requests=requests,
        errors=1,
        warmup_requests=10,
        warmup_errors=0,
        duration_s=10.0 + requests / 1000,
        achieved_rps=requests / 10,
        generator_cpu=cpu,
        started_utc=started,
        error_kinds={"timeout": 1},
    )


def write_worker(d: Path, seed: int, start_s: float, n: int = 500) -> list[int]:
    """A worker's files with ``n`` random latencies over 3 one-second intervals."""
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(7, 1)) + 1 for _ in range(n)]
    buf = io.StringIO()
    w = LogWriter(buf, start_s, "worker")
    for i in range(3):
        chunk = values[i::3]
        for tag in ("latency", "service", "send_lag"):
            h = new_histogram()
            for v in chunk:
                record_us(h, v)
            w.write(tag, start_s + i, start_s + i + 1, h)
    (d / HLOG_FILE).write_text(buf.getvalue())
    _summary(n, 0.1 * (seed + 1)).write(d)
    (d / LOCUST_STATS_FILE).write_text(json.dumps({"worker": seed}))
    return values


def test_bundle_round_trip(tmp_path: Path) -> None:
    write_worker(tmp_path / "w", 0, START_EPOCH_S)
    text = "locust says hello\n" + bundle.pack(tmp_path / "w") + "trailing noise\n"
    names = bundle.extract(text, tmp_path / "out")
    assert sorted(names) == sorted(bundle.FILES)
    for name in bundle.FILES:
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "w" / name).read_bytes()


def test_bundle_main_prints_the_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_worker(tmp_path / "w", 0, START_EPOCH_S)
    assert bundle.main([str(tmp_path / "w")]) == 0
    assert bundle.extract(capsys.readouterr().out, tmp_path / "o") != []


def test_truncated_or_corrupt_bundles_are_refused(tmp_path: Path) -> None:
    write_worker(tmp_path / "w", 0, START_EPOCH_S)
    text = bundle.pack(tmp_path / "w")
    lines = text.splitlines()
    with pytest.raises(PlatformError, match="truncated"):
        bundle.extract("\n".join(lines[:-3]), tmp_path / "a")
    corrupt = lines[:]
    corrupt[2] = ("A" if corrupt[2][0] != "A" else "B") + corrupt[2][1:]
    with pytest.raises(PlatformError, match="checksum"):
        bundle.extract("\n".join(corrupt), tmp_path / "b")
    with pytest.raises(PlatformError, match="no meshbench result bundle"):
        bundle.extract("Killed\n", tmp_path / "c")


def test_merged_histogram_is_exactly_the_union(tmp_path: Path) -> None:
    values = write_worker(tmp_path / "w0", 1, START_EPOCH_S)
    values += write_worker(tmp_path / "w1", 2, START_EPOCH_S)  # same origin: intervals line up
    values += write_worker(tmp_path / "w2", 3, START_EPOCH_S + 0.4)  # a late worker: own intervals
    out = tmp_path / "merged.hlog"
    merge_hlogs([tmp_path / f"w{i}" / HLOG_FILE for i in range(3)], out)
    merged = read_log(out, "latency")
    direct = new_histogram()
    for v in values:
        record_us(direct, v)
    assert merged.get_total_count() == len(values) == 1500
    for p in (50, 90, 99, 99.9, 100):
        assert merged.get_value_at_percentile(p) == direct.get_value_at_percentile(p)
    lines = [ln for ln in out.read_text().splitlines() if ln.startswith("Tag=latency,")]
    assert len(lines) == 6  # 3 shared intervals + 3 of the late worker


def test_summaries_sum_counts_and_keep_the_busiest_generator() -> None:
    merged = merge_summaries([_summary(100, 0.2), _summary(300, 0.7, "2026-11-01T09:59:59+00:00")])
    assert (merged.requests, merged.errors, merged.warmup_requests) == (400, 2, 20)
    assert merged.achieved_rps == 40.0
    assert merged.generator_cpu == 0.7
    assert merged.extra["generator_cpu_total"] == 0.9
    assert merged.started_utc == "2026-11-01T09:59:59+00:00"
    assert merged.error_kinds == {"timeout": 2}
    assert merged.sent == 420


def test_run_load_in_the_cluster(build: Build, tmp_path: Path) -> None:
    sc = scenario(meshes=["none"], kind={"load_workers": 2})
    logs = {}
    for i in range(2):
        write_worker(tmp_path / f"src{i}", i, START_EPOCH_S)
        logs[i] = bundle.pack(tmp_path / f"src{i}")
    platform, fake, _ = build(sc, worker_logs=logs)
    request = LoadRequest(
        target_url="http://198.18.0.9:8080/", rate_rps=50, duration_s=2, label="t001-none-50rps-r1"
    )
    with platform.deploy("none") as dep:
        summary = dep.run_load(request, tmp_path / "trial")
    assert summary.requests == 1000
    assert read_log(tmp_path / "trial" / HLOG_FILE).get_total_count() == 1000
    assert LoadSummary.read(tmp_path / "trial").requests == 1000
    assert (tmp_path / "trial" / "workers" / "w1" / HLOG_FILE).exists()
    job = next(
        d
        for d in yaml.safe_load_all(fake.stdin())
        if d and d["kind"] == "Job" and d["metadata"]["name"].startswith("load-")
    )
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    sent = LoadRequest.from_json(env["MB_REQUEST"])
    # never elsewhere: the baseline's own namespace
    assert sent.target_url == "http://frontend.mb-base-app.svc.cluster.local:8080/"
    assert job["metadata"]["namespace"] == "mb-base-load"
    assert sent.rate_rps == 50
    calls = fake.calls()
    assert any(
        c.startswith("kubectl --context kind-meshbench delete job load-t001-none-50rps-r1")
        for c in calls
    )


def test_failed_worker_stops_the_trial_and_removes_the_job(build: Build, tmp_path: Path) -> None:
    sc = scenario(meshes=["none"], kind={"load_workers": 1})
    platform, fake, _ = build(sc, worker_phase="Failed")
    request = LoadRequest(target_url="http://x/", rate_rps=5, duration_s=1, label="t9")
    with (
        pytest.raises(PlatformError, match=r"load worker load-t9-0-x failed: .*boom"),
        platform.deploy("none") as dep,
    ):
        dep.run_load(request, tmp_path / "trial")
    assert any(
        c.startswith("kubectl --context kind-meshbench delete job load-t9") for c in fake.calls()
    )


def _bundles(tmp_path: Path, origins: list[float]) -> dict[int, str]:
    logs = {}
    for i, origin in enumerate(origins):
        write_worker(tmp_path / f"src{i}", i, origin)
        logs[i] = bundle.pack(tmp_path / f"src{i}")
    return logs


def test_a_worker_that_missed_the_shared_start_fails_the_trial(
    build: Build, tmp_path: Path
) -> None:
    """Issue 10: a late pod used its own origin and nothing recorded it."""
    sc = scenario(meshes=["none"], kind={"load_workers": 2})
    logs = _bundles(tmp_path, [START_EPOCH_S, START_EPOCH_S + 2.5])
    platform, fake, _ = build(sc, worker_logs=logs)
    request = LoadRequest(target_url="http://x/", rate_rps=50, duration_s=2, label="t7")
    with (
        pytest.raises(PlatformError, match=r"w1 \(\+2\.5 s\) did not start on the shared") as info,
        platform.deploy("none") as dep,
    ):
        dep.run_load(request, tmp_path / "trial")
    assert info.value.fix and "kind.load_start_delay_s" in info.value.fix
    extra = LoadSummary.read(tmp_path / "trial").extra
    assert extra["shared_start_epoch_s"] == START_EPOCH_S
    assert extra["worker_origins_epoch_s"] == {"w0": START_EPOCH_S, "w1": START_EPOCH_S + 2.5}
    assert extra["workers_missed_shared_start"] == ["w1"]
    assert any(
        c.startswith("kubectl --context kind-meshbench delete job load-t7") for c in fake.calls()
    )


def test_worker_origins_are_recorded(build: Build, tmp_path: Path) -> None:
    sc = scenario(meshes=["none"], kind={"load_workers": 2})
    platform, _, _ = build(sc, worker_logs=_bundles(tmp_path, [START_EPOCH_S] * 2))
    request = LoadRequest(target_url="http://x/", rate_rps=50, duration_s=2, label="t8")
    with platform.deploy("none") as dep:
        summary = dep.run_load(request, tmp_path / "trial")
    assert summary.extra["workers_missed_shared_start"] == []
    assert LoadSummary.read(tmp_path / "trial").extra["worker_origins_epoch_s"] == {
        "w0": START_EPOCH_S,
        "w1": START_EPOCH_S,
    }


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def _cpu_s(t: float, start: float, end: float, busy: float, idle: float) -> float:
    """CPU seconds used since START_EPOCH_S - 100 at ``busy`` cores in [start, end]."""
    t0 = START_EPOCH_S - 100
    inside = max(0.0, min(t, end) - start)
    return (t - t0 - inside) * idle + inside * busy


def test_cpu_is_measured_over_the_measured_phase_only(build: Build, tmp_path: Path) -> None:
    """Issue 10: snapshots around all of run_load (start delay, warm-up, Job delete) and
    the harness's clock diluted the cores; cached kubelet samples carry their own time."""
    from meshbench.runner.run import _usage_row

    sc = scenario(
        meshes=["istio"], kind={"load_workers": 1}, load={"duration_s": 30, "warmup_s": 5}
    )
    start, end = START_EPOCH_S + 5, START_EPOCH_S + 35  # the measured phase

    def summary_at(node: str, wall: float) -> dict[str, Any]:
        if node != "meshbench-worker":
            return {"pods": []}
        ts = START_EPOCH_S + 7 + 10 * math.floor((wall - START_EPOCH_S - 7) / 10)  # cached
        containers = [
            {
                "name": name,
                "cpu": {
                    "time": _iso(ts),
                    "usageCoreNanoSeconds": int(_cpu_s(ts, start, end, busy, 0.02) * 1e9),
                },
                "memory": {"workingSetBytes": 10_000_000},
            }
            for name, busy in (("app", 0.8), ("istio-proxy", 0.5))
        ]
        return {
            "pods": [
                {"podRef": {"name": "frontend-0", "namespace": "mb-app"}, "containers": containers}
            ]
        }

    platform, _, _ = build(
        sc,
        sidecar="istio-proxy",
        summary_at=summary_at,
        workers_done_at_s=end + 3,
        worker_logs=_bundles(tmp_path, [START_EPOCH_S]),
    )
    request = LoadRequest(
        target_url="http://x/", rate_rps=50, duration_s=30, warmup_s=5, label="t9"
    )
    with platform.deploy("istio") as dep:
        whole_before = dep.usage()
        dep.run_load(request, tmp_path / "trial")
        whole_after = dep.usage()
        measured = dep.measured_usage()
    assert measured is not None
    before, after = measured
    assert before.sampled_at_s["frontend-0/sidecar"] == START_EPOCH_S + 7
    assert after.sampled_at_s["frontend-0/sidecar"] == START_EPOCH_S + 27
    assert after.note == ""
    row = _usage_row(before, after)
    assert row["sidecar_cpu"] == pytest.approx(0.5)
    assert row["service_cpu"] == pytest.approx(0.8)
    diluted = _usage_row(whole_before, whole_after)["sidecar_cpu"]  # the old window
    assert diluted < 0.45


def test_a_trial_shorter_than_the_kubelet_sample_period_is_flagged(
    build: Build, tmp_path: Path
) -> None:
    sc = scenario(meshes=["none"], kind={"load_workers": 1})
    platform, _, _ = build(sc, worker_logs=_bundles(tmp_path, [START_EPOCH_S]))
    request = LoadRequest(target_url="http://x/", rate_rps=50, duration_s=2, label="t10")
    with platform.deploy("none") as dep:
        dep.run_load(request, tmp_path / "trial")
        measured = dep.measured_usage()
    assert measured is not None
    assert "shorter than the kubelet's sample period" in measured[1].note
