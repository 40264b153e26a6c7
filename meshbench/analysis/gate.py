"""Gate a candidate run against a baseline run: did the mesh change make latency worse?

The gate stands on :func:`meshbench.analysis.compare.compare_runs`: per mesh, cell and
primary percentile, the candidate's overhead against its own ``none`` minus the
baseline's (a difference of differences, so host drift between the runs cancels), its
interval, and the verdict words every report uses
(:func:`meshbench.analysis.verdicts.apply_verdicts`), Holm-adjusted over the rows the
gate decides on (the meshes' overheads in every cell, per percentile: ``none``'s
latency and the A/A control are not part of that family). Each gated row then has an
*outcome*:

- ``regression``: the verdict is ``slower``;
- ``pass``: ``no meaningful change`` or ``faster``, or ``inconclusive`` with the whole
  interval below +threshold (a regression as large as the threshold is ruled out,
  though an improvement is not shown);
- ``inconclusive``: any other ``inconclusive``, ``too few repeats`` or ``no data``.

The gate's outcome is the worst row's: regression, else inconclusive, else pass, with
the exit codes :data:`EXIT_CODES` (2 is left to usage and input errors). ``none``'s own
latency and the A/A control are compared too but not gated: a change of the host or
the workload is not a regression of the mesh.

Runs that measured different things (scenario, platform, topology, rates, sweep) or on
different hosts (:mod:`meshbench.results.fingerprint`) are refused unless forced,
naming what differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from meshbench.analysis import verdicts as vd
from meshbench.analysis.compare import OVERHEAD, Comparison, compare_runs, metadata_differences
from meshbench.analysis.stored_run import Run, load_run
from meshbench.config.dimensions import AA_CONTROL, BASELINE, DIMS
from meshbench.config.scenario import AnalysisSpec
from meshbench.errors import MeshbenchError, ResultsError
from meshbench.results.fingerprint import host_differences

PASS = "pass"
REGRESSION = "regression"
INCONCLUSIVE = "inconclusive"

EXIT_CODES = {PASS: 0, REGRESSION: 1, INCONCLUSIVE: 3}
"""Exit code of ``meshbench gate`` per outcome; 2 is a usage or input error."""
EXIT_USAGE = 2

GATE_COLUMNS = [
    "mesh",
    *DIMS,
    "percentile",
    "label",
    "a_ms",
    "b_ms",
    "diff_ms",
    "ci_low_ms",
    "ci_high_ms",
    "p_value",
    "p_holm",
    "threshold_ms",
    "mde_ms",
    "repeats_needed",
    "block_unit",
    "verdict",
    "why",
    "outcome",
]


class GateSettingsError(MeshbenchError):
    """A threshold or percentile given to the gate is out of range."""


@dataclass
class Gate:
    """A candidate gated against a baseline: the comparison and one outcome per gated row."""

    comparison: Comparison
    diff: pd.DataFrame
    """``comparison.diff`` with the verdicts re-decided over the gate's Holm family
    (:func:`gate_verdicts`)."""
    rows: pd.DataFrame
    """The gated rows of ``comparison.diff`` (overheads of the meshes at the primary
    percentiles that got a verdict), with an ``outcome`` column."""
    not_gated: pd.DataFrame
    """Primary rows that were compared but not gated: ``none``'s latency, the A/A
    control, and percentiles whose tails are too thin for a verdict (``why`` says)."""
    forced: list[str] = field(default_factory=list)
    """What differs between the runs and would have refused the gate without force."""
    notes: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``regression`` if any row is, else ``inconclusive`` if any row is (or nothing
        could be gated), else ``pass``."""
        got = set(self.rows["outcome"])
        if REGRESSION in got:
            return REGRESSION
        if INCONCLUSIVE in got or not got:
            return INCONCLUSIVE
        return PASS

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def row_outcome(verdict: str, ci_high_ms: float, threshold_ms: float) -> str:
    """The gate outcome of one row with a verdict (see the module docstring)."""
    if verdict == vd.SLOWER:
        return REGRESSION
    if verdict in (vd.NO_CHANGE, vd.FASTER):
        return PASS
    if verdict == vd.INCONCLUSIVE and math.isfinite(ci_high_ms) and ci_high_ms < threshold_ms:
        return PASS
    return INCONCLUSIVE


def gate_spec(
    run: Run,
    *,
    threshold_ms: float | None = None,
    threshold_pct: float | None = None,
    percentiles: Sequence[float] | None = None,
) -> AnalysisSpec | None:
    """The candidate's ``analysis`` settings with the gate's overrides (None: no override).

    A threshold given in ms only, or in % only, is the whole threshold (the other part
    is 0); given both, the larger applies at each percentile, as in a scenario.
    """
    if threshold_ms is None and threshold_pct is None and not percentiles:
        return None
    data = vd.analysis_spec(run).model_dump()
    if threshold_ms is not None or threshold_pct is not None:
        data["min_effect_ms"] = threshold_ms or 0.0
        data["min_effect_pct"] = threshold_pct or 0.0
    if percentiles:
        data["primary"] = tuple(float(q) for q in percentiles)
    try:
        return AnalysisSpec.model_validate(data)
    except ValidationError as e:
        msg = "; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors())
        raise GateSettingsError(
            f"gate settings out of range: {msg}",
            fix="give --threshold-ms >= 0, --threshold-pct >= 0 and percentiles in (0, 100)",
        ) from None


def key_differences(a: Run, b: Run) -> list[str]:
    """What makes two runs not comparable for a gate: scenario name, platform, topology,
    rates, sweep and host fingerprint (one line each)."""
    name_a, name_b = a.scenario.get("name"), b.scenario.get("name")
    out = [f"scenario: {name_a!r} vs {name_b!r}"] if name_a != name_b else []
    out += metadata_differences(a.meta, b.meta)[0]
    return out + host_differences(a.meta, b.meta)


def gate_runs(
    baseline: Run | str | Path,
    candidate: Run | str | Path,
    *,
    threshold_ms: float | None = None,
    threshold_pct: float | None = None,
    percentiles: Sequence[float] | None = None,
    force: bool = False,
) -> Gate:
    """Gate ``candidate`` against ``baseline`` (run directories or loaded runs).

    Thresholds and primary percentiles default to the candidate's ``analysis``
    settings. Raises :class:`ResultsError` for runs that are not comparable
    (:func:`key_differences`) unless ``force``, and for runs without a ``none`` baseline.
    """
    run_a = baseline if isinstance(baseline, Run) else load_run(baseline)
    run_b = candidate if isinstance(candidate, Run) else load_run(candidate)
    differ = key_differences(run_a, run_b)
    if differ and not force:
        raise ResultsError(
            f"baseline {run_a.run_id} and candidate {run_b.run_id} are not comparable: "
            + "; ".join(differ),
            fix="gate runs of the same scenario on the same host and platform, or pass "
            "--force to gate them anyway",
        )
    for run in (run_a, run_b):
        if not run.has_baseline:
            raise ResultsError(
                f"run {run.run_id} has no '{BASELINE}' arm, so it has no overhead to gate",
                fix=f"list '{BASELINE}' among the scenario's meshes",
            )
    spec = gate_spec(
        run_b, threshold_ms=threshold_ms, threshold_pct=threshold_pct, percentiles=percentiles
    )
    cmp = compare_runs(run_a, run_b, force=True, spec=spec)
    diff = gate_verdicts(cmp.diff, 1 - cmp.b.confidence)
    rows, not_gated = gated_rows(diff)
    notes = _one_sided(run_a, run_b)
    if run_b.status != "complete":
        notes.append(f"the candidate's status is {run_b.status!r}: some trials are missing")
    return Gate(cmp, diff, rows, not_gated, differ, notes)


def _family(diff: pd.DataFrame) -> pd.Series:
    """The rows a gate decides on: the meshes' overheads at the primary percentiles."""
    return (
        diff["primary"].astype(bool) & (diff["quantity"] == OVERHEAD) & (diff["mesh"] != AA_CONTROL)
    )


def gate_verdicts(diff: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """A copy of a comparison's ``diff`` whose tested rows (every verdict but
    ``descriptive`` and ``no data``, which no interval decides; or still empty) are
    decided again by :func:`~meshbench.analysis.verdicts.apply_verdicts`, Holm-adjusted
    over the gate's family only (:func:`_family`)."""
    d = diff.copy()
    d.loc[~d["verdict"].isin([vd.DESCRIPTIVE, vd.NO_DATA]), "verdict"] = ""
    return vd.apply_verdicts(d, alpha, _family(d), estimate="diff_ms")


def gated_rows(diff: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(gated, not gated)`` primary rows of a ``diff`` decided by :func:`gate_verdicts`:
    the gated ones restricted to :data:`GATE_COLUMNS`, with their ``outcome``."""
    primary = diff[diff["primary"].astype(bool)]
    sel = _family(primary) & (primary["verdict"] != vd.DESCRIPTIVE)
    rows = primary[sel].copy()
    rows["outcome"] = [
        row_outcome(str(v), float(h), float(t))
        for v, h, t in zip(rows["verdict"], rows["ci_high_ms"], rows["threshold_ms"], strict=True)
    ]
    return rows[GATE_COLUMNS].reset_index(drop=True), primary[~sel].reset_index(drop=True)


def _one_sided(a: Run, b: Run) -> list[str]:
    """Meshes measured in only one of the runs (not gated)."""
    out = []
    for mesh in sorted(set(a.meshes) ^ set(b.meshes)):
        where = "baseline" if mesh in a.meshes else "candidate"
        out.append(f"{mesh} was measured only in the {where}: not gated")
    return out
