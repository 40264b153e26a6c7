"""Fortio result JSON: one file per mesh and cell, readable by ``fortio report``.

Field names, types and units follow Fortio's result structs as Go's ``encoding/json``
writes them, read at fortio/fortio commit 45e18710810d864a615618087228996a0a824b2f
(2026-07-09):

- ``periodic/periodic.go`` ``RunnerResults``: ``RunType``, ``Labels``, ``StartTime``
  (``time.Time``: RFC 3339 with nanoseconds), ``RequestedQPS`` and ``RequestedDuration``
  (strings), ``ActualQPS``, ``ActualDuration`` (``time.Duration``: integer
  nanoseconds), ``NumThreads``, ``Version``, ``DurationHistogram``,
  ``ErrorsDurationHistogram``, ``Exactly``, ``Jitter``, ``Uniform``, ``NoCatchUp``,
  ``RunID``, ``AccessLoggerInfo``, ``ID``;
- ``stats/stats.go`` ``HistogramData`` (``Count``, ``Min``, ``Max``, ``Sum``, ``Avg``,
  ``StdDev``, ``Data``, ``Percentiles``) with ``Bucket`` (the embedded ``Interval``'s
  ``Start`` and ``End``, then ``Percent``: cumulative %, and ``Count``) and
  ``Percentile`` (``Percentile``, ``Value``). Durations are recorded in **seconds**
  (``RunnerOptions.Resolution`` is a divider "in seconds"; the UI multiplies by 1000 to
  show ms). A bucket is the interval (Start, End]; the first starts at ``Min`` and the
  last ends at ``Max`` (``Histogram.Export``);
- ``fhttp/httprunner.go`` ``HTTPRunnerResults``: ``RetCodes`` (``map[int]int64``: an
  object keyed by the status code as a string), ``SocketCount``, and the embedded
  ``HTTPOptions`` (``fhttp/http_client.go``) whose ``URL`` and ``NumConnections`` the
  report UI shows;
- ``rapi/data.go`` ``DataList``: ``fortio report`` lists the ``*.json`` files of its
  data directory (``-data-dir``), so the files are written flat into one directory;
- ``ui/static/js/fortio_chart.js`` reads ``Labels``, ``URL``, ``StartTime``,
  ``ActualQPS``, ``RequestedQPS``, ``NumThreads``, ``RetCodes``, ``ActualDuration`` and
  the histogram's ``Count``, ``Min``, ``Avg``, ``Max``, ``Data`` and ``Percentiles``.

meshbench's buckets are HdrHistogram's (integer µs, 3 significant digits), so a bucket
(Start, End] holds the values ``Start + 1 µs .. End``; ``Percentiles`` carry meshbench's
own values (the bucket's highest value, as every meshbench table), not Fortio's
interpolation within a bucket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from meshbench import __version__
from meshbench.analysis import histograms as hist
from meshbench.analysis.stored_run import Run
from meshbench.export.cells import CellResult, cell_results
from meshbench.results.store import atomic_write_text

FORTIO_COMMIT = "45e18710810d864a615618087228996a0a824b2f"
PERCENTILES = (50.0, 75.0, 90.0, 99.0, 99.9)
"""Fortio's default ``-p`` list."""
US_PER_S = 1_000_000

RESULT_FIELDS: dict[str, str] = {
    "RunType": "string",
    "Labels": "string",
    "StartTime": "time",
    "RequestedQPS": "string",
    "RequestedDuration": "string",
    "ActualQPS": "float",
    "ActualDuration": "duration",
    "NumThreads": "int",
    "Version": "string",
    "DurationHistogram": "histogram",
    "ErrorsDurationHistogram": "histogram?",
    "Exactly": "int",
    "Jitter": "bool",
    "Uniform": "bool",
    "NoCatchUp": "bool",
    "RunID": "int",
    "AccessLoggerInfo": "string",
    "ID": "string",
    "RetCodes": "retcodes",
    "URL": "string",
    "NumConnections": "int",
    "SocketCount": "int",
}
"""Every top-level key written, with its JSON kind (``?``: may be null), from the Go
structs above: RunnerResults, then HTTPRunnerResults and its embedded HTTPOptions."""

HISTOGRAM_FIELDS = {
    "Count": "int",
    "Min": "float",
    "Max": "float",
    "Sum": "float",
    "Avg": "float",
    "StdDev": "float",
    "Data": "buckets",
    "Percentiles": "percentiles",
}
BUCKET_FIELDS = {"Start": "float", "End": "float", "Percent": "float", "Count": "int"}
PERCENTILE_FIELDS = {"Percentile": "float", "Value": "float"}


def go_time(t: datetime) -> str:
    """``time.Time`` as Go's encoding/json writes it (RFC 3339, UTC ``Z``)."""
    t = t.astimezone(UTC)
    return t.isoformat(timespec="microseconds" if t.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


def go_duration(seconds: float) -> str:
    """``time.Duration.String()`` of whole seconds: ``8s``, ``1m36s``, ``2h0m5s``."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    return f"{m}m{sec}s" if m else f"{sec}s"


def histogram_data(h: HdrHistogram) -> dict[str, Any]:
    """Fortio's ``HistogramData`` of a meshbench histogram (µs), in seconds."""
    total = h.get_total_count()
    if total == 0:
        return {
            "Count": 0,
            "Min": 0.0,
            "Max": 0.0,
            "Sum": 0.0,
            "Avg": 0.0,
            "StdDev": 0.0,
            "Data": None,
        }
    lay = hist.layout(h)
    c = hist.counts(h)
    used = np.flatnonzero(c)
    lowest = hist.bucket_lowest_us(lay)[used]
    highest = hist.bucket_highest_us(lay)[used]
    cum = np.cumsum(c[used])
    min_us, max_us = float(h.get_min_value()), float(h.get_max_value())
    data = []
    for k, i in enumerate(used):
        start = min_us if k == 0 else float(lowest[k] - 1)
        end = max_us if k == len(used) - 1 else float(highest[k])
        data.append(
            {
                "Start": start / US_PER_S,
                "End": end / US_PER_S,
                "Percent": 100.0 * float(cum[k]) / total,
                "Count": int(c[i]),
            }
        )
    mean_us = h.get_mean_value()
    values = hist.percentiles_us(c, lay, PERCENTILES)
    return {
        "Count": int(total),
        "Min": min_us / US_PER_S,
        "Max": max_us / US_PER_S,
        "Sum": mean_us * total / US_PER_S,
        "Avg": mean_us / US_PER_S,
        "StdDev": h.get_stddev() / US_PER_S,
        "Data": data,
        "Percentiles": [
            {"Percentile": q, "Value": float(v) / US_PER_S}
            for q, v in zip(PERCENTILES, values, strict=True)
        ],
    }


def _url(run: Run) -> str:
    sc = run.scenario
    topo = sc.get("topology") or {}
    path = (sc.get("load") or {}).get("path", "/")
    return f"http://{topo.get('entry', 'frontend')}:{topo.get('port', 8080)}{path}"


def result(run: Run, r: CellResult) -> dict[str, Any]:
    """One Fortio ``HTTPRunnerResults`` of a mesh x cell (field table: :data:`RESULT_FIELDS`)."""
    ok = max(r.requests - r.errors, 0)
    codes = {"200": ok, **({"-1": r.errors} if r.errors else {})}
    return {
        "RunType": "HTTP",
        "Labels": f"meshbench {run.run_id} {r.mesh} {r.title} ({r.trials} trials pooled)",
        "StartTime": go_time(r.start),
        "RequestedQPS": f"{r.cell.rate_rps:g}",
        "RequestedDuration": go_duration(r.measured_s),
        "ActualQPS": r.requests / r.measured_s if r.measured_s > 0 else 0.0,
        "ActualDuration": round(r.measured_s * 1e9),
        "NumThreads": r.connections,
        "Version": f"meshbench {__version__}",
        "DurationHistogram": histogram_data(r.histogram),
        "ErrorsDurationHistogram": None,
        "Exactly": 0,
        "Jitter": False,
        "Uniform": False,
        "NoCatchUp": False,
        "RunID": 0,
        "AccessLoggerInfo": "",
        "ID": r.name,
        "RetCodes": codes,
        "URL": _url(run),
        "NumConnections": r.connections,
        "SocketCount": r.connections,
    }


def write(run: Run, out_dir: Path) -> list[Path]:
    """One ``<run>_<mesh>_<cell>.json`` per mesh x cell into ``out_dir`` (flat, as
    ``fortio report -data-dir`` lists it)."""
    written = []
    for r in cell_results(run):
        path = out_dir / f"{r.name}.json"
        atomic_write_text(path, json.dumps(result(run, r), indent=2) + "\n")
        written.append(path)
    return written
