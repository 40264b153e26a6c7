"""A trial's captures turned into what analysis reads: when each measured request was at
each pod's boundaries (``hops.csv.gz``), what each sidecar logged of it
(``sidecar_times.csv.gz``), and how complete both are (``attribution.json``).

Run when the deployment is taken down, after its sidecars stopped (so their key logs and
access logs are flushed) and its captures ended. The readers are :mod:`meshbench.wire`;
the files are stored in the trial's directory, so a run re-analyses with no root and no
capture left.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from meshbench.platforms.local.pod_capture import CaptureStats
from meshbench.results import rundir
from meshbench.results.store import write_json
from meshbench.wire.hops import Pod, pod_times
from meshbench.wire.tls import parse_keylog

HOPS_FILE = "hops.csv.gz"
SIDECAR_TIMES_FILE = "sidecar_times.csv.gz"
ATTRIBUTION_FILE = "attribution.json"
HOPS_COLUMNS = ("request_id", "pod", "point", "request_ns", "response_ns")
SIDECAR_COLUMNS = ("request_id", "pod", "listener", "request_us", "response_us", "upstream_us")


@dataclass(frozen=True)
class Observed:
    """One trial measured on a captured deployment: where its files go, what its
    measured requests' ids start with."""

    out_dir: Path
    measured_prefix: str


def _gz_csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return gzip.compress(text.getvalue().encode(), mtime=0)


def sidecar_lines(logs: dict[str, list[Path]], keep: str) -> list[tuple[object, ...]]:
    """The access-log lines of requests whose id starts with ``keep``:
    ``(id, pod, listener, request µs, response µs, upstream µs)`` ('-' when Envoy had no
    value)."""
    rows: list[tuple[object, ...]] = []
    for pod, paths in logs.items():
        for path in paths:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0].startswith(keep):
                    rows.append((parts[0], pod, path.stem, *parts[1:]))
    return rows


def attribute(
    observed: Observed,
    pods: list[Pod],
    chain: list[str],
    sidecars: dict[str, bool],
    key_logs: list[Path],
    access_logs: dict[str, list[Path]],
    stats: dict[str, CaptureStats],
) -> None:
    """Write the trial's ``hops.csv.gz``, ``sidecar_times.csv.gz`` and
    ``attribution.json`` (``chain``: the load pod then the services in call order)."""
    keylog_text = "\n".join(p.read_text(errors="replace") for p in key_logs if p.exists())
    keylog = parse_keylog(keylog_text)
    rows = []
    found: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    for pod in pods:
        times = pod_times(pod, keylog, keep=observed.measured_prefix)
        problems += times.problems
        found[pod.name] = {point: len(t) for point, t in times.points.items()}
        for point, by_id in times.points.items():
            for rid, (req_ns, resp_ns) in by_id.items():
                rows.append((rid, pod.name, point, req_ns, "" if resp_ns is None else resp_ns))
    rundir.write_bytes(observed.out_dir, HOPS_FILE, _gz_csv(HOPS_COLUMNS, rows))
    lines = sidecar_lines(access_logs, observed.measured_prefix)
    rundir.write_bytes(observed.out_dir, SIDECAR_TIMES_FILE, _gz_csv(SIDECAR_COLUMNS, lines))
    doc: dict[str, Any] = {
        "chain": chain,
        "sidecars": sidecars,
        "points_found": found,
        "problems": problems[:50],
        "capture": {pod: asdict(s) for pod, s in stats.items()},
    }
    write_json(observed.out_dir / ATTRIBUTION_FILE, doc, root=observed.out_dir)


def keep_compressed(files: dict[str, Path], dest: Path) -> None:
    """Gzip each pod's capture into ``dest/<pod>.pcap.gz``."""
    for pod, path in files.items():
        if path.exists():
            rundir.write_atomic(dest, f"{pod}.pcap.gz", _gzipped(path))


def _gzipped(path: Path) -> Callable[[BinaryIO], None]:
    def write(f: BinaryIO) -> None:
        with path.open("rb") as src, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            shutil.copyfileobj(src, gz)

    return write
