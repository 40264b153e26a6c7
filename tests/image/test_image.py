"""The kind platform's image for real, without a cluster: built by the platform's own
build step from a debootstrapped Debian base, then run as the rendered kind manifests run
it (same commands, environment, security context and readiness probes, read from
:mod:`meshbench.platforms.kind.manifests`): the default chain's three services on a
podman network, the probe Job and a load Job through them, its results carried home
through the container log as on kind.

Slow (a fresh base and build each time): skipped unless asked for with ``-m image``
(``make image-check``), and skipped with the reason where podman, runc or debootstrap
are missing or the user is not root.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from meshbench.config.dimensions import BASELINE
from meshbench.load.merge import merge_worker_dirs
from meshbench.load.spec import HLOG_FILE
from meshbench.planning.plan import plan_trials
from meshbench.platforms.kind import bundle
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind.deployment import ORIGIN_TOLERANCE_S
from meshbench.results import hlog
from meshbench.results.hlog import start_time

from . import pods
from .conftest import Built, Chain
from .podman import missing

_REASON = missing()
pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(_REASON is not None, reason=f"image check: {_REASON}"),
]

IN_IMAGE = ("meshbench.service", "meshbench.load.generator", "hdrh", "locust", "grpc")
NOT_IN_IMAGE = ("pandas", "scipy", "matplotlib", "kubernetes", "envoy", "cryptography", "yaml")


def show(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Print what the check measured, past pytest's capture (for the terminal and logs)."""
    with capsys.disabled():
        print(f"\n    {line}", end="")


def _finish(built: Built, name: str, args: list[str], timeout_s: float) -> tuple[int, str]:
    """Run a container to its end: (exit status, log)."""
    built.podman.start(name, args)
    rc = built.podman.wait(name, timeout_s)
    return rc, built.podman.logs(name)


def test_the_image_holds_only_what_the_pods_run(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    script = (
        "import importlib.util, json, os, sys;"
        f"mods = {list(IN_IMAGE + NOT_IN_IMAGE)!r};"
        "print(json.dumps({'uid': os.getuid(), 'python': sys.version.split()[0],"
        " 'found': {m: importlib.util.find_spec(m) is not None for m in mods}}))"
    )
    rc, out = _finish(
        built,
        built.podman.name("contents"),
        ["--network", "none", built.image, "python", "-c", script],
        60,
    )
    assert rc == 0, out
    got = json.loads(out.strip().splitlines()[-1])
    size = built.podman.run("image", "inspect", "--format", "{{.Size}}", built.image).stdout
    show(
        capsys,
        f"image {built.image}: base made in {built.base_s:.0f} s, built in {built.build_s:.0f} s,"
        f" {int(size) / 1e6:.0f} MB, Python {got['python']}",
    )
    assert got["uid"] == 10001  # runAsUser in the manifests
    assert {m for m in IN_IMAGE if not got["found"][m]} == set()
    assert {m for m in NOT_IN_IMAGE if got["found"][m]} == set()


def test_the_chain_serves_as_the_manifests_run_it(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each service Ready by its own readinessProbe (in the fixture), and answering."""
    show(capsys, f"chain Ready in {chain.ready_s:.1f} s: {chain.address}")
    for svc, ip in chain.address.items():
        assert (
            pods.probe_once(
                pods.only_container(
                    next(
                        d
                        for d in mf.workload(chain.built.scenario, chain.built.target)
                        if d["kind"] == "Deployment" and d["metadata"]["name"] == svc
                    )
                ),
                ip,
                exec_in=lambda _cmd: 1,
            )
            is None
        )


def test_the_probe_job_passes_through_the_chain(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    b = chain.built
    job = mf.probe_job(b.scenario, b.target, "probe-check", {})
    args = pods.run_args(job, network=chain.network, ip=f"{chain.prefix}.90", hosts=chain.hosts)
    rc, log = _finish(b, b.podman.name("probe"), args, job["spec"]["activeDeadlineSeconds"])
    show(capsys, f"probe Job: exit {rc}: {log.strip()[-300:]}")
    assert rc == 0, log


def test_a_load_job_through_the_chain_records_a_histogram(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The load Job as the platform runs it: every worker on the shared schedule origin,
    its results extracted from its log and merged."""
    b = chain.built
    sc, target = b.scenario, b.target
    trial = next(t for t in plan_trials(sc) if t.mesh == BASELINE)
    request = trial.load_request(sc, mf.entry_url(sc, target, sc.load.path))
    start_at = round(time.time() + sc.kind.load_start_delay_s, 3)
    job = mf.load_job(sc, target, request, start_at, {})
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    names = []
    for i in range(spec["completions"]):
        names.append(b.podman.name(f"load-{i}"))
        args = pods.run_args(
            job,
            network=chain.network,
            ip=f"{chain.prefix}.{100 + i}",
            hosts=chain.hosts,
            extra_env={"JOB_COMPLETION_INDEX": str(i)},  # what the Job controller sets
        )
        b.podman.start(names[-1], args)
    dirs = []
    for i, name in enumerate(names):
        rc = b.podman.wait(name, spec["activeDeadlineSeconds"])
        log = b.podman.logs(name)
        assert rc == 0, log
        d = tmp_path / f"w{i}"
        bundle.extract(log, d, source=name)
        origin = start_time(d / HLOG_FILE)
        text = "\n".join(ln for ln in log.splitlines() if not re.fullmatch(r"[A-Za-z0-9+/=]+", ln))
        assert origin is not None, text
        # the platform's own rule (KindDeployment._check_origins): on a host too busy to
        # start the worker within kind.load_start_delay_s, this fails as it would on kind
        assert abs(origin - start_at) <= ORIGIN_TOLERANCE_S, (
            f"{name} used origin {origin:.3f}, {origin - start_at:+.1f} s off the shared "
            f"{start_at:.3f}:\n{text}"
        )
        dirs.append(d)
    summary = merge_worker_dirs(dirs, tmp_path / "merged")
    latency = hlog.read_logs(tmp_path / "merged" / HLOG_FILE)["latency"]
    p = hlog.percentiles_ms(latency, (50, 99))
    show(
        capsys,
        f"load Job: {len(dirs)} workers, {summary.requests} requests "
        f"({summary.achieved_rps:.1f} rps of {request.rate_rps:g}), {summary.errors} errors, "
        f"p50 {p[50]:.2f} ms, p99 {p[99]:.2f} ms, generator CPU {summary.generator_cpu:.3f}",
    )
    assert summary.requests > 0
    assert summary.errors == 0
    assert latency.get_total_count() == summary.requests
