"""`meshbench load` tells failures apart and says when its figures must not be trusted:
a 500, a refused connection and a healthy target each give a different report."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from meshbench.load.spec import LoadRequest
from meshbench.load.standalone import format_report, load_url


class _Failing(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"broken"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def failing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_errors_are_counted_by_kind_and_phase(failing_url: str, tmp_path: Path) -> None:
    req = LoadRequest(
        target_url=failing_url, rate_rps=40, duration_s=1.0, warmup_s=0.5, connections=2
    )
    r = load_url(req, tmp_path / "out")
    assert r.summary.error_kinds == {"HTTP 500": r.summary.errors}
    assert r.summary.errors == 40
    assert r.summary.warmup_error_kinds == {"HTTP 500": 20}  # not mixed into the measured count
    text = format_report(r)
    assert "errors by kind: HTTP 500: 40" in text
    assert "warm-up errors (not counted above): 20 (HTTP 500: 20)" in text
    assert "NOT A TRUSTWORTHY MEASUREMENT" in text
    assert "errors 40/40 in the measured phase above max_error_ratio 0 (HTTP 500: 40)" in text


def test_no_listener_is_its_own_kind(tmp_path: Path) -> None:
    req = LoadRequest(
        target_url=f"http://127.0.0.1:{_free_port()}/",
        rate_rps=20,
        duration_s=0.5,
        warmup_s=0.0,
        connections=1,
    )
    r = load_url(req, tmp_path / "out")
    assert set(r.summary.error_kinds) == {"ConnectionRefusedError"}
    assert "HTTP 500" not in format_report(r)
