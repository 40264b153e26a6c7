"""Envoy's admin API over its unix socket: readiness and statistics."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path
from urllib.parse import urlencode

from meshbench.errors import TimeoutExpired


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class EnvoyAdmin:
    """A client for one sidecar's admin socket."""

    def __init__(self, socket_path: Path, timeout_s: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s

    def request(self, method: str, path: str) -> tuple[int, str]:
        conn = _UnixConnection(self.socket_path, self.timeout_s)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def ready(self) -> bool:
        """Whether Envoy reports LIVE on /ready (False while starting or unreachable)."""
        try:
            status, body = self.request("GET", "/ready")
        except OSError:
            return False
        return status == 200 and body.strip() == "LIVE"

    def wait_ready(self, deadline_s: float, what: str, logs: str) -> None:
        """Poll /ready until LIVE or the monotonic ``deadline_s``; ``logs``: where its log
        will be, for the error."""
        while not self.ready():
            if time.monotonic() > deadline_s:
                raise TimeoutExpired(
                    f"sidecar of {what} not ready (admin {self.socket_path} /ready)",
                    fix=f"see the sidecar log under {logs}",
                )
            time.sleep(0.02)

    def counters(self, matching: str | None = None) -> dict[str, int]:
        """Every counter and gauge as ``name -> value`` (histograms are skipped); only
        those whose name matches the regular expression ``matching`` when given (Envoy
        filters them, so a frequent read stays cheap)."""
        path = "/stats" if matching is None else "/stats?" + urlencode({"filter": matching})
        status, body = self.request("GET", path)
        if status != 200:
            raise OSError(f"/stats answered {status}")
        out: dict[str, int] = {}
        for line in body.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out
