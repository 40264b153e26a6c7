"""``verdict.json``: every verdict of a report, comparison or gate, for machines.

Written next to report.html by ``meshbench report``, into the comparison's directory by
``meshbench compare`` and into the gate's by ``meshbench gate``. One document holds the
analysis settings, each run's design, scope and host state, and one record per verdict
(overhead or difference, interval, p-values, MDE, threshold, verdict word); a gate adds
its outcome, exit code and gated rows. Units are in the key names; a missing number is
``null``; floats keep 9 significant digits.

Schema history (bump :data:`VERDICT_SCHEMA_VERSION` when a key changes meaning or
disappears, and keep reading the old versions in :func:`read_verdict`):

- 1: first version (kinds ``run``, ``compare``, ``gate``).
  ``tests/data/golden/verdict-v1.json`` is a frozen file of this version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from meshbench import __version__
from meshbench.analysis import gate as gt
from meshbench.analysis.compare import Comparison
from meshbench.analysis.stored_run import Run
from meshbench.analysis.summary import Analysis
from meshbench.config.dimensions import cell_of
from meshbench.errors import ResultsError
from meshbench.report import fmt
from meshbench.report.tables import interval_scope
from meshbench.results import store
from meshbench.results.fingerprint import host_fingerprint

VERDICT_JSON = "verdict.json"
SCHEMA = "meshbench.verdict"
VERDICT_SCHEMA_VERSION = 1
READABLE_VERSIONS = (1,)
KINDS = ("run", "compare", "gate")
SIGNIFICANT = 9


def _clean_doc(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = clean(doc)
    return out


def clean(v: Any) -> Any:
    """``v`` as plain JSON: numpy and pandas scalars unwrapped, NaN/NA as None, floats
    to :data:`SIGNIFICANT` digits, containers cleaned recursively."""
    if isinstance(v, Mapping):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA:
        return None
    if isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return float(f"{v:.{SIGNIFICANT}g}") if math.isfinite(v) else None
    return str(v)


def host_state(run: Run) -> dict[str, Any]:
    """CPU steal and foreign load over the run's trials (None where not recorded)."""
    t = run.trials
    recorded = not (t.empty or t["host_steal_pct"].isna().all())
    return {
        "recorded": recorded,
        "steal_pct_mean": t["host_steal_pct"].mean() if recorded else None,
        "steal_pct_max": t["host_steal_pct"].max() if recorded else None,
        "foreign_cpu_cores_mean": t["host_foreign_cpu"].mean() if recorded else None,
        "foreign_cpu_cores_max": t["host_foreign_cpu"].max() if recorded else None,
        "trials_flagged": int((t["host_flag"] != "").sum()) if len(t) else 0,
        "summary": fmt.host_state(run),
    }


def run_summary(an: Analysis) -> dict[str, Any]:
    """One run's identity, design, scope and host state."""
    run = an.run
    sc = run.scenario
    load = sc.get("load") or {}
    d = an.diagnostics
    units = sorted(set(an.overhead["block_unit"])) if len(an.overhead) else []
    return {
        "run_id": run.run_id,
        "path": str(run.path),
        "status": run.status,
        "scenario": sc.get("name"),
        "platform": run.platform,
        "versions": run.meta.get("versions") or {},
        "host": run.meta.get("host") or {},
        "host_fingerprint": host_fingerprint(run.meta),
        "host_state": host_state(run),
        "design": {
            "meshes": run.meshes,
            "cells": [c.as_dict() for c in run.cells],
            "repeats": sc.get("repeats"),
            "deployments": sc.get("deployments", 1),
            "duration_s": load.get("duration_s"),
            "warmup_s": load.get("warmup_s"),
            "trials": len(run.trials),
            "trials_included": int(run.trials["included"].sum()) if len(run.trials) else 0,
            "interleaved": bool(d["interleaved"].all()) if len(d) else None,
            "block_units": units,
            "seed": run.seed,
        },
        "scope": {
            "deployments_covered": int(fmt.num(sc.get("deployments", 1)) or 1) > 1,
            "summary": interval_scope(an),
        },
    }


def _settings(an: Analysis) -> dict[str, Any]:
    spec = an.spec
    return {
        "confidence": spec.confidence,
        "alpha": 1 - spec.confidence,
        "min_effect_ms": spec.min_effect_ms,
        "min_effect_pct": spec.min_effect_pct,
        "threshold_rule": "max(min_effect_ms, min_effect_pct % of none at that percentile)",
        "primary_percentiles": list(an.primary),
        "multiplicity": "Holm over the primary rows of meshes x cells, per percentile",
        "power_for_mde": 0.8,
    }


OVERHEAD_FIELDS = {
    "percentile": "percentile",
    "label": "label",
    "quantity": None,
    "baseline_ms": "baseline_ms",
    "mesh_ms": "mesh_ms",
    "estimate_ms": "overhead_ms",
    "estimate_pct": "overhead_pct",
    "ci_low_ms": "ci_low_ms",
    "ci_high_ms": "ci_high_ms",
    "ci_low_pct": "ci_low_pct",
    "ci_high_pct": "ci_high_pct",
    "p_value": "p_value",
    "p_holm": "p_holm",
    "mde_ms": "mde_ms",
    "threshold_ms": "threshold_ms",
    "repeats_needed": "repeats_needed",
    "n_blocks": "n_blocks",
    "block_unit": "block_unit",
    "method": "method",
    "primary": "primary",
    "verdict": "verdict",
    "why": "why",
}
"""Keys of a ``run`` verdict record and the overhead column each comes from."""

DIFF_FIELDS = {
    "percentile": "percentile",
    "label": "label",
    "quantity": "quantity",
    "a_ms": "a_ms",
    "b_ms": "b_ms",
    "estimate_ms": "diff_ms",
    "estimate_pct": "diff_pct",
    "ci_low_ms": "ci_low_ms",
    "ci_high_ms": "ci_high_ms",
    "p_value": "p_value",
    "p_holm": "p_holm",
    "mde_ms": "mde_ms",
    "threshold_ms": "threshold_ms",
    "repeats_needed": "repeats_needed",
    "n_a": "n_a",
    "n_b": "n_b",
    "block_unit": "block_unit",
    "primary": "primary",
    "verdict": "verdict",
    "why": "why",
}
"""Keys of a ``compare`` (and ``gate``) verdict record and the diff column of each."""


def _rows(df: pd.DataFrame, fields: Mapping[str, str | None], quantity: str) -> list[Any]:
    out = []
    for r in df.to_dict("records"):
        rec: dict[str, Any] = {"mesh": r["mesh"], "cell": cell_of(r).as_dict()}
        for key, col in fields.items():
            rec[key] = r.get(col) if col else quantity
        out.append(rec)
    return out


def _document(kind: str, settings: dict[str, Any], runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": VERDICT_SCHEMA_VERSION,
        "kind": kind,
        "meshbench_version": __version__,
        "generated_utc": store.utc_now(),
        "analysis": settings,
        "runs": runs,
    }


def run_document(an: Analysis) -> dict[str, Any]:
    """The verdict document of one run's report."""
    o = an.overhead[an.overhead["tag"] == "latency"] if len(an.overhead) else an.overhead
    doc = _document("run", _settings(an), {"run": run_summary(an)})
    doc["verdicts"] = _rows(o, OVERHEAD_FIELDS, "overhead vs none")
    doc["warnings"] = list(an.warnings)
    doc["notes"] = list(an.notes)
    return _clean_doc(doc)


def compare_document(cmp: Comparison, diff: pd.DataFrame | None = None) -> dict[str, Any]:
    """The verdict document of a comparison (B - A); ``diff`` replaces its verdict rows
    (a gate's, decided over the gate's family)."""
    doc = _document("compare", _settings(cmp.b), {"a": run_summary(cmp.a), "b": run_summary(cmp.b)})
    doc["verdicts"] = _rows(cmp.diff if diff is None else diff, DIFF_FIELDS, "")
    doc["warnings"] = [f"A: {w}" for w in cmp.a.warnings] + [f"B: {w}" for w in cmp.b.warnings]
    doc["warnings"] += list(cmp.disagreements)
    doc["notes"] = [f"other differences: {d}" for d in cmp.differences]
    doc["mismatches_forced"] = list(cmp.mismatches)
    return _clean_doc(doc)


GATE_FIELDS = {k: v for k, v in DIFF_FIELDS.items() if k not in ("quantity", "n_a", "n_b")}


def gate_document(g: gt.Gate, baseline_label: str | None = None) -> dict[str, Any]:
    """The verdict document of a gate: the comparison's, plus the outcome and gated rows."""
    doc = compare_document(g.comparison, g.diff)
    doc["kind"] = "gate"
    doc["analysis"]["multiplicity"] = (
        "Holm over the gated rows (the meshes' overheads in every cell), per percentile"
    )
    doc["runs"] = {"baseline": doc["runs"]["a"], "candidate": doc["runs"]["b"]}
    gated = _rows(g.rows, {**GATE_FIELDS, "outcome": "outcome"}, "")
    for rec in gated:
        rec.pop("primary", None)
    doc["gate"] = clean(
        {
            "outcome": g.outcome,
            "exit_code": g.exit_code,
            "exit_codes": {**gt.EXIT_CODES, "usage or input error": gt.EXIT_USAGE},
            "baseline": baseline_label or g.comparison.a.run.run_id,
            "rows": gated,
            "not_gated": [
                {
                    "mesh": r["mesh"],
                    "cell": cell_of(r).as_dict(),
                    "label": r["label"],
                    "quantity": r["quantity"],
                    "verdict": r["verdict"],
                    "why": r["why"],
                }
                for r in g.not_gated.to_dict("records")
            ],
            "forced": list(g.forced),
            "notes": list(g.notes),
        }
    )
    return doc


def write_verdict(doc: Mapping[str, Any], out_dir: Path, root: Path | None = None) -> Path:
    """Write ``doc`` as ``out_dir/verdict.json`` (atomically, no link followed below
    ``root``; default ``out_dir``); return its path."""
    path = Path(out_dir) / VERDICT_JSON
    text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    store.atomic_write_text(path, text, root)
    return path


def read_verdict(path: Path) -> dict[str, Any]:
    """Read a verdict.json (a file, or a directory holding one), refusing files of another
    schema or of a version this meshbench does not read."""
    p = Path(path)
    if p.is_dir():
        p = p / VERDICT_JSON
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(
            f"{p} does not exist",
            fix="run `meshbench report`, `compare` or `gate`, which write verdict.json",
        ) from None
    except (OSError, ValueError) as e:
        raise ResultsError(f"{p} is not a readable JSON file: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(
            f"{p} is not a meshbench verdict file (schema {_get(doc, 'schema')!r})",
            fix="pass the verdict.json that meshbench wrote",
        )
    version = doc.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ResultsError(
            f"{p} has verdict schema version {version!r}; this meshbench reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
            fix="read it with the meshbench version that wrote it, or upgrade meshbench",
        )
    if doc.get("kind") not in KINDS or not isinstance(doc.get("verdicts"), list):
        raise ResultsError(
            f"{p}: kind {doc.get('kind')!r} or its verdicts are not what version {version} defines",
            fix="restore verdict.json as meshbench wrote it",
        )
    return doc


def _get(doc: Any, key: str) -> Any:
    return doc.get(key) if isinstance(doc, dict) else None


__all__ = [
    "VERDICT_JSON",
    "VERDICT_SCHEMA_VERSION",
    "compare_document",
    "gate_document",
    "read_verdict",
    "run_document",
    "write_verdict",
]
