"""What the host and the pods did, second by second, during a trial's measured phase.

A trial's tail can rest on one event (a hundred-millisecond stall in one second of
eight). To tell a host hiccup from a mesh behaviour, the report puts that second beside
what happened in it; this module records the raw material: at every second boundary of
the measured phase (the generator's histogram intervals), cumulative counters of

- each pod process (CPU seconds of every app and sidecar),
- each CPU (the kernel's ``/proc/stat`` jiffies: busy, steal, total),
- each sidecar (connections opened, downstream and upstream, and TLS handshakes),
- each pod's TCP stack (segments retransmitted, retransmission timeouts, tail-loss
  probes, delayed ACKs: :data:`TCP_COUNTERS`, from its network namespace's
  ``/proc/<pid>/net/snmp`` and ``netstat``): a stall with quiet CPUs and a retransmission
  in it was the network, not a process.

Analysis takes differences between consecutive samples
(:mod:`meshbench.analysis.stalls`). Sampling costs one ``/proc`` read per process and
one filtered stats read per sidecar a second, on the harness's own process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from meshbench.host.activity import cpu_counters
from meshbench.platforms.base import UsageSnapshot
from meshbench.results.store import write_json

INTERVAL_S = 1.0
"""Seconds between samples: the generator's histogram interval."""

SIDECAR_COUNTERS = r"(downstream_cx_total|upstream_cx_total|ssl\.handshake)$"
"""The sidecar counters sampled (a regular expression Envoy's admin filters with)."""

TIMELINE_FILE = "timeline.json"

TCP_COUNTERS = ("RetransSegs", "TCPTimeouts", "TCPLossProbes", "DelayedACKs")
"""Per-namespace TCP counters sampled (``Tcp:`` and ``TcpExt:`` lines)."""


def tcp_counters(pid: int) -> dict[str, int]:
    """:data:`TCP_COUNTERS` of the network namespace process ``pid`` lives in."""
    out: dict[str, int] = {}
    for name in ("snmp", "netstat"):
        lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()
        for head, values in zip(lines[::2], lines[1::2], strict=False):
            keys, vals = head.split()[1:], values.split()[1:]
            out.update((k, int(v)) for k, v in zip(keys, vals, strict=False) if k in TCP_COUNTERS)
    return out


class Timeline:
    """Samples at ``start_s``, ``start_s + 1``, ... up to ``end_s`` (epoch s), taken on a
    thread while the ``with`` block runs (the load); :meth:`write` after it."""

    def __init__(
        self,
        usage: Callable[[], UsageSnapshot],
        sidecars: Callable[[], dict[str, dict[str, int]]],
        pod_pids: dict[str, int],
        start_s: float,
        end_s: float,
    ) -> None:
        self._usage = usage
        self._sidecars = sidecars
        self._pod_pids = pod_pids
        self.times = [start_s + k * INTERVAL_S for k in range(int(end_s - start_s) + 1)]
        if self.times[-1] < end_s:
            self.times.append(end_s)
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="timeline")

    def _sample(self) -> dict[str, Any]:
        at = time.time()
        try:
            cpus = cpu_counters(Path("/proc/stat").read_text())
        except OSError:
            cpus = {}
        try:
            sidecars = self._sidecars()
        except OSError:  # a sidecar that stopped answering: its absence is the data
            sidecars = {}
        tcp = {}
        for pod, pid in self._pod_pids.items():
            try:
                tcp[pod] = tcp_counters(pid)
            except (OSError, ValueError):  # the process is gone: its absence is the data
                continue
        return {
            "t": round(at, 4),
            "cpu_s": self._usage().cpu_s,
            "cpus": {str(c): list(v) for c, v in cpus.items()},
            "sidecars": sidecars,
            "tcp": tcp,
        }

    def _run(self) -> None:
        for at in self.times:
            if self._stop.wait(max(0.0, at - time.time())):
                return
            self.samples.append(self._sample())

    def __enter__(self) -> Timeline:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def write(self, out_dir: Path) -> None:
        """``timeline.json`` in the trial's directory."""
        write_json(
            out_dir / TIMELINE_FILE,
            {
                "interval_s": INTERVAL_S,
                "cpu_fields": "user nice system idle iowait irq softirq steal (jiffies)",
                "samples": self.samples,
            },
        )
