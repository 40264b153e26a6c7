"""Fixtures of the image check: a local Debian base, the image built from it, and the
default chain's containers on a podman network. Everything made is removed at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pytest

from meshbench.config.dimensions import BASELINE
from meshbench.config.scenario import Scenario, load_scenario, parse_scenario
from meshbench.platforms.kind import manifests as mf
from meshbench.platforms.kind import tool_steps
from meshbench.platforms.kind.target import Target, target_for

from . import pods
from .podman import DEBIAN_SUITE, Podman

REPO = Path(__file__).resolve().parents[2]
READY_DEADLINE_S = 60.0


def check_scenario() -> Scenario:
    """kind-default, its load made short: the three-hop chain and its two load workers."""
    data = load_scenario(REPO / "scenarios" / "kind-default.yaml").model_dump(mode="json")
    data["load"].update(rates_rps=[40], duration_s=4, warmup_s=1, connections=4)
    return parse_scenario(data, "kind-default (image check)")


@dataclass
class Built:
    podman: Podman
    scenario: Scenario
    target: Target
    image: str
    build_s: float
    base_s: float


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The image, built by the platform's own build step from a debootstrapped base."""
    pm = Podman()
    work = tmp_path_factory.mktemp("image-check")
    rootfs = work / "rootfs"
    try:
        t0 = time.monotonic()
        mirror = os.environ.get("MESHBENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
        subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), mirror],
            check=True,
            capture_output=True,
            timeout=900,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in (rootfs / cache).glob("*"):
                if f.is_file():
                    f.unlink()
        base = f"localhost/{pm.prefix}/debian:{DEBIAN_SUITE}-slim"
        ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
        pm.import_base(rootfs, base, Path(ca) if ca else None)
        shutil.rmtree(rootfs)
        base_s = time.monotonic() - t0

        sc = check_scenario()
        target = replace(
            target_for(sc, work).for_mesh(BASELINE), image=f"localhost/{pm.prefix}/meshbench:check"
        )
        step = tool_steps.docker_build(target, REPO / "manifests" / "image" / "Dockerfile", REPO)
        t1 = time.monotonic()
        pm.build(step, base)
        yield Built(pm, sc, target, target.image, time.monotonic() - t1, base_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        left = pm.cleanup()
        assert not left, f"left behind: {left}"


@dataclass
class Chain:
    """The default chain's services running, each at its address on the check's network."""

    built: Built
    network: str
    prefix: str  # 198.19.N: the network's first three octets
    address: dict[str, str]  # service -> IP
    hosts: dict[str, str]  # every name a pod resolves -> IP
    container: dict[str, str]  # service -> container name
    ready_s: float


def _hosts(sc: Scenario, target: Target, address: dict[str, str]) -> dict[str, str]:
    """Cluster DNS for the pods: a Service's short name (what the services call) and
    its FQDN (what the probe and the load Job send to)."""
    out = {}
    for svc, ip in address.items():
        out[svc] = ip
        out[f"{svc}.{target.app_ns}.svc.cluster.local"] = ip
    return out


@pytest.fixture(scope="session")
def chain(built: Built) -> Iterator[Chain]:
    """Every Deployment of the rendered workload as a container, Ready by its own probe."""
    pm, sc, target = built.podman, built.scenario, built.target
    subnet = pm.free_subnet()
    net = pm.network(subnet)
    prefix = subnet.rsplit(".", 1)[0]  # 198.19.N
    deployments = [o for o in mf.workload(sc, target) if o["kind"] == "Deployment"]
    address = {d["metadata"]["name"]: f"{prefix}.{10 + i}" for i, d in enumerate(deployments)}
    hosts = _hosts(sc, target, address)
    names = {}
    t0 = time.monotonic()
    for d in deployments:
        svc = d["metadata"]["name"]
        names[svc] = pm.name(svc)
        pm.start(names[svc], pods.run_args(d, network=net, ip=address[svc], hosts=hosts))
    for d in deployments:
        svc = d["metadata"]["name"]
        container = pods.only_container(d)
        try:
            pods.wait_ready(
                container,
                address[svc],
                exec_in=pods.exec_with(pm.argv(), names[svc], READY_DEADLINE_S),
                alive=partial(pm.running, names[svc]),
                deadline_s=READY_DEADLINE_S,
            )
        except AssertionError as e:
            raise AssertionError(f"{svc}: {e}\n{pm.logs(names[svc])}") from None
    yield Chain(built, net, prefix, address, hosts, names, time.monotonic() - t0)
