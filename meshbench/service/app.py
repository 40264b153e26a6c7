"""The sample service every pod runs: ``python -m meshbench.service --protocol ...``.

One behaviour (:mod:`meshbench.service.behaviour`: work time, payload, streaming,
downstream calls in parallel) served in the topology's protocol by the server
:data:`SERVERS_BY_PROTOCOL` names: ``http1`` (:mod:`~meshbench.service.http1`), ``h2c``
(:mod:`~meshbench.service.h2server`) or ``grpc`` (grpcio's asyncio server,
:mod:`~meshbench.service.grpc_server`). Every platform
builds the command line with :func:`service_args`, so local pods and Kubernetes pods run
the same service.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import signal
from collections.abc import Awaitable, Callable, Sequence

from meshbench.config.protocols import PROTOCOLS, Protocol
from meshbench.config.topology import ServiceSpec
from meshbench.config.workload import SERVERS, PayloadMix, Work
from meshbench.service.behaviour import ServiceConfig

SERVERS_BY_PROTOCOL: dict[Protocol, str] = {
    "http1": "meshbench.service.http1",
    "h2c": "meshbench.service.h2server",
    "grpc": "meshbench.service.grpc_server",
}
"""The module whose ``serve(config, stop)`` serves each protocol, imported only when
started (a service loads one protocol's libraries)."""


async def serve(config: ServiceConfig) -> None:
    """Serve ``config`` in its protocol until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    module = importlib.import_module(SERVERS_BY_PROTOCOL[config.protocol])
    server: Callable[[ServiceConfig, asyncio.Event], Awaitable[None]] = module.serve
    # What start-up allocated (modules, the server's tables) never becomes garbage: move it
    # out of the collector's generations, so a collection only walks what requests made.
    gc.collect()
    gc.freeze()
    await server(config, stop)


def service_args(
    spec: ServiceSpec,
    port: int,
    call_urls: Sequence[str],
    host: str | None = None,
    *,
    protocol: Protocol = "http1",
    requests_per_connection: int = 0,
    seed: int = 0,
) -> list[str]:
    """Arguments of ``python -m meshbench.service`` for ``spec`` (every platform uses this).

    ``call_urls`` are the downstream base URLs, one per ``spec.calls`` entry, as the
    platform resolves them (pod addresses locally, Service DNS names on Kubernetes);
    ``protocol`` and ``requests_per_connection`` are the topology's.
    """
    args = [
        "--name",
        spec.name,
        "--port",
        str(port),
        "--protocol",
        protocol,
        "--payload",
        spec.payload().format(),
        "--work-ms",
        f"{spec.work_ms:g}",
        "--work-distribution",
        spec.work_distribution,
    ]
    if spec.work_p99_ms is not None:
        args += ["--work-p99-ms", f"{spec.work_p99_ms:g}"]
    if requests_per_connection:
        args += ["--requests-per-connection", str(requests_per_connection)]
    if spec.stream_chunks:
        args += ["--stream-chunks", str(spec.stream_chunks)]
    if spec.chunk_interval_ms:
        args += ["--chunk-interval-ms", f"{spec.chunk_interval_ms:g}"]
    if seed:
        args += ["--seed", str(seed)]
    if spec.server != "python":
        args += ["--server", spec.server]
    if host is not None:
        args += ["--host", host]
    for url in call_urls:
        args += ["--call", url]
    return args


def parse_args(argv: Sequence[str] | None = None) -> ServiceConfig:
    p = argparse.ArgumentParser(prog="python -m meshbench.service", description=__doc__)
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--protocol", choices=PROTOCOLS, default="http1")
    p.add_argument(
        "--payload", default="1024", help="response bytes, or a mix SIZE:WEIGHT,SIZE:WEIGHT"
    )
    p.add_argument("--payload-bytes", type=int, default=None, help="(same as --payload SIZE)")
    p.add_argument("--work-ms", type=float, default=0.0, help="work time (the median)")
    p.add_argument(
        "--work-distribution", choices=("constant", "exponential", "lognormal"), default="constant"
    )
    p.add_argument("--work-p99-ms", type=float, default=None)
    p.add_argument("--requests-per-connection", type=int, default=0, help="0: keep-alive")
    p.add_argument("--stream-chunks", type=int, default=0)
    p.add_argument("--chunk-interval-ms", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--call", action="append", default=[], help="downstream base URL (repeatable)")
    p.add_argument("--server", choices=SERVERS, default="python", help="what plays the service")
    a = p.parse_args(argv)
    payload = (
        PayloadMix.single(a.payload_bytes)
        if a.payload_bytes is not None
        else PayloadMix.parse(a.payload)
    )
    return ServiceConfig(
        name=a.name,
        port=a.port,
        host=a.host,
        protocol=a.protocol,
        payload=payload,
        work=Work(a.work_distribution, a.work_ms, a.work_p99_ms),
        calls=tuple(u.rstrip("/") for u in a.call),
        requests_per_connection=a.requests_per_connection,
        stream_chunks=a.stream_chunks,
        chunk_interval_ms=a.chunk_interval_ms,
        seed=a.seed,
        server=a.server,
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    if config.server == "envoy":
        from meshbench.service.envoy_app import exec_envoy

        exec_envoy(config)
    asyncio.run(serve(config))
