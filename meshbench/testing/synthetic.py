"""Synthetic runs in the stored format, for tests, examples and the analysis benchmark.

The files are exactly what a real run writes (``run.json``, ``trials.csv``, one
HdrHistogram interval log per trial, ``trials/<trial_id>/*.json``), but the latencies
come from a function of the caller's choosing, so the analysis can be checked against
known answers. Samples are binned with numpy (:func:`histogram_from_us`): recording 10
million values one by one would take ~11 s in Python.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

from meshbench.config.dimensions import AA_CONTROL, BASELINE
from meshbench.config.scenario import parse_scenario
from meshbench.planning.plan import Trial, interleave
from meshbench.results import hlog, store
from meshbench.results.trial_record import TrialRecord

TrialKey = Trial
"""Which cell a synthetic trial belongs to: a planned trial (None: not swept)."""


Sampler = Callable[[TrialKey, int, np.random.Generator], NDArray[np.float64]]
"""``(trial, n_samples, rng) -> latencies in µs`` for one one-second interval."""


def lognormal_sampler(
    shift_us: Mapping[str, float],
    median_us: float = 1000.0,
    sigma: float = 0.3,
    trial_jitter: float = 0.02,
    rate_factor: Callable[[float], float] = lambda r: 1.0,
    warmup_us: float | None = None,
    warmup_intervals: int = 1,
    repeat_jitter: Sequence[float] | None = None,
) -> Sampler:
    """Lognormal latencies, a per-trial multiplicative jitter, plus a per-mesh shift (µs).

    The jitter of a trial is random (normal, sd ``trial_jitter``) or, with
    ``repeat_jitter``, that list's value for the trial's repeat, the same for every mesh:
    then the population difference between two meshes is exactly their shift. With
    ``warmup_us`` the warm-up intervals return that constant instead (to prove they are
    excluded).
    """
    jitter: dict[str, float] = {}
    calls: dict[str, int] = {}

    def sample(t: TrialKey, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        i = calls.get(t.trial_id, 0)
        calls[t.trial_id] = i + 1
        if t.trial_id not in jitter:
            jitter[t.trial_id] = (
                repeat_jitter[(t.repeat - 1) % len(repeat_jitter)]
                if repeat_jitter
                else 1.0 + rng.normal(0.0, trial_jitter)
            )
        if warmup_us is not None and i < warmup_intervals:
            return np.full(n, warmup_us)
        base = rng.lognormal(np.log(median_us), sigma, n) * jitter[t.trial_id]
        return np.asarray(base * rate_factor(t.rate_rps) + shift_us[t.mesh], dtype=np.float64)

    return sample


def counts_index(histogram: HdrHistogram, values_us: NDArray[np.int64]) -> NDArray[np.int64]:
    """The counts-array index of each value, as ``HdrHistogram.record_value`` computes it."""
    v = np.asarray(values_us, dtype=np.int64)
    unit = histogram.unit_magnitude
    half_mag = histogram.sub_bucket_half_count_magnitude
    masked = (v | histogram.sub_bucket_mask).astype(np.float64)
    _, bit_length = np.frexp(masked)  # exact: values are < 2**53
    bucket = bit_length.astype(np.int64) - unit - (half_mag + 1)
    sub = v >> (bucket + unit)
    index: NDArray[np.int64] = ((bucket + 1) << half_mag) + sub - histogram.sub_bucket_half_count
    return index


def histogram_from_us(
    values_us: NDArray[np.floating[Any]] | NDArray[np.integer[Any]],
) -> HdrHistogram:
    """A meshbench histogram of ``values_us``, clamped and truncated like :func:`hlog.record_us`."""
    h = hlog.new_histogram()
    v = np.clip(np.asarray(values_us).astype(np.int64), hlog.LOWEST_US, hlog.HIGHEST_US)
    if v.size == 0:
        return h
    idx = counts_index(h, v)
    counts = np.ctypeslib.as_array(h.counts)
    binned = np.bincount(idx, minlength=h.counts_len)
    counts += binned.astype(counts.dtype)
    nonzero = np.flatnonzero(binned)
    h.set_internal_tacking_values(int(nonzero[0]), int(nonzero[-1]), int(v.size))
    return h


def _percentiles_ms(h: HdrHistogram) -> dict[str, float]:
    if h.get_total_count() == 0:
        return {}
    got = hlog.percentiles_ms(h, (50.0, 90.0, 99.0, 99.9, 100.0))
    return {
        "p50_ms": got[50.0],
        "p90_ms": got[90.0],
        "p99_ms": got[99.0],
        "p999_ms": got[99.9],
        "max_ms": got[100.0],
        "mean_ms": h.get_mean_value() / 1000,
    }


def plan(scenario: Mapping[str, Any]) -> list[TrialKey]:
    """Trials of a scenario mapping, interleaved like :mod:`meshbench.planning.plan` does (every
    repeat runs every sweep cell; meshes rotate each repeat), with the same trial ids,
    but without the seeded shuffle."""
    meshes = list(scenario["meshes"])
    if scenario.get("aa_control") and BASELINE in meshes:
        meshes.append(AA_CONTROL)
    return interleave(scenario, meshes)


def write_synthetic_run(
    run_dir: Path,
    scenario: Mapping[str, Any],
    latency_us: Sampler,
    *,
    measured_intervals: int = 10,
    warmup_intervals: int = 2,
    samples_per_interval: Callable[[TrialKey], int] | None = None,
    invalid: Mapping[str, str] | None = None,
    resources: Callable[[TrialKey], Mapping[str, float]] | None = None,
    seed: int = 1,
    start_epoch_s: float = 1_700_000_000.0,
    status: str = "complete",
    platform_name: str = "local",
    order: Callable[[list[TrialKey]], list[TrialKey]] = lambda trials: trials,
) -> list[TrialKey]:
    """Write a complete run into the empty directory ``run_dir``; return its trials.

    ``scenario`` is a ``Scenario.model_dump(mode="json")``-shaped mapping (meshes,
    load.rates_rps, repeats are taken from it). Service time is the latency minus a
    small send lag. ``invalid`` maps trial ids to the reason they are stored invalid.
    Everything is deterministic for a given ``seed``. ``order``: how the platform runs
    the plan's trials (e.g. :func:`meshbench.planning.windows.in_windows`); default as planned.
    """
    invalid = invalid or {}
    rng = np.random.default_rng(seed)
    trials = order(plan(scenario))
    (run_dir / store.HISTOGRAMS).mkdir(parents=True, exist_ok=True)
    rows: list[TrialRecord] = []
    clock = start_epoch_s
    for t in trials:
        per_interval = (
            samples_per_interval(t) if samples_per_interval else max(1, round(t.rate_rps))
        )
        hist_rel = f"{store.HISTOGRAMS}/{t.trial_id}.hlog"
        totals = {tag: hlog.new_histogram() for tag in hlog.TAGS}
        with (run_dir / hist_rel).open("w") as out:
            writer = hlog.LogWriter(out, clock, comment=f"meshbench synthetic trial {t.trial_id}")
            for i in range(warmup_intervals + measured_intervals):
                warm = i < warmup_intervals
                lat = np.asarray(latency_us(t, per_interval, rng), dtype=np.float64)
                lag = rng.exponential(20.0, lat.size)
                service = np.maximum(lat - lag, 1.0)
                for tag, values in (("latency", lat), ("service", service), ("send_lag", lag)):
                    h = histogram_from_us(values)
                    writer.write(
                        (hlog.WARMUP_PREFIX + tag) if warm else tag, clock + i, clock + i + 1, h
                    )
                    if not warm:
                        totals[tag].add(h)
        lat_pcts = _percentiles_ms(totals["latency"])
        svc = _percentiles_ms(totals["service"])
        lag_pcts = _percentiles_ms(totals["send_lag"])
        requests = totals["latency"].get_total_count()
        cost = dict(resources(t)) if resources else {}
        rows.append(
            TrialRecord(
                **t.record_keys(),
                valid=t.trial_id not in invalid,
                invalid_reason=invalid.get(t.trial_id, ""),
                requests=requests,
                errors=0,
                warmup_requests=per_interval * warmup_intervals,
                duration_s=float(measured_intervals),
                achieved_rps=requests / measured_intervals,
                p50_ms=lat_pcts.get("p50_ms"),
                p90_ms=lat_pcts.get("p90_ms"),
                p99_ms=lat_pcts.get("p99_ms"),
                p999_ms=lat_pcts.get("p999_ms"),
                max_ms=lat_pcts.get("max_ms"),
                mean_ms=lat_pcts.get("mean_ms"),
                service_p50_ms=svc.get("p50_ms"),
                service_p99_ms=svc.get("p99_ms"),
                send_lag_p50_ms=lag_pcts.get("p50_ms"),
                send_lag_p99_ms=lag_pcts.get("p99_ms"),
                send_lag_max_ms=lag_pcts.get("max_ms"),
                generator_cpu=cost.get("generator_cpu"),
                sidecar_cpu=cost.get("sidecar_cpu"),
                service_cpu=cost.get("service_cpu"),
                sidecar_rss_mib=cost.get("sidecar_rss_mib"),
                service_rss_mib=cost.get("service_rss_mib"),
                started_utc=_iso(clock),
                histogram=hist_rel,
            )
        )
        trial_dir = run_dir / store.TRIALS / t.trial_id
        trial_dir.mkdir(parents=True, exist_ok=True)
        summary = {
            "requests": requests,
            "errors": 0,
            "warmup_requests": per_interval * warmup_intervals,
            "warmup_errors": 0,
            "duration_s": float(measured_intervals),
            "achieved_rps": requests / measured_intervals,
            "generator_cpu": cost.get("generator_cpu", 0.0),
            "started_utc": _iso(clock),
            "error_kinds": {},
            "stopped_by": "schedule",
            "extra": {"synthetic": True},
        }
        (trial_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
        clock += warmup_intervals + measured_intervals + 5
    store.write_trials(run_dir, rows)
    store.write_json(
        run_dir / store.RUN_JSON,
        {
            "schema_version": store.SCHEMA_VERSION,
            "run_id": run_dir.name,
            "status": status,
            "created_utc": _iso(start_epoch_s),
            "finished_utc": _iso(clock),
            "scenario": dict(scenario),
            "scenario_file": "synthetic",
            "platform": {"name": platform_name, "synthetic": True},
            "versions": {"meshbench": "synthetic", "python": platform.python_version()},
            "host": {
                "hostname": "synthetic",
                "kernel": "",
                "cpu_count": 2,
                "cpu_model": "",
                "mem_gib": 0,
            },
            "pinning": {"load_cpus": "0", "pod_cpus": "1"},
            "seed": seed,
            "plan": [t.to_dict() for t in trials],
        },
    )
    return trials


def small_run(run_dir: Path, meshes: list[str], repeats: int = 2) -> Path:
    """A tiny stored run in ``run_dir`` (created): ``meshes`` at 100 rps, ``repeats``
    repeats of two measured 1 s intervals of 200 samples, every mesh drawn from the same
    distribution (no overhead). For tests of what reads and writes runs."""
    scenario: dict[str, Any] = parse_scenario(
        {
            "name": "t",
            "meshes": meshes,
            "repeats": repeats,
            "load": {"rates_rps": [100], "duration_s": 2, "warmup_s": 1},
        }
    ).model_dump(mode="json")
    run_dir.mkdir(parents=True)
    write_synthetic_run(
        run_dir,
        scenario,
        lognormal_sampler({m: 0.0 for m in meshes}),
        measured_intervals=2,
        warmup_intervals=1,
        samples_per_interval=lambda _t: 200,
    )
    return run_dir


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")
