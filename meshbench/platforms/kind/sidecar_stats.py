"""Reading a proxy's inbound counter from its Prometheus text endpoint.

A counter with labels only appears once it has counted something (Istio's
``istio_requests_total`` appears after the first request crosses the sidecar), so an
answer without the metric means 0, not "unreadable": :func:`has_metric` tells the two
apart for the proof.
"""

from __future__ import annotations

import re

from meshbench.config.meshes import StatsSource

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+([-+0-9.eEinfNa]+)(\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(metric, labels, value) of every sample line; comments and junk are skipped."""
    out: list[tuple[str, dict[str, str], float]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def _wanted(source: StatsSource, app_port: int, namespace: str) -> dict[str, str]:
    return {
        k: v.replace("{port}", str(app_port)).replace("{namespace}", namespace)
        for k, v in source.labels.items()
    }


def has_metric(text: str, metric: str) -> bool:
    """True when any sample of ``metric`` is in the answer (whatever its labels)."""
    return any(name == metric for name, _, _ in parse_samples(text))


def inbound_requests(text: str, source: StatsSource, app_port: int, namespace: str = "") -> int:
    """Sum of ``source.metric`` over the samples whose labels match ``source.labels``
    (0 when the metric is absent: nothing counted yet)."""
    want = _wanted(source, app_port, namespace)
    total = 0.0
    for name, labels, value in parse_samples(text):
        if name != source.metric:
            continue
        if all(labels.get(k) == v for k, v in want.items()):
            total += value
    return int(total)


def inbound_by_service(
    text: str, source: StatsSource, app_port: int, namespace: str
) -> dict[str, int]:
    """``source.metric`` summed per value of ``source.service_label`` (node proxies such as
    ztunnel count for every workload on their node, told apart by that label)."""
    want = _wanted(source, app_port, namespace)
    out: dict[str, float] = {}
    for name, labels, value in parse_samples(text):
        if name != source.metric or not all(labels.get(k) == v for k, v in want.items()):
            continue
        svc = labels.get(source.service_label or "", "")
        if svc:
            out[svc] = out.get(svc, 0.0) + value
    return {svc: int(n) for svc, n in out.items()}
