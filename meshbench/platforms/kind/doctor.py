"""``meshbench doctor``: are the tools of the kind platform here, at which versions?

Docker (the engine, not just the CLI), kind, kubectl and Helm are required; the mesh CLIs
(each declared with its mesh in :mod:`meshbench.config.meshes`) are optional because
meshbench installs every mesh with Helm and only uses them for extra checks. Each missing
tool comes with one fix, and so does a version meshbench does not support: a kubectl
outside the ±1 minor skew Kubernetes allows against the pinned server, or a Helm other
than 3 (Helm 4's ``--wait`` waits differently). It also checks the host's inotify limits,
which kind's known-issues page names for multi-node clusters: too low, kube-proxy,
istio-cni or proxies crash-loop and show up as readiness timeouts.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from meshbench.config.meshes import meshes_on
from meshbench.errors import MeshbenchError
from meshbench.platforms import commands
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
    supported: Callable[[str], str | None] = lambda version: None
    """Why the version found is not supported (None: it is)."""
    fix_version: str = ""
    """What to do about an unsupported version."""


def _first_version(text: str) -> str:
    m = _VERSION.search(text)
    return m.group(0) if m else text.strip().splitlines()[0] if text.strip() else ""


def _kubectl_version(text: str) -> str:
    try:
        return str(json.loads(text)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError, TypeError):
        return _first_version(text)


def _numbers(version: str) -> tuple[int, ...] | None:
    m = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", version)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def kubectl_supported(version: str) -> str | None:
    """Kubernetes supports a kubectl within one minor of the server: the pinned one."""
    v = _numbers(version)
    server = versions.minor_of(versions.KUBERNETES_VERSION)
    if v is None:
        return f"version {version!r} not recognised"
    if v[0] != server[0] or abs(v[1] - server[1]) > 1:
        return (
            f"outside the supported skew: kubectl must be within one minor of the pinned "
            f"server {versions.KUBERNETES_VERSION} ({server[0]}.{server[1] - 1}-"
            f"{server[0]}.{server[1] + 1})"
        )
    return None


def helm_supported(version: str) -> str | None:
    """Helm 3 from :data:`~meshbench.platforms.kind.versions.HELM_MIN_VERSION` on."""
    v = _numbers(version)
    least = _numbers(versions.HELM_MIN_VERSION)
    if v is None or least is None:
        return f"version {version!r} not recognised"
    if v[0] != 3:
        return f"Helm {v[0]} is not supported: meshbench installs with Helm 3 (its --wait)"
    if v < least:
        return f"older than {versions.HELM_MIN_VERSION}"
    return None


def _mesh_cli_probes() -> list[_Probe]:
    """The CLIs the kind meshes declare, each once (istioctl serves both Istio arms)."""
    probes: dict[str, _Probe] = {}
    for d in meshes_on("kind"):
        p = d.probe
        if p is not None and p.tool not in probes:
            pin = versions.pinned()[d.version_key] if d.version_key else ""
            probes[p.tool] = _Probe(p.tool, p.tool, p.argv, p.required, pin)
    return list(probes.values())


_KUBECTL_MINOR = ".".join(str(n) for n in versions.minor_of(versions.KUBERNETES_VERSION))

PROBES: tuple[_Probe, ...] = (
    _Probe("docker engine", "docker", ("docker", "info", "--format", "{{.ServerVersion}}"), True),
    _Probe("kind", "kind", ("kind", "version"), True, versions.KIND_VERSION),
    _Probe(
        "kubectl",
        "kubectl",
        ("kubectl", "version", "--client", "--output=json"),
        True,
        f"server {versions.KUBERNETES_VERSION}",
        parse=_kubectl_version,
        supported=kubectl_supported,
        fix_version=f"install kubectl v{_KUBECTL_MINOR} "
        "(https://kubernetes.io/docs/tasks/tools/), or one minor either side",
    ),
    _Probe(
        "helm",
        "helm",
        ("helm", "version", "--short"),
        True,
        f"3.x >= {versions.HELM_MIN_VERSION}",
        supported=helm_supported,
        fix_version="install Helm 3 (https://helm.sh/docs/intro/install/; "
        "get-helm-3 installs the newest 3.x)",
    ),
    *_mesh_cli_probes(),
)

_FIXES = {
    **INSTALL_HINTS,
    "docker engine": "start the Docker engine (sudo systemctl start docker), or install Docker "
    "Engine: https://docs.docker.com/engine/install/",
}


INOTIFY_DIR = Path("/proc/sys/fs/inotify")
INOTIFY_MIN = {"max_user_watches": 524288, "max_user_instances": 512}
"""The values kind's known-issues page ("Pod errors due to too many open files") gives."""


def inotify_check(sysctl_dir: Path = INOTIFY_DIR) -> Check:
    """This host's inotify limits against :data:`INOTIFY_MIN` (kind nodes share the host's
    kernel, so its limits are theirs). Where they cannot be read (macOS: the nodes run in
    Docker Desktop's VM) the check passes with a note."""
    name = "inotify limits"
    try:
        found = {k: int((sysctl_dir / k).read_text().split()[0]) for k in INOTIFY_MIN}
    except (OSError, ValueError, IndexError):
        return Check(name, True, True, detail=f"not readable at {sysctl_dir}: not checked")
    version = ", ".join(f"{k} {v}" for k, v in found.items())
    low = {k: n for k, n in INOTIFY_MIN.items() if found[k] < n}
    if not low:
        return Check(name, True, True, version=version)
    settings = " ".join(f"fs.inotify.{k}={n}" for k, n in INOTIFY_MIN.items())
    return Check(
        name,
        False,
        True,
        version=version,
        detail="below kind's advice for multi-node clusters: "
        + ", ".join(f"{k} < {n}" for k, n in low.items())
        + " (kube-proxy, istio-cni or proxies crash-loop: readiness timeouts)",
        fix=f"sudo sysctl {settings}; to keep it, put those lines in /etc/sysctl.d/99-kind.conf",
    )


def doctor(
    probes: Sequence[_Probe] = PROBES,
    which: Callable[[str], str | None] = shutil.which,
    timeout_s: float = 15.0,
    sysctl_dir: Path = INOTIFY_DIR,
) -> list[Check]:
    """Check every tool of the kind platform and the host's inotify limits; never raises
    for a missing tool."""
    checks = []
    for p in probes:
        path = which(p.tool)
        fix = _FIXES.get(p.name, _FIXES.get(p.tool, f"install {p.tool}"))
        if path is None:
            detail = f"{p.tool}: not on PATH"
            checks.append(Check(p.name, False, p.required, detail=detail, fix=fix))
            continue
        try:
            proc = commands.run([path, *p.argv[1:]], timeout_s=timeout_s, check=False)
        except (OSError, MeshbenchError) as e:  # not executable, or no answer in time
            checks.append(Check(p.name, False, p.required, detail=str(e), fix=fix))
            continue
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            detail = lines[-1] if lines else f"exit {proc.returncode}"
            checks.append(Check(p.name, False, p.required, detail=detail, fix=fix))
            continue
        found = p.parse(proc.stdout)
        problem = p.supported(found)
        if problem is not None:
            checks.append(Check(p.name, False, p.required, found, problem, p.fix_version or fix))
            continue
        detail = f"pinned {p.pinned}" if p.pinned else ""
        checks.append(Check(p.name, True, p.required, version=found, detail=detail))
    checks.append(inotify_check(sysctl_dir))
    return checks


def format_doctor(checks: Sequence[Check]) -> str:
    """A table for a terminal, then one line saying whether the kind platform can run."""
    width = max((len(c.name) for c in checks), default=8)
    lines = []
    for c in checks:
        status = "ok" if c.ok else ("MISSING" if c.required and not c.version else "BAD")
        if not c.ok and not c.required:
            status = "missing"
        kind = "required" if c.required else "optional"
        text = f"{status:8s} {c.name:<{width}}  {kind:8s}  {c.version or '-'}"
        if c.detail:
            text += f"  ({c.detail})"
        lines.append(text)
        if not c.ok and c.fix:
            lines.append(f"{'':8s} {'':<{width}}  fix: {c.fix}")
    missing = [c.name for c in checks if c.required and not c.ok and not c.version]
    unsupported = [c.name for c in checks if c.required and not c.ok and c.version]
    if missing or unsupported:
        why = [f"missing {', '.join(missing)}"] if missing else []
        why += [f"to fix: {', '.join(unsupported)}"] if unsupported else []
        lines.append(f"kind platform: NOT READY: {'; '.join(why)}")
    else:
        lines.append("kind platform: ready")
    lines.append("local platform: needs none of these (see `make run`)")
    return "\n".join(lines) + "\n"


def ready(checks: Sequence[Check]) -> bool:
    """True when every required tool was found."""
    return all(c.ok for c in checks if c.required)
