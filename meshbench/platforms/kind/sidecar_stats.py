"""Reading a sidecar's inbound request counter from its Prometheus text endpoint."""

from __future__ import annotations

import re

from meshbench.platforms.kind.meshes import StatsSource

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


def inbound_requests(text: str, source: StatsSource, app_port: int) -> int:
    """Sum of ``source.metric`` over the samples whose labels match ``source.labels``."""
    want = {k: v.replace("{port}", str(app_port)) for k, v in source.labels.items()}
    total = 0.0
    for name, labels, value in parse_samples(text):
        if name != source.metric:
            continue
        if all(labels.get(k) == v for k, v in want.items()):
            total += value
    return int(total)
