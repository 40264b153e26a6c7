"""Merging the outputs of N load workers into one trial, losslessly.

Histograms are added (HdrHistogram ``add``), interval by interval: workers share a
schedule origin, so their intervals line up; an interval that does not (a worker that
started late) is kept as its own line, so totals stay exact either way. Percentiles are
never averaged. Counts are summed; the generator CPU kept for validity is the busiest
worker's, since each worker is its own process on its own core budget.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from meshbench.errors import ResultsError
from meshbench.load.spec import HLOG_FILE, LOCUST_STATS_FILE, LoadSummary
from meshbench.results import rundir
from meshbench.results.hlog import LogWriter, iter_log, new_histogram, start_time


def merge_summaries(summaries: list[LoadSummary]) -> LoadSummary:
    """One summary for the whole trial: sums, the longest duration, the busiest worker."""
    if not summaries:
        raise ValueError("no worker summaries to merge")
    kinds: Counter[str] = Counter()
    warmup_kinds: Counter[str] = Counter()
    for s in summaries:
        kinds.update(s.error_kinds)
        warmup_kinds.update(s.warmup_error_kinds)
    stopped = next((s.stopped_by for s in summaries if s.stopped_by != "schedule"), "schedule")
    return LoadSummary(
        requests=sum(s.requests for s in summaries),
        errors=sum(s.errors for s in summaries),
        warmup_requests=sum(s.warmup_requests for s in summaries),
        warmup_errors=sum(s.warmup_errors for s in summaries),
        duration_s=max(s.duration_s for s in summaries),
        achieved_rps=round(sum(s.achieved_rps for s in summaries), 3),
        generator_cpu=max(s.generator_cpu for s in summaries),
        started_utc=min(s.started_utc for s in summaries),
        error_kinds=dict(kinds),
        warmup_error_kinds=dict(warmup_kinds),
        stopped_by=stopped,
        dispatch_lag_p99_ms=max(s.dispatch_lag_p99_ms for s in summaries),
        generator_rss_mib=round(sum(s.generator_rss_mib for s in summaries), 1),
        killed_after_s=max(s.killed_after_s for s in summaries),
        extra={
            "worker_count": len(summaries),
            "generator_cpu_total": round(sum(s.generator_cpu for s in summaries), 4),
            "generator_cpu_note": "generator_cpu is the busiest worker's (cores)",
            "workers": [asdict(s) for s in summaries],
        },
    )


def merge_hlogs(paths: list[Path], out: Path, comment: str = "meshbench load (merged)") -> None:
    """Add the workers' interval histograms into one HdrHistogram log at ``out``."""
    merged: dict[tuple[str, float, float], HdrHistogram] = {}
    starts: list[float] = []
    for path in paths:
        st = start_time(path)
        if st is None:
            raise ResultsError(f"{path}: interval log has no StartTime header; cannot align it")
        starts.append(st)
        for iv in iter_log(path):
            key = (iv.tag, round(st + iv.start_s, 3), round(iv.length_s, 3))
            hist = merged.get(key)
            if hist is None:
                hist = merged[key] = new_histogram()
            hist.add(iv.histogram)
    origin = min(starts) if starts else 0.0
    with rundir.text_file(out.parent, out.name) as f:  # atomically
        writer = LogWriter(f, origin, comment)
        for (tag, abs_start, length), hist in sorted(
            merged.items(), key=lambda kv: (kv[0][1], kv[0][0])
        ):
            writer.write(tag, abs_start, abs_start + length, hist)


def merge_worker_dirs(worker_dirs: list[Path], out_dir: Path) -> LoadSummary:
    """Write the merged summary.json, latency.hlog and locust_stats.json into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = [LoadSummary.read(d) for d in worker_dirs]
    merge_hlogs([d / HLOG_FILE for d in worker_dirs], out_dir / HLOG_FILE)
    stats: dict[str, Any] = {
        "note": "Locust statistics of each worker, kept for familiarity; never used for "
        "percentiles.",
        "workers": [],
    }
    for d in worker_dirs:
        p = d / LOCUST_STATS_FILE
        stats["workers"].append(json.loads(p.read_text()) if p.exists() else None)
    rundir.write_text(out_dir, LOCUST_STATS_FILE, json.dumps(stats, indent=2, default=str))
    summary = merge_summaries(summaries)
    summary.write(out_dir)
    return summary
