"""The gRPC sample service (grpcio, asyncio): the same behaviour as the HTTP services, as
a unary method (``/meshbench.Bench/Get``) and a server-streaming one
(``/meshbench.Bench/Stream``, the response in ``stream_chunks`` messages); messages are
raw bytes, so no generated code. Downstream calls are gRPC too, one channel (one HTTP/2
connection) per downstream service, replaced every N calls when churning.

``/meshbench.Bench/Health`` answers at once (readiness, never calls downstream). A call's
``x-request-id`` metadata is passed on to its downstream calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from meshbench.service.behaviour import (
    GRPC_CHANNEL_OPTIONS,
    GRPC_HEALTH_METHOD,
    GRPC_METHOD,
    GRPC_STREAM_METHOD,
    Behaviour,
    ServiceConfig,
    split_url,
)
from meshbench.service.http1client import REQUEST_ID_HEADER
from meshbench.service.rotation import Rotating
from meshbench.service.worktime import WorkClock

Context = grpc.aio.ServicerContext[bytes, bytes]
REQUEST_ID = REQUEST_ID_HEADER.decode()
"""Metadata passed on from the call being served to its downstream calls."""


def _target(url: str) -> str:
    host, port = split_url(url)
    return f"{host}:{port}"


def _server(config: ServiceConfig) -> grpc.aio.Server:
    behaviour = Behaviour(config)
    pools: dict[str, Rotating[grpc.aio.Channel]] = {}
    chunk_wait_s = config.chunk_interval_ms / 1000.0
    clock = WorkClock()

    def pool(url: str) -> Rotating[grpc.aio.Channel]:
        if url not in pools:
            pools[url] = Rotating(
                lambda: grpc.aio.insecure_channel(_target(url), options=GRPC_CHANNEL_OPTIONS),
                lambda ch: ch.close(),
                config.requests_per_connection,
            )
        return pools[url]

    async def call(url: str, metadata: tuple[tuple[str, str], ...]) -> None:
        async with pool(url).use() as channel:
            unary: Any = channel.unary_unary(GRPC_METHOD)
            await unary(b"", timeout=config.downstream_timeout_s, metadata=metadata)

    async def downstream(context: Context) -> bool:
        if not config.calls:
            return True
        passed_on = tuple(
            (k, v)
            for k, v in (context.invocation_metadata() or ())
            if k == REQUEST_ID and isinstance(v, str)
        )
        try:
            await asyncio.gather(*(call(u, passed_on) for u in config.calls))
        except Exception as e:  # any downstream failure is this request's failure
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{config.name}: downstream: {e!r}")
            return False
        return True

    async def get(request: bytes, context: Context) -> bytes:
        await downstream(context)
        await clock.sleep(behaviour.work_s())
        return behaviour.body()

    async def stream(request: bytes, context: Context) -> AsyncIterator[bytes]:
        await downstream(context)
        await clock.sleep(behaviour.work_s())
        for i, piece in enumerate(behaviour.chunks(behaviour.body())):
            if i:
                await clock.sleep(chunk_wait_s)
            yield piece

    async def health(request: bytes, context: Context) -> bytes:
        return f"ok {config.name}".encode()

    handlers: dict[str, grpc.RpcMethodHandler[bytes, bytes]] = {
        GRPC_METHOD.rsplit("/", 1)[1]: grpc.unary_unary_rpc_method_handler(get),
        GRPC_STREAM_METHOD.rsplit("/", 1)[1]: grpc.unary_stream_rpc_method_handler(stream),
        GRPC_HEALTH_METHOD.rsplit("/", 1)[1]: grpc.unary_unary_rpc_method_handler(health),
    }
    service = GRPC_METHOD.split("/")[1]
    server = grpc.aio.server(options=GRPC_CHANNEL_OPTIONS)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_insecure_port(f"{config.host}:{config.port}")
    server.pools = pools  # type: ignore[attr-defined]
    return server


async def serve(config: ServiceConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    server = _server(config)
    await server.start()
    print(f"{config.name} listening on {config.host}:{config.port} (grpc)", flush=True)
    await stop.wait()
    await server.stop(grace=1.0)
    for p in server.pools.values():  # type: ignore[attr-defined]
        await p.aclose()
