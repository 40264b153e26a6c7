"""One external command of the kind platform, and the runner that executes it.

Every mutating action (kind, docker, helm, kubectl, mesh CLIs) is a :class:`Step`, built
by the same functions for ``--dry-run`` and for a real run, so the printed plan is exactly
what would run. Reads (pod lists, readiness, stats) go through the Kubernetes API and
appear in the plan as ``api`` steps, which the runner never executes.

Steps run through :func:`meshbench.platforms.commands.run`, the one runner of external
commands: a missing executable becomes :class:`ToolMissingError` (with the kind tools'
install hints), a step past its ``timeout_s`` is killed and becomes
:class:`TimeoutExpired`, and so does a non-zero exit whose output says the tool itself
timed out waiting; any other non-zero exit is :class:`PlatformError` with the tool's last
line of output.
"""

from __future__ import annotations

import logging
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from meshbench.config.meshes import meshes_on
from meshbench.errors import PlatformError, TimeoutExpired, ToolMissingError
from meshbench.platforms import commands
from meshbench.platforms.kind import versions

log = logging.getLogger(__name__)

StepKind = Literal["run", "api"]

INSTALL_HINTS: dict[str, str] = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "go install sigs.k8s.io/kind@v0.33.0, or download kind v0.33.0 from its releases",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/)",
    **{
        d.probe.tool: d.probe.install_hint.format(
            version=versions.pinned()[d.version_key] if d.version_key else ""
        )
        for d in meshes_on("kind")
        if d.probe is not None
    },
}
"""How to install each tool the kind platform runs (the mesh CLIs' hints are declared with
their meshes)."""

TIMEOUT_FIX = (
    "check the cluster with `kubectl get pods -A`; raise the kind.*timeout_s settings if the "
    "machine is slow"
)
"""The fix of a step that did not finish within its ``timeout_s``."""

_TIMEOUT_MARKERS = (
    "timed out waiting for the condition",
    "context deadline exceeded",
    "timed out waiting",
)


@dataclass(frozen=True)
class Step:
    """One command in the order it runs; ``api`` steps are reads shown for completeness."""

    phase: str  # "cluster", "mesh istio", "workload istio", "load", "teardown istio", ...
    what: str  # one line for a human
    argv: tuple[str, ...] = ()
    stdin_objects: tuple[dict[str, object], ...] = ()  # manifests piped to `kubectl apply -f -`
    timeout_s: float = 120.0
    optional: bool = False  # skipped (logged) when its tool is not installed
    kind: StepKind = "run"
    ignore_errors: bool = False  # cleanup steps: log a failure, never raise
    key: str = ""  # names a step the platform may skip on a condition (e.g. CRDs present)

    @property
    def tool(self) -> str:
        return self.argv[0] if self.argv else ""

    def command_line(self) -> str:
        """The shell-quoted command, with the piped objects summarised."""
        if self.kind == "api":
            return f"(Kubernetes API) {self.what}"
        line = shlex.join(self.argv)
        if self.stdin_objects:
            names = ", ".join(_object_name(o) for o in self.stdin_objects)
            line += f"  <<< {len(self.stdin_objects)} object(s): {names}"
        return line

    def stdin_text(self) -> str:
        """The piped objects as one multi-document YAML stream (empty when there are none)."""
        if not self.stdin_objects:
            return ""
        from meshbench.platforms.kind.manifests import to_yaml

        return to_yaml(list(self.stdin_objects))


@dataclass
class StepRecord:
    """What actually ran (kept by the runner for run.json and for tests)."""

    step: Step
    returncode: int | None
    skipped: bool = False


def _object_name(obj: dict[str, object]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name", "?") if isinstance(meta, dict) else "?"
    return f"{obj.get('kind', '?')}/{name}"


def format_plan(steps: Sequence[Step]) -> str:
    """The plan as numbered lines grouped by phase, ready to print."""
    out: list[str] = []
    phase = None
    for n, step in enumerate(steps, 1):
        if step.phase != phase:
            phase = step.phase
            out.append(f"\n== {phase} ==")
        flags = []
        if step.optional:
            flags.append("optional: skipped when the tool is missing")
        if step.ignore_errors:
            flags.append("cleanup: failure is reported, not fatal")
        suffix = f"   [{'; '.join(flags)}]" if flags else ""
        if step.kind == "api":
            out.append(f"{n:3d}. [meshbench] {step.what}")
            continue
        out.append(f"{n:3d}. {step.what}{suffix}")
        out.append(f"     $ {step.command_line()}")
    return "\n".join(out).lstrip("\n") + "\n"


@dataclass
class Runner:
    """Runs :class:`Step` objects with deadlines; keeps a record of everything it ran."""

    which: Callable[[str], str | None] = shutil.which  # is a step's tool installed?
    records: list[StepRecord] = field(default_factory=list)

    def run(self, step: Step) -> str:
        """Run ``step`` and return its stdout; errors are translated to meshbench errors."""
        if step.kind == "api":
            raise ValueError("api steps are documentation; they are not executed")
        if self.which(step.tool) is None:
            if step.optional:
                log.info("skipping optional step (%s not installed): %s", step.tool, step.what)
                self.records.append(StepRecord(step, None, skipped=True))
                return ""
            raise ToolMissingError(
                f"{step.what}: required command {step.tool!r} is not on PATH",
                fix=INSTALL_HINTS.get(step.tool, f"install {step.tool}"),
            )
        log.info("$ %s", step.command_line())
        try:
            proc = commands.run(
                step.argv,
                timeout_s=step.timeout_s,
                input_text=step.stdin_text(),
                check=False,
                what=step.what,
                timeout_fix=TIMEOUT_FIX,
            )
        except TimeoutExpired as e:
            self.records.append(StepRecord(step, None))
            return self._fail(step, e)
        self.records.append(StepRecord(step, proc.returncode))
        if proc.returncode != 0:
            text = commands.failure(step.argv, proc, step.what)
            if any(m in (proc.stderr + proc.stdout).lower() for m in _TIMEOUT_MARKERS):
                err: PlatformError = TimeoutExpired(
                    text, fix="see `kubectl get pods -A` and the events of the namespace"
                )
            else:
                err = PlatformError(text)
            return self._fail(step, err)
        return proc.stdout

    def _fail(self, step: Step, err: PlatformError) -> str:
        if step.ignore_errors:
            log.warning("cleanup step failed (continuing): %s", err)
            return ""
        raise err
