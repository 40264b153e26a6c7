"""What an integration test accepts from a shared CI host: a trial stored invalid for a
host stall, and nothing else.

A 2-vCPU CI machine can stall the pods' core for tens to hundreds of milliseconds (seen
in fresh-clone runs: 0.3 s at one trial's measured-phase start, send lag p99 262 ms; and
a 70 ms stall in the first gRPC trial over mTLS, send lag p99 31 ms). The instrument then
stores the trial invalid with a saturation reason, which is it doing its job. Any other
reason (errors, accounting, a starved generator), or more than ``max_stalled`` such
trials, is a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

HOST_STALL_REASON = "every connection was busy"


def host_stalled(row: Mapping[str, str]) -> bool:
    """True when the trial's only invalidity is the saturation a host stall causes."""
    reason = row.get("invalid_reason", "")
    return ";" not in reason and HOST_STALL_REASON in reason


def assert_valid_or_host_stalled(rows: Iterable[Mapping[str, str]], max_stalled: int = 1) -> None:
    """Every trial error-free and valid, except at most ``max_stalled`` host stalls."""
    rows = list(rows)
    for row in rows:
        assert row["errors"] == "0", (row["trial_id"], row["errors"])
        assert row["valid"] == "true" or host_stalled(row), (row["trial_id"], row["invalid_reason"])
    stalled = [row["trial_id"] for row in rows if row["valid"] != "true"]
    assert len(stalled) <= max_stalled, stalled
