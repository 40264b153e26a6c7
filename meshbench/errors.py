"""The one error family a user can cause or fix.

The CLI prints a :class:`MeshbenchError` on one line (message, then the fix) and
exits non-zero. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class MeshbenchError(Exception):
    """Something the user can fix: a bad scenario, a missing tool, a cluster not ready."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class ScenarioError(MeshbenchError):
    """The scenario file is missing, unreadable or invalid."""


class ToolMissingError(MeshbenchError):
    """A required executable (ip, iptables, envoy, kind, kubectl, ...) is not available."""


class PlatformError(MeshbenchError):
    """The platform could not be prepared, verified or torn down."""


class DeploymentBroken(PlatformError):
    """A deployment found broken before a trial measured anything: redeploy and retry."""


class ReadFailed(PlatformError):
    """A read of the running deployment (an API call, a proxy's counters, a node's stats)
    failed: the trial in progress pays for it (invalid, with the cause), not the run."""


class TimeoutExpired(PlatformError):
    """A readiness condition did not become true before its deadline."""


class ResultsError(MeshbenchError):
    """A results directory is missing, unreadable or of an unknown schema version."""
