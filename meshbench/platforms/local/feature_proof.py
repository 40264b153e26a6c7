"""Whether an arm's sidecar features are on the path, read from Envoy's own counters.

A probe request crosses every sidecar after each deployment; the counters each sidecar
moved meanwhile (and its totals) prove what the arm claims: requests parsed as HTTP, or
only bytes forwarded (L4); the certificate key and TLS version the handshakes used; an
access-log write per request; an RBAC decision per inbound request; a tracing decision
per request. A feature configured but not on the path is a problem with its reason, and
the deployment is refused, never measured as something it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshbench.config.features import MINIMAL, SidecarFeatures
from meshbench.platforms.local.envoy import INBOUND_PLAINTEXT_STAT, INBOUND_STAT

Counters = Mapping[str, int]

INBOUND_CHAINS = (INBOUND_STAT, INBOUND_PLAINTEXT_STAT)
"""The stat prefixes of a sidecar's inbound listener: its mutual-TLS and plaintext chains."""

TRACING_DECISIONS = ("random_sampling", "service_forced", "client_enabled", "not_traceable")


def delta(before: Counters, after: Counters, name: str) -> int:
    return int(after.get(name, 0)) - int(before.get(name, 0))


def inbound(before: Counters, after: Counters, name: str, kind: str = "http") -> int:
    """How far ``<kind>.<chain>.<name>`` moved meanwhile, summed over the inbound chains."""
    return sum(delta(before, after, f"{kind}.{chain}.{name}") for chain in INBOUND_CHAINS)


def inbound_requests(before: Counters, after: Counters) -> int:
    """HTTP requests a sidecar's inbound listener (both chains) parsed meanwhile."""
    return inbound(before, after, "downstream_rq_total")


def inbound_bytes(before: Counters, after: Counters) -> int:
    """Bytes a sidecar's inbound TCP proxy (both chains) received meanwhile (L4)."""
    return inbound(before, after, "downstream_cx_rx_bytes_total", kind="tcp")


def _sum(counters: Counters, contains: str) -> int:
    return sum(int(v) for k, v in counters.items() if contains in k)


def feature_evidence(
    features: SidecarFeatures,
    mtls: bool,
    before: Mapping[str, Counters],
    after: Mapping[str, Counters],
    services: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """(evidence, problems) for the sidecars of ``services`` (their inbound side) and
    every sidecar in ``after`` (handshakes, logs): counters moved between ``before`` and
    ``after`` by at least one request crossing all of them."""
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    requests = {s: inbound_requests(before[s], after[s]) for s in services}
    if features.l7:
        evidence["http_requests_inbound"] = requests
    else:
        got = {s: inbound_bytes(before[s], after[s]) for s in services}
        evidence["l4_bytes_inbound"] = got
        evidence["http_requests_inbound"] = requests
        problems += [f"{s}: L4 sidecar forwarded no bytes" for s, b in got.items() if b <= 0]
        problems += [
            f"{s}: L4 sidecar parsed {n} HTTP request(s)" for s, n in requests.items() if n
        ]
    if mtls:
        rsa = sum(_sum(c, "ssl.sigalgs.rsa") for c in after.values())
        ecdsa = sum(_sum(c, "ssl.sigalgs.ecdsa") for c in after.values())
        evidence["handshake_sigalgs"] = {"rsa": rsa, "ecdsa": ecdsa}
        want, other = (rsa, ecdsa) if features.cert_key == "rsa-2048" else (ecdsa, rsa)
        if want <= 0 or other > 0:
            problems.append(
                f"handshakes signed with rsa {rsa}, ecdsa {ecdsa} times: "
                f"not only {features.cert_key} keys"
            )
        versions = {
            v: sum(_sum(c, f"ssl.versions.TLSv{v}") for c in after.values()) for v in ("1.2", "1.3")
        }
        evidence["tls_versions"] = versions
        wrong = [v for v, n in versions.items() if n and v != features.tls_max]
        if versions[features.tls_max] <= 0 or wrong:
            problems.append(f"TLS versions used {versions}, expected only {features.tls_max}")
    if features.access_log:
        writes = {p: delta(before[p], after[p], "filesystem.write_buffered") for p in after}
        evidence["access_log_writes"] = writes
        problems += [
            f"{s}: {writes.get(s, 0)} access-log write(s) for {n} inbound request(s)"
            for s, n in requests.items()
            if writes.get(s, 0) < n
        ]
    if features.rbac_rules:
        allowed = {s: inbound(before[s], after[s], "rbac.allowed") for s in services}
        denied = {s: inbound(before[s], after[s], "rbac.denied") for s in services}
        evidence["rbac_allowed"] = allowed
        problems += [
            f"{s}: RBAC allowed {allowed[s]} and denied {denied[s]} of {n} inbound request(s)"
            for s, n in requests.items()
            if allowed[s] != n or denied[s]
        ]
    if features.tracing_sample_pct is not None:
        decided = {
            s: sum(inbound(before[s], after[s], f"tracing.{k}") for k in TRACING_DECISIONS)
            for s in services
        }
        evidence["tracing_decisions_inbound"] = decided
        problems += [
            f"{s}: {decided[s]} tracing decision(s) for {n} inbound request(s)"
            for s, n in requests.items()
            if decided[s] < n
        ]
    return evidence, problems


def config_evidence(
    features: SidecarFeatures, dumps: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """(evidence, problems) for the settings only the running config shows: each
    sidecar's admin ``/config_dump`` (``dumps``, its JSON text) must contain every
    pass-through filter, the route timeout, the retry policy and the breaker limit."""
    marks: dict[str, list[str]] = {}
    for name in features.http_filters:
        marks[f"filter {name}"] = [f'"envoy.filters.http.{name}"']
    if features.route_timeout_s != MINIMAL.route_timeout_s:
        marks["route timeout"] = [f'"timeout": "{features.route_timeout_s:g}s"']
    if features.retry is not None:
        marks["retry policy"] = [f'"retry_on": "{features.retry.retry_on}"']
    if features.breaker is not None:
        marks["circuit breakers"] = [f'"max_requests": {features.breaker.limit}']
    evidence: dict[str, Any] = {}
    problems: list[str] = []
    for what, needles in marks.items():
        where = sorted(p for p, text in dumps.items() if all(n in text for n in needles))
        evidence[what] = where
        missing = sorted(set(dumps) - set(where))
        if missing:
            problems.append(f"{what} not in the running config of {missing}")
    return evidence, problems
