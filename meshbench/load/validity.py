"""When a load's figures must not be trusted: the rules shared by ``meshbench run``
(which stores the trial ``valid=false``) and ``meshbench load`` (which says so).

Each rule returns its reason in words; an empty list means the load did what was asked.
Thresholds come from the scenario's ``validity:`` section (``ValiditySpec``), so a
standalone load uses the same defaults a run does. Every threshold (these, the host flags
of :meth:`meshbench.host.activity.HostLoad.note`) follows one convention: a value at its limit
passes, only a value beyond it fires.
"""

from __future__ import annotations

from meshbench.config.scenario import ValiditySpec
from meshbench.load.spec import LoadSummary


def format_kinds(kinds: dict[str, int]) -> str:
    """Error counts by kind, most frequent first: ``"HTTP 500: 3, ConnectionRefusedError: 1"``."""
    return ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))


def load_reasons(
    v: ValiditySpec, target_rps: float, s: LoadSummary, lag_p99_ms: float
) -> list[str]:
    """Reasons the load in ``s`` (aimed at ``target_rps``, whose send lag p99 was
    ``lag_p99_ms``) is not a measurement of the target at that rate."""
    reasons = []
    if s.requests == 0:
        reasons.append("no request completed in the measured phase")
    elif s.errors / s.requests > v.max_error_ratio:
        reasons.append(
            f"errors {s.errors}/{s.requests} in the measured phase above max_error_ratio "
            f"{v.max_error_ratio:g} ({format_kinds(s.error_kinds)})"
        )
    if lag_p99_ms > v.max_send_lag_p99_ms:
        if s.dispatch_lag_p99_ms > v.max_send_lag_p99_ms / 2:
            why = (
                f"the generator's own schedule fell behind (dispatch lag p99 "
                f"{s.dispatch_lag_p99_ms:.2f} ms): generator CPU-bound or descheduled"
            )
        else:
            why = (
                "every connection was busy: the system under test is saturated at this "
                "rate, or load.connections is too small (need >= rate x worst latency)"
            )
        reasons.append(f"send lag p99 {lag_p99_ms:.2f} ms > {v.max_send_lag_p99_ms:g} ms: {why}")
    if s.generator_cpu > v.max_generator_cpu:
        reasons.append(f"generator CPU {s.generator_cpu:.2f} cores > {v.max_generator_cpu:g}")
    if s.achieved_rps < v.min_achieved_ratio * target_rps:
        reasons.append(
            f"achieved {s.achieved_rps:.4g} rps < {v.min_achieved_ratio:g} x "
            f"target {target_rps:g} rps"
        )
    if s.stopped_by == "killed":
        reasons.append(
            f"generator starved: did not finish within {s.killed_after_s:g} s of its time "
            "bound; killed"
        )
    elif s.stopped_by != "schedule":
        reasons.append(f"load stopped {s.how_stopped()}")
    return reasons
