"""Every declared protocol end to end on loopback: the sample service in http1, h2c and grpc, the
generator driving it open loop, connection churn counted on both sides, streamed
responses timed to their first and last byte; and the workload's distributions."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshbench.config.protocols import PROTOCOLS, Protocol
from meshbench.config.topology import ServiceSpec
from meshbench.config.workload import PayloadMix, Work
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.load.workers import run_workers
from meshbench.platforms.local.probe import wait_ok
from meshbench.results import hlog
from meshbench.service.app import service_args
from meshbench.service.probe import probe_url, request_once

from .loopback import free_port

ENVOY_SERVED = [p for p, decl in PROTOCOLS.items() if not decl.grpc]
"""What ``server: envoy`` can play (Envoy's app speaks HTTP/1.1 and HTTP/2, not gRPC)."""


class Chain:
    """Services on loopback speaking one protocol."""

    def __init__(self, protocol: Protocol, every: int = 0) -> None:
        self.protocol = protocol
        self.every = every
        self.procs: list[subprocess.Popen[bytes]] = []

    def service(self, spec: ServiceSpec, calls: list[str] = []) -> str:  # noqa: B006
        port = free_port()
        args = service_args(
            spec,
            port,
            calls,
            host="127.0.0.1",
            protocol=self.protocol,
            requests_per_connection=self.every,
        )
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "meshbench.service", *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        health = probe_url(self.protocol, "127.0.0.1", port, "/healthz")
        assert wait_ok([health], deadline_s=20) == {}, f"{spec.name} ({self.protocol}) is not up"
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)


@pytest.fixture
def chains() -> Iterator[list[Chain]]:
    made: list[Chain] = []
    try:
        yield made
    finally:
        for c in made:
            c.stop()


def chain_of_two(
    chains: list[Chain], protocol: Protocol, every: int = 0, entry: ServiceSpec | None = None
) -> str:
    c = Chain(protocol, every)
    chains.append(c)
    backend = c.service(ServiceSpec(name="backend", payload_bytes=10))
    return c.service(entry or ServiceSpec(name="frontend", payload_bytes=2048), [backend])


def load(
    target: str,
    protocol: Protocol,
    out: Path,
    every: int = 0,
    stream: bool = False,
    rate: float = 100,
    duration_s: float = 2,
) -> LoadSummary:
    req = LoadRequest(
        target_url=target + "/",
        rate_rps=rate,
        duration_s=duration_s,
        warmup_s=0.5,
        connections=4,
        protocol=protocol,
        requests_per_connection=every,
        stream=stream,
        timeout_s=5,
    )
    return run_workers(req, out)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_each_protocol_serves_a_chain_open_loop(
    chains: list[Chain], tmp_path: Path, protocol: Protocol
) -> None:
    target = chain_of_two(chains, protocol)
    s = load(target, protocol, tmp_path)
    assert (s.requests, s.errors, s.stopped_by) == (200, 0, "schedule")
    assert s.extra["protocol"] == protocol
    assert s.extra["connections_opened"] == 4  # keep-alive: one per generator connection
    assert hlog.read_log(tmp_path / "latency.hlog").get_total_count() == 200
    # a probe in the protocol crosses the chain too
    host, port = target.split("//")[1].split(":")
    assert request_once(probe_url(protocol, host, int(port))) == ""


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_a_broken_downstream_is_an_error_in_every_protocol(
    chains: list[Chain], tmp_path: Path, protocol: Protocol
) -> None:
    c = Chain(protocol)
    chains.append(c)
    broken = c.service(ServiceSpec(name="broken"), [f"http://127.0.0.1:{free_port()}"])
    s = load(broken, protocol, tmp_path, rate=50, duration_s=1)
    assert s.requests == 50 and s.errors == 50, s.error_kinds
    assert request_once(probe_url(protocol, "127.0.0.1", int(broken.rsplit(":", 1)[1]))) != ""


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_churn_opens_a_connection_every_n_requests(
    chains: list[Chain], tmp_path: Path, protocol: Protocol
) -> None:
    target = chain_of_two(chains, protocol, every=5)
    s = load(target, protocol, tmp_path, every=5)
    assert s.errors == 0, s.error_kinds
    sent = s.requests + s.warmup_requests
    # 4 connections to start, then one more after every 5th request of each
    assert sent // 5 <= s.extra["connections_opened"] <= sent // 5 + 4


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_a_streamed_response_records_first_and_last_byte(
    chains: list[Chain], tmp_path: Path, protocol: Protocol
) -> None:
    """5 chunks 20 ms apart: the first byte comes ~80 ms before the last, in every
    protocol (and time to first byte is never after the last byte)."""
    entry = ServiceSpec(name="frontend", payload_bytes=5000, stream_chunks=5, chunk_interval_ms=20)
    target = chain_of_two(chains, protocol, entry=entry)
    s = load(target, protocol, tmp_path, stream=True, rate=20)
    assert s.errors == 0, s.error_kinds
    log = tmp_path / "latency.hlog"
    first = hlog.read_log(log, "ttfb")
    last = hlog.read_log(log, "latency")
    assert first.get_total_count() == last.get_total_count() == s.requests
    gap_ms = (last.get_value_at_percentile(50) - first.get_value_at_percentile(50)) / 1000
    assert 70 <= gap_ms <= 200, gap_ms
    assert first.get_max_value() <= last.get_max_value()


def test_keep_alive_records_no_first_byte_tag(chains: list[Chain], tmp_path: Path) -> None:
    target = chain_of_two(chains, "http1")
    load(target, "http1", tmp_path, rate=20, duration_s=1)
    assert hlog.read_log(tmp_path / "latency.hlog", "ttfb").get_total_count() == 0


# -- the workload's distributions (pure) -------------------------------------------------


def draws(work: Work, n: int = 20_000) -> list[float]:
    rng = random.Random(7)
    return sorted(work.sample_s(rng) * 1000 for _ in range(n))


def test_lognormal_work_has_the_median_and_p99_asked_for() -> None:
    d = draws(Work("lognormal", 2.0, 20.0))
    assert d[len(d) // 2] == pytest.approx(2.0, rel=0.05)
    assert d[int(len(d) * 0.99)] == pytest.approx(20.0, rel=0.1)


def test_exponential_work_has_the_median_asked_for() -> None:
    d = draws(Work("exponential", 3.0))
    assert d[len(d) // 2] == pytest.approx(3.0, rel=0.05)
    assert d[int(len(d) * 0.99)] == pytest.approx(3.0 * math.log(100) / math.log(2), rel=0.1)


def test_constant_work_never_varies() -> None:
    assert set(draws(Work("constant", 1.5), 100)) == {1.5}


def test_a_lognormal_without_a_p99_above_its_median_is_refused() -> None:
    with pytest.raises(ValueError, match="p99"):
        Work("lognormal", 2.0, 1.0)
    with pytest.raises(ValueError, match="work_p99_ms"):
        ServiceSpec(name="a", work_ms=2, work_distribution="lognormal")
    with pytest.raises(ValueError, match="lognormal only"):
        ServiceSpec(name="a", work_ms=2, work_p99_ms=5)


def test_a_payload_mix_draws_sizes_by_weight() -> None:
    mix = PayloadMix.parse("100:9,65536:1")
    assert mix == PayloadMix((100, 65536), (9.0, 1.0))
    assert PayloadMix.parse(mix.format()) == mix
    rng = random.Random(3)
    big = sum(mix.sample(rng) == 65536 for _ in range(10_000))
    assert 900 <= big <= 1100
    assert mix.mean_bytes() == pytest.approx((900 + 65536) / 10)


async def _ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI application answering 200 "ok" to every request."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_connection_the_server_ends_is_replaced_not_reused() -> None:
    """Hypercorn ends an HTTP/2 connection after N requests (1,000 by default; every
    later request of a trial failed, 1,200 of 1,200, when the client kept the dead
    connection): the services' client and the generator's open a new connection, so at
    most the request in flight when the server closed fails, never the ones after it."""
    import asyncio

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from meshbench.load.clients import H2Client
    from meshbench.service.h2client import H2Connection

    port = free_port()

    async def ask(conn: H2Connection) -> str:
        try:
            status, _ = await conn.get("/")
            return "" if status == 200 else f"HTTP {status}"
        except OSError as e:
            return type(e).__name__

    def ask_sync(gen: H2Client) -> str:
        try:
            return gen.request(False)[0]
        except OSError as e:  # closed, reset, or timed out waiting for an answer
            return type(e).__name__

    async def scenario() -> tuple[list[str], list[str], int]:
        cfg = Config()
        cfg.bind = [f"127.0.0.1:{port}"]
        cfg.keep_alive_max_requests = 5
        stop = asyncio.Event()
        server = asyncio.create_task(serve(_ok_app, cfg, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        await asyncio.sleep(0.5)
        conn = H2Connection("127.0.0.1", port)
        service_side = [await ask(conn) for _ in range(30)]
        await conn.aclose()
        gen = H2Client(f"http://127.0.0.1:{port}", "/", timeout_s=2, every=0)
        generator_side = [await asyncio.to_thread(ask_sync, gen) for _ in range(30)]
        gen.close()
        stop.set()
        await server
        return service_side, generator_side, gen.opened

    service_side, generator_side, opened = asyncio.run(scenario())
    for outcomes in (service_side, generator_side):
        assert outcomes.count("") >= 30 - 30 // 6 - 1, outcomes
        assert outcomes[-1] == "" and outcomes[-2:].count("") >= 1, outcomes
    assert opened >= 30 // 6


# -- Envoy playing a service (server: envoy) ---------------------------------------------


@pytest.mark.parametrize("protocol", ENVOY_SERVED)
def test_envoy_plays_a_forwarding_service_and_a_leaf(
    chains: list[Chain], tmp_path: Path, protocol: Protocol
) -> None:
    """frontend (Python) -> middle (Envoy, forwarding) -> backend (Envoy, answering from its
    route table): every request crosses all three, in the topology's protocol, churned."""
    c = Chain(protocol, every=5)
    chains.append(c)
    backend = c.service(ServiceSpec(name="backend", payload_bytes=300, server="envoy"))
    middle = c.service(ServiceSpec(name="middle", server="envoy"), [backend])
    frontend = c.service(ServiceSpec(name="frontend", payload_bytes=10), [middle])
    s = load(frontend, protocol, tmp_path, every=5)
    assert (s.requests, s.errors) == (200, 0), s.error_kinds
    # the forwarder answers what the leaf answered: 300 bytes, through Envoy
    with urllib.request.urlopen(middle + "/") as resp:
        assert resp.status == 200 and len(resp.read()) == 300
        assert resp.headers["server"] == "envoy"
    # and its health path is its own
    with urllib.request.urlopen(middle + "/healthz") as resp:
        assert resp.read() == b"ok middle\n"


def test_envoy_cannot_play_a_service_with_behaviour_of_its_own() -> None:
    with pytest.raises(ValueError, match=r"server: envoy cannot play.*work_ms 2.*fix:"):
        ServiceSpec(name="a", work_ms=2, server="envoy")
    with pytest.raises(ValueError, match=r"calls 2 services \(at most 1\)"):
        ServiceSpec(name="a", calls=("b", "c"), server="envoy")
    with pytest.raises(ValueError, match="stream"):
        ServiceSpec(name="a", stream_chunks=3, server="envoy")


def test_envoy_is_refused_for_grpc_with_the_fix() -> None:
    from meshbench.config.topology import Topology

    with pytest.raises(ValueError, match=r"\['backend'\] have server: envoy.*protocol: h2c"):
        Topology(
            entry="frontend",
            protocol="grpc",
            services=(
                ServiceSpec(name="frontend", calls=("backend",)),
                ServiceSpec(name="backend", server="envoy"),
            ),
        )


@pytest.mark.parametrize("calls", [(), ("http://127.0.0.1:9",)], ids=["leaf", "forwarder"])
@pytest.mark.parametrize("protocol", ENVOY_SERVED)
def test_envoy_accepts_the_app_configuration(
    tmp_path: Path, protocol: Protocol, calls: tuple[str, ...]
) -> None:
    from meshbench.platforms.local.envoy import envoy_binary
    from meshbench.service import envoy_app
    from meshbench.service.behaviour import ServiceConfig

    service = ServiceConfig(
        name="a", protocol=protocol, calls=calls, requests_per_connection=3, port=8080
    )
    argv = envoy_app.argv(service, envoy_binary())
    out = subprocess.run([*argv, "--mode", "validate"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
