"""CPU and memory per container from the kubelet summary API (no metrics-server needed).

``GET /api/v1/nodes/<node>/proxy/stats/summary`` reports, per container, cumulative CPU
time (``usageCoreNanoSeconds``) and memory; a trial's CPU in cores is the difference of
two snapshots divided by the time between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from meshbench.platforms.base import UsageSnapshot


def snapshot_from_summaries(
    summaries: Iterable[dict[str, Any]],
    namespaces: Iterable[str],
    role_of: Callable[[str], str] = lambda container: container,
    now: Callable[[], float] = time.monotonic,
) -> UsageSnapshot:
    """Containers of pods in ``namespaces``, keyed ``<pod>/<role>``.

    ``role_of`` maps a container name to the role the orchestrator sums by (``app``,
    ``sidecar``, ``load``), as the local platform names its processes.
    """
    wanted = set(namespaces)
    snap = UsageSnapshot(taken_at_s=now())
    for summary in summaries:
        for pod in summary.get("pods", []):
            ref = pod.get("podRef", {})
            if ref.get("namespace") not in wanted:
                continue
            for c in pod.get("containers", []):
                key = f"{ref.get('name')}/{role_of(str(c.get('name')))}"
                cpu_ns = (c.get("cpu") or {}).get("usageCoreNanoSeconds")
                if cpu_ns is not None:
                    snap.cpu_s[key] = snap.cpu_s.get(key, 0.0) + cpu_ns / 1e9
                mem = c.get("memory") or {}
                rss = mem.get("rssBytes", mem.get("workingSetBytes"))
                if rss is not None:
                    snap.rss_bytes[key] = snap.rss_bytes.get(key, 0) + int(rss)
    return snap
