"""Number formatting shared by the console, Markdown and HTML reports."""

from __future__ import annotations

import math
from typing import Any, SupportsFloat, cast

from meshbench.analysis.stored_run import Run
from meshbench.host.pinning import Pinning

DASH = "-"


def num(v: object) -> float:
    """A table value as float; NaN for missing values (None, NaN, pandas NA)."""
    if v is None:
        return math.nan
    try:
        f = float(cast(SupportsFloat, v))
    except (TypeError, ValueError):
        return math.nan
    return f


def whole(v: object) -> int:
    """A table value as int (0 when missing)."""
    f = num(v)
    return 0 if math.isnan(f) else int(f)


def _bad(v: object) -> bool:
    return math.isnan(num(v))


def ms(v: object) -> str:
    """Milliseconds to the µs below 10 ms, then ~4 significant digits: 0.841, 12.34, 123.4."""
    if _bad(v):
        return DASH
    f = num(v)
    a = abs(f)
    digits = 3 if a < 10 else 2 if a < 100 else 1
    return f"{f:.{digits}f}"


def delta_ms(v: object) -> str:
    """A signed millisecond difference."""
    if _bad(v):
        return DASH
    return ("+" if num(v) >= 0 else "") + ms(v)


def pct(v: object) -> str:
    """A signed percentage."""
    if _bad(v):
        return DASH
    return f"{num(v):+.1f}%"


def ci(low: object, high: object) -> str:
    """A confidence interval in ms, ``[+0.71, +0.93]``."""
    if _bad(low) or _bad(high):
        return DASH
    return f"[{delta_ms(low)}, {delta_ms(high)}]"


def rate(v: object) -> str:
    return f"{num(v):g} rps"


def fixed(v: object, digits: int, suffix: str = "") -> str:
    """``v`` with ``digits`` decimals, or a dash when missing."""
    return DASH if _bad(v) else f"{num(v):.{digits}f}{suffix}"


def host_state(run: Run) -> str:
    """CPU steal and foreign load over the run's trials, in one line."""
    t = run.trials
    if t.empty or t["host_steal_pct"].isna().all():
        return "not recorded (run made before host state was recorded)"
    flagged = int((t["host_flag"] != "").sum())
    return (
        f"CPU steal mean {t['host_steal_pct'].mean():.1f}% (max "
        f"{t['host_steal_pct'].max():.1f}%), foreign load mean "
        f"{t['host_foreign_cpu'].mean():.2f} cores (max {t['host_foreign_cpu'].max():.2f}), "
        f"{flagged} trial(s) flagged"
    )


def resilience_lines(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """Each mesh's retries, timeouts and circuit breakers as the platform recorded them
    (``run.json`` platform ``resilience_policies``, kind): a retry turns an error into
    latency, so a reader must see which mesh had which. Empty where none was recorded."""
    policies = (meta.get("platform") or {}).get("resilience_policies") or {}
    if not policies:
        return []
    return [("resilience policies", "; ".join(str(v) for v in policies.values()))]


def cpu_timing_lines(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """How far the CPU figures can be trusted where the platform says (``run.json``
    platform ``cpu_timing``, kind: the kubelet's whole-second sample times). Empty where
    none was recorded (the local platform reads CPU time exactly)."""
    timing = (meta.get("platform") or {}).get("cpu_timing")
    return [("CPU figures", str(timing))] if timing else []


def setup_lines(run: Run) -> list[tuple[str, str]]:
    """Key facts of a run for the header of every report: (name, value) pairs."""
    m = run.meta
    sc = run.scenario
    load = sc.get("load") or {}
    host = m.get("host") or {}
    versions = m.get("versions") or {}
    pinning = m.get("pinning") or {}
    depth = ", ".join(str(d) for d in run.depths) or DASH
    vers = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v)
    lines = [
        ("run", f"{run.run_id} ({run.status})"),
        ("scenario", f"{sc.get('name', DASH)} ({m.get('scenario_file', DASH)})"),
        ("platform", run.platform),
        ("meshes", ", ".join(run.meshes) or DASH),
        ("call-chain depth", f"{depth} hop(s)"),
        ("client sidecar", str(sc.get("client_sidecar", DASH)).lower()),
        ("rates", ", ".join(rate(r) for r in run.rates) or DASH),
        (
            "load",
            f"{load.get('schedule', DASH)} schedule, {load.get('connections', DASH)} "
            f"connections, {load.get('duration_s', DASH)} s measured after "
            f"{load.get('warmup_s', DASH)} s warm-up",
        ),
        (
            "repeats",
            f"{sc.get('repeats', DASH)} per cell, interleaved (seed {run.seed}), on "
            f"{sc.get('deployments', 1)} fresh deployment(s) of every arm",
        ),
        ("host during trials", host_state(run)),
        (
            "host",
            f"{host.get('hostname', DASH)}: {host.get('cpu_model') or DASH}, "
            f"{host.get('cpu_count', DASH)} CPUs, {host.get('mem_gib', DASH)} GiB, "
            f"kernel {host.get('kernel') or DASH}",
        ),
        ("pinning", Pinning.from_json(pinning, DASH).describe(on_cpus=True)),
        *resilience_lines(m),
        *cpu_timing_lines(m),
        ("versions", vers or DASH),
        ("created", f"{m.get('created_utc', DASH)}, finished {m.get('finished_utc') or DASH}"),
    ]
    if run.slo is not None:
        lines.append(("latency budget", f"{run.slo.label} <= {ms(run.slo.budget_ms)} ms"))
    return lines
