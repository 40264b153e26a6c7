"""The sample service and the open-loop generator against real servers on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshbench.config.topology import ServiceSpec
from meshbench.load.spec import LoadRequest, LoadSummary
from meshbench.load.workers import run_workers
from meshbench.platforms.local.probe import wait_ok
from meshbench.results import hlog
from meshbench.service.app import service_args

from .loopback import free_port


class Servers:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], health_url: str) -> None:
        self.procs.append(
            subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        assert wait_ok([health_url], deadline_s=20) == {}, f"{argv} did not come up"

    def service(self, name: str, calls: list[str] = [], payload: int = 1024) -> str:  # noqa: B006
        port = free_port()
        spec = ServiceSpec(name=name, payload_bytes=payload)
        args = service_args(spec, port, calls, host="127.0.0.1")
        base = f"http://127.0.0.1:{port}"
        self.start([sys.executable, "-m", "meshbench.service", *args], base + "/healthz")
        return base

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        yield s
    finally:
        s.stop()


def generate(req: LoadRequest, out: Path) -> LoadSummary:
    """Run one generator process (Locust monkey-patches whatever imports it)."""
    return run_workers(req, out)


def test_chain_returns_payload_and_propagates_failures(servers: Servers) -> None:
    backend = servers.service("backend", payload=10)
    frontend = servers.service("frontend", calls=[backend], payload=2048)
    with urllib.request.urlopen(frontend + "/") as resp:
        assert resp.status == 200
        assert len(resp.read()) == 2048
    dead = f"http://127.0.0.1:{free_port()}"
    broken = servers.service("broken", calls=[dead])
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(broken + "/")
    assert e.value.code == 502
    e.value.close()
    with urllib.request.urlopen(broken + "/healthz") as resp:  # health never calls out
        assert resp.status == 200


def test_the_request_bound_stops_a_huge_schedule_without_building_it(
    servers: Servers, tmp_path: Path
) -> None:
    """1 M rps for an hour is 3.6 billion sends: the schedule must be generated as it is
    sent (a list of it needed ~100 GB), and the bound must stop it and say so."""
    target = servers.service("backend")
    req = LoadRequest(
        target_url=target + "/",
        rate_rps=1_000_000,
        duration_s=3600,
        warmup_s=0,
        connections=4,
        max_requests=300,
        timeout_s=2,
    )
    started = time.monotonic()
    s = generate(req, tmp_path)
    assert s.stopped_by == "request_bound"
    assert s.requests + s.errors <= 300 and s.extra["scheduled_requests"] == 300
    assert time.monotonic() - started < 60
    assert s.generator_rss_mib < 500


def test_generator_sends_the_schedule_and_records_everything(
    servers: Servers, tmp_path: Path
) -> None:
    target = servers.service("backend")
    req = LoadRequest(
        target_url=target + "/", rate_rps=200, duration_s=2, warmup_s=1, connections=4
    )
    s = generate(req, tmp_path)
    assert (s.requests, s.warmup_requests, s.errors) == (400, 200, 0)
    assert s.stopped_by == "schedule"
    assert 180 <= s.achieved_rps <= 220
    log = tmp_path / "latency.hlog"
    assert hlog.read_log(log, "latency").get_total_count() == 400
    assert hlog.read_log(log, "warmup.latency").get_total_count() == 200
    lat, svc = hlog.read_log(log, "latency"), hlog.read_log(log, "service")
    lag = hlog.read_log(log, "send_lag")
    # every request: latency from its intended time = send lag + service time, so the
    # means add up (to the histograms' 3 significant digits), and no tag lost a sample
    assert lat.get_total_count() == svc.get_total_count() == lag.get_total_count()
    assert lag.get_mean_value() > 0
    assert lat.get_mean_value() == pytest.approx(
        svc.get_mean_value() + lag.get_mean_value(), rel=2e-3, abs=1.0
    )
    locust_stats = json.loads((tmp_path / "locust_stats.json").read_text())
    assert locust_stats["total"]["num_requests"] == 600


def test_errors_are_counted_not_hidden(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    req = LoadRequest(
        target_url=dead, rate_rps=50, duration_s=1, warmup_s=0, connections=2, timeout_s=1
    )
    s = generate(req, tmp_path)
    assert s.requests == 50 and s.errors == 50
    assert sum(s.error_kinds.values()) == 50
    assert hlog.read_log(tmp_path / "latency.hlog", "latency").get_total_count() == 0


STALLING_SERVER = textwrap.dedent(
    """
    import asyncio, sys, time
    last = [time.monotonic()]
    REPLY = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"
    async def serve(reader, writer):
        try:
            while True:
                await reader.readuntil(b"\\r\\n\\r\\n")
                if time.monotonic() - last[0] > 1.0:  # once a second the whole server freezes
                    time.sleep(0.25)
                    last[0] = time.monotonic()
                writer.write(REPLY)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
        await server.serve_forever()
    asyncio.run(main())
    """
)


def test_a_stalled_server_shows_in_the_corrected_tail_not_in_service_time(
    servers: Servers, tmp_path: Path
) -> None:
    """Coordinated omission: requests due during a stall wait, and that wait is latency."""
    script = tmp_path / "stall.py"
    script.write_text(STALLING_SERVER)
    port = free_port()
    servers.start([sys.executable, str(script), str(port)], f"http://127.0.0.1:{port}/")
    req = LoadRequest(
        target_url=f"http://127.0.0.1:{port}/",
        rate_rps=200,
        duration_s=4,
        warmup_s=0.5,
        connections=4,
    )
    s = generate(req, tmp_path)
    assert s.errors == 0
    lat = hlog.read_log(tmp_path / "latency.hlog", "latency")
    svc = hlog.read_log(tmp_path / "latency.hlog", "service")
    # ~25% of requests are due during a 250 ms freeze each second: the corrected p90 sees it,
    # while the uncorrected service time of most of them is short (they were sent late).
    assert lat.get_value_at_percentile(90) > 50_000
    assert lat.get_value_at_percentile(99) > 150_000
    assert svc.get_value_at_percentile(90) < 20_000


def test_generator_memory_is_its_own_not_its_parents(servers: Servers, tmp_path: Path) -> None:
    """ru_maxrss survives exec on Linux: a generator started by a 400 MiB parent reported
    400 MiB. The figure must be the generator's own peak."""
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident
    req = LoadRequest(
        target_url=servers.service("backend") + "/",
        rate_rps=50,
        duration_s=0.5,
        warmup_s=0,
        connections=2,
    )
    s = generate(req, tmp_path)
    del ballast
    assert 10 < s.generator_rss_mib < 200
