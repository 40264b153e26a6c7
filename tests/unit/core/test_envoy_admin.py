"""The Envoy admin client against a real HTTP server on a unix socket: what it reads, and
that every way of getting no answer reaches its callers as OSError."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from meshbench.errors import TimeoutExpired
from meshbench.platforms.local.admin import EnvoyAdmin
from meshbench.platforms.local.timeline import SIDECAR_COUNTERS

STATS = "http.ingress.downstream_rq_total: 12\ncluster.app.upstream_cx_total: 3\nup: -1\n"
HISTOGRAM = "http.ingress.downstream_rq_time: P0(nan,1) P25(nan,2)\n"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    ready_body = "LIVE\n"
    paths: list[str]
    release: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and left: nothing to report


class _Admin(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        url = urlsplit(self.path)
        if url.path == "/slow":
            self.server.release.wait(10)
            return
        if url.path == "/ready":
            self._answer(200, self.server.ready_body)
        elif url.path == "/stats":
            self._answer(200, STATS + HISTOGRAM)
        else:
            self._answer(404, "not found\n")

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    srv = _Server(str(tmp_path / "admin.sock"), _Admin)
    srv.paths, srv.release = [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _admin(srv: _Server, timeout_s: float = 5.0) -> EnvoyAdmin:
    return EnvoyAdmin(Path(srv.server_address), timeout_s=timeout_s)  # type: ignore[arg-type]


def test_ready_and_counters_over_the_socket(server: _Server) -> None:
    admin = _admin(server)
    assert admin.ready()
    assert admin.counters() == {
        "http.ingress.downstream_rq_total": 12,
        "cluster.app.upstream_cx_total": 3,
        "up": -1,
    }
    admin.counters(SIDECAR_COUNTERS)
    query = parse_qs(urlsplit(server.paths[-1]).query)
    assert query == {"filter": [SIDECAR_COUNTERS]}  # Envoy filters; the regex arrives whole
    server.ready_body = "PRE_INITIALIZING\n"
    assert not admin.ready()


def test_a_request_returns_any_status_as_it_came(server: _Server) -> None:
    admin = _admin(server)
    assert admin.request("GET", "/nothing") == (404, "not found\n")


def test_no_answer_within_the_timeout_is_a_timeout_error(server: _Server) -> None:
    admin = _admin(server, timeout_s=0.2)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"/slow: no answer within 0\.2 s"):
        admin.request("GET", "/slow")
    assert time.monotonic() - start < 3
    assert issubclass(TimeoutError, OSError)  # what run.py and the timeline catch


def test_a_refused_or_missing_socket_is_an_oserror(tmp_path: Path) -> None:
    refused = tmp_path / "refused.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(refused))  # bound, never listening: connect() is refused
        for path in (refused, tmp_path / "missing.sock"):
            admin = EnvoyAdmin(path, timeout_s=1.0)
            with pytest.raises(OSError, match=str(path)):
                admin.counters()
            assert not admin.ready()


def test_wait_ready_gives_up_at_its_deadline(tmp_path: Path) -> None:
    admin = EnvoyAdmin(tmp_path / "missing.sock", timeout_s=0.5)
    with pytest.raises(TimeoutExpired, match="sidecar of m/p not ready") as e:
        admin.wait_ready(time.monotonic() + 0.1, "m/p", "LOGS")
    assert e.value.fix == "see the sidecar log under LOGS"
