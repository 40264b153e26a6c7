"""``meshbench doctor``: are the tools of the kind platform here, at which versions?

Docker (the engine, not just the CLI), kind, kubectl and Helm are required; the mesh CLIs
(istioctl, linkerd, kumactl) are optional because meshbench installs every mesh with Helm
and only uses them for extra checks. Each missing tool comes with one fix.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from meshbench.platforms.kind import versions
from meshbench.platforms.kind.steps import INSTALL_HINTS

_VERSION = re.compile(r"v?\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?|edge-\d+\.\d+\.\d+")


@dataclass(frozen=True)
class Check:
    """One tool: found or not, its version, and what to do when it is missing."""

    name: str
    ok: bool
    required: bool
    version: str = ""
    detail: str = ""
    fix: str | None = None


@dataclass(frozen=True)
class _Probe:
    name: str
    tool: str
    argv: tuple[str, ...]
    required: bool
    pinned: str = ""
    parse: Callable[[str], str] = lambda out: _first_version(out)


def _first_version(text: str) -> str:
    m = _VERSION.search(text)
    return m.group(0) if m else text.strip().splitlines()[0] if text.strip() else ""


def _kubectl_version(text: str) -> str:
    try:
        return str(json.loads(text)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError, TypeError):
        return _first_version(text)


PROBES: tuple[_Probe, ...] = (
    _Probe("docker engine", "docker", ("docker", "info", "--format", "{{.ServerVersion}}"), True),
    _Probe("kind", "kind", ("kind", "version"), True, versions.KIND_VERSION),
    _Probe(
        "kubectl",
        "kubectl",
        ("kubectl", "version", "--client", "--output=json"),
        True,
        parse=_kubectl_version,
    ),
    _Probe("helm", "helm", ("helm", "version", "--short"), True, f">= {versions.HELM_MIN_VERSION}"),
    _Probe(
        "istioctl",
        "istioctl",
        ("istioctl", "version", "--remote=false"),
        False,
        versions.ISTIO_VERSION,
    ),
    _Probe(
        "linkerd",
        "linkerd",
        ("linkerd", "version", "--client", "--short"),
        False,
        versions.LINKERD_VERSION,
    ),
    _Probe("kumactl", "kumactl", ("kumactl", "version"), False, versions.KUMA_VERSION),
)

_FIXES = {
    **INSTALL_HINTS,
    "docker engine": "start the Docker engine (sudo systemctl start docker), or install Docker "
    "Engine: https://docs.docker.com/engine/install/",
}


def doctor(
    probes: Sequence[_Probe] = PROBES,
    which: Callable[[str], str | None] = shutil.which,
    timeout_s: float = 15.0,
) -> list[Check]:
    """Check every tool of the kind platform; never raises for a missing one."""
    checks = []
    for p in probes:
        path = which(p.tool)
        fix = _FIXES.get(p.name, _FIXES.get(p.tool, f"install {p.tool}"))
        if path is None:
            detail = f"{p.tool}: not on PATH"
            checks.append(Check(p.name, False, p.required, detail=detail, fix=fix))
            continue
        try:
            proc = subprocess.run(
                [path, *p.argv[1:]],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            checks.append(Check(p.name, False, p.required, detail=str(e), fix=fix))
            continue
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            detail = lines[-1] if lines else f"exit {proc.returncode}"
            checks.append(Check(p.name, False, p.required, detail=detail, fix=fix))
            continue
        found = p.parse(proc.stdout)
        detail = f"pinned {p.pinned}" if p.pinned else ""
        checks.append(Check(p.name, True, p.required, version=found, detail=detail))
    return checks


def format_doctor(checks: Sequence[Check]) -> str:
    """A table for a terminal, then one line saying whether the kind platform can run."""
    width = max((len(c.name) for c in checks), default=8)
    lines = []
    for c in checks:
        status = "ok" if c.ok else ("MISSING" if c.required else "missing")
        kind = "required" if c.required else "optional"
        text = f"{status:8s} {c.name:<{width}}  {kind:8s}  {c.version or '-'}"
        if c.detail:
            text += f"  ({c.detail})"
        lines.append(text)
        if not c.ok and c.fix:
            lines.append(f"{'':8s} {'':<{width}}  fix: {c.fix}")
    missing = [c.name for c in checks if c.required and not c.ok]
    if missing:
        lines.append(f"kind platform: NOT READY: missing {', '.join(missing)}")
    else:
        lines.append("kind platform: ready")
    lines.append("local platform: needs none of these (see `make run`)")
    return "\n".join(lines) + "\n"


def ready(checks: Sequence[Check]) -> bool:
    """True when every required tool was found."""
    return all(c.ok for c in checks if c.required)
