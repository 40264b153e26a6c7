"""The readiness and crossing probe's HTTP request (httpx) against a real HTTP server: the
answers it reports, and that every failure is a line of text, never an exception."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from meshbench.platforms.local.probe import wait_ok
from meshbench.service.probe import main, request_once

from .loopback import free_port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    clients: list[tuple[str, int]]
    release: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a probe that timed out and left: nothing to report


class _Service(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.clients.append(self.client_address)
        if self.path == "/slow":
            self.server.release.wait(10)
            return
        status = {"/healthz": 200, "/down": 503}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[tuple[_Server, str]]:
    srv = _Server(("127.0.0.1", 0), _Service)
    srv.clients, srv.release = [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_a_200_is_success_and_any_other_status_is_named(service: tuple[_Server, str]) -> None:
    _, base = service
    assert request_once(f"{base}/healthz") == ""
    assert request_once(f"{base}/down") == "HTTP 503"
    assert request_once(f"{base}/missing") == "HTTP 404"


def test_every_probe_opens_its_own_connection(service: tuple[_Server, str]) -> None:
    srv, base = service
    for _ in range(3):
        assert request_once(f"{base}/healthz") == ""
    assert len(set(srv.clients)) == 3  # three client ports: each crossed every hop anew


def test_no_answer_is_an_error_line(service: tuple[_Server, str]) -> None:
    _, base = service
    assert "timed out" in request_once(f"{base}/slow", timeout_s=0.2)
    refused = request_once(f"http://127.0.0.1:{free_port()}/healthz", timeout_s=1)
    assert "refused" in refused.lower(), refused


def test_wait_ok_and_main_report_what_failed(
    service: tuple[_Server, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, base = service
    assert wait_ok([f"{base}/healthz"], deadline_s=2) == {}
    assert wait_ok([f"{base}/down"], deadline_s=0.2) == {f"{base}/down": "HTTP 503"}
    assert main(["--count", "2", f"{base}/healthz"]) == 0
    assert main([f"{base}/down"]) == 1
    assert f"{base}/down: request 1: HTTP 503" in capsys.readouterr().err
