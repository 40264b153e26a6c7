"""One request to a sample service, in its protocol, for readiness and crossing probes
(plain blocking calls; no load-generator machinery).

URLs: ``http://host:port/path`` (HTTP/1.1; the h2c services answer it too, and sidecars
translate it to HTTP/2 where the next hop needs it) or ``grpc://host:port/`` (the unary
method) and ``grpc://host:port/healthz`` (the health method).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from meshbench.config.protocols import PROTOCOLS, Protocol
from meshbench.service.behaviour import GRPC_HEALTH_METHOD, GRPC_METHOD
from meshbench.service.http1 import HEALTH_PATH

if TYPE_CHECKING:
    import httpx


def probe_url(protocol: Protocol, host: str, port: int, path: str = "/") -> str:
    """The probe URL of a service speaking ``protocol``."""
    return f"{PROTOCOLS[protocol].probe_scheme}://{host}:{port}{path}"


def request_once(url: str, timeout_s: float = 2.0) -> str:
    """One request; "" if it succeeded, else what went wrong (``HTTP 503``, ...)."""
    if url.startswith("grpc://"):
        return _grpc_once(url, timeout_s)
    return _http_once(url, timeout_s)


@cache
def _http_client() -> httpx.Client:
    """One client per process, imported on first use (a gRPC readiness probe, run by the
    kubelet every few seconds, never pays for httpx). A fresh connection per request
    (no keep-alive: each probe crosses every hop anew), no proxy from the environment, no
    certificates to load (the URLs are plain ``http://``)."""
    import httpx

    return httpx.Client(
        transport=httpx.HTTPTransport(
            verify=False, limits=httpx.Limits(max_keepalive_connections=0)
        ),
        trust_env=False,
    )


def _http_once(url: str, timeout_s: float) -> str:
    import httpx

    try:
        resp = _http_client().get(url, timeout=timeout_s)
    except httpx.HTTPError as e:
        return str(e) or type(e).__name__
    return "" if resp.status_code == 200 else f"HTTP {resp.status_code}"


def _grpc_once(url: str, timeout_s: float) -> str:
    import grpc

    parts = urlsplit(url)
    method = GRPC_HEALTH_METHOD if parts.path.rstrip("/") == HEALTH_PATH else GRPC_METHOD
    with grpc.insecure_channel(parts.netloc) as channel:
        try:
            call: Any = channel.unary_unary(method)
            call(b"", timeout=timeout_s)
            return ""
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            return f"gRPC {code.name if code else 'error'}: {getattr(e, 'details', lambda: '')()}"


def main(argv: list[str] | None = None) -> int:
    """``python -m meshbench.service.probe [--count N] URL...``: every URL must answer
    ``--count`` times in a row (exit 1, naming the URL and the error, otherwise)."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m meshbench.service.probe")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    p.add_argument("urls", nargs="+")
    a = p.parse_args(argv)
    for url in a.urls:
        for i in range(a.count):
            if error := request_once(url, a.timeout):
                print(f"{url}: request {i + 1}: {error}", file=sys.stderr)
                return 1
    print(f"probe ok {a.count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
