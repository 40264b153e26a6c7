"""Envoy's admin API over its unix socket: readiness and statistics."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpcore
import httpx
from httpcore._backends.sync import SyncStream

from meshbench.errors import TimeoutExpired


class _UnixBackend(httpcore.SyncBackend):
    """httpcore's blocking backend, except that a connect that fails closes its socket at
    once. httpcore 1.0 leaves that socket to the garbage collector, which warns
    (ResourceWarning) for every poll of a sidecar still starting or already gone."""

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            sock.connect(path)
        except TimeoutError as e:
            sock.close()
            raise httpcore.ConnectTimeout(str(e)) from e
        except OSError as e:
            sock.close()
            raise httpcore.ConnectError(str(e)) from e
        return SyncStream(sock)


class _UnixTransport(httpx.HTTPTransport):
    """httpx's transport to one unix socket: plain HTTP (no certificates to load), a fresh
    connection per request (none stays open between reads), on :class:`_UnixBackend`."""

    def __init__(self, path: str) -> None:
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        super().__init__(uds=path, verify=False, limits=no_keepalive)
        self._pool = httpcore.ConnectionPool(
            uds=path, max_keepalive_connections=0, network_backend=_UnixBackend()
        )


class EnvoyAdmin:
    """A client for one sidecar's admin socket.

    Every failure to get an answer raises :class:`OSError` (:class:`TimeoutError` past
    ``timeout_s``), which is what the callers treat as a sidecar that stopped answering.
    """

    def __init__(self, socket_path: Path, timeout_s: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            transport=_UnixTransport(str(socket_path)),
            base_url="http://envoy-admin",
            timeout=httpx.Timeout(timeout_s),
            trust_env=False,
        )

    @contextmanager
    def _answering(self, method: str, path: str) -> Iterator[None]:
        """httpx's errors as the OSError family the callers catch."""
        where = f"admin {self.socket_path} {method} {path}"
        try:
            yield
        except httpx.TimeoutException as e:
            raise TimeoutError(f"{where}: no answer within {self.timeout_s:g} s ({e})") from e
        except httpx.HTTPError as e:
            raise OSError(f"{where}: {e or type(e).__name__}") from e

    def request(
        self, method: str, path: str, params: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """One request; its status and body (OSError when no answer came)."""
        with self._answering(method, path):
            resp = self._client.request(method, path, params=params)
        return resp.status_code, resp.text

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
        params = None if matching is None else {"filter": matching}
        status, body = self.request("GET", "/stats", params)
        if status != 200:
            raise OSError(f"/stats answered {status}")
        out: dict[str, int] = {}
        for line in body.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out
