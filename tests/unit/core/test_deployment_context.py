"""A deployment is given a context (what it needs of its run), never its platform: no
deployment module reaches its platform module, so the arrow runs one way."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import meshbench
from meshbench.config.scenario import parse_scenario
from meshbench.config.topology import chain
from meshbench.host.pinning import Pinning
from meshbench.platforms.local.deployment import LocalContext, LocalDeployment

ROOT = Path(meshbench.__file__).parent


def _module_path(name: str) -> Path | None:
    """The file of module ``name`` under meshbench, None for another package's."""
    parts = name.split(".")
    if parts[0] != "meshbench":
        return None
    base = ROOT.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(name: str) -> set[str]:
    """Every meshbench module ``name`` imports, under TYPE_CHECKING too (package
    ``__init__`` modules left out: importing a submodule is not importing its siblings)."""
    path = _module_path(name)
    assert path is not None, name
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {
            c for c in candidates if (p := _module_path(c)) is not None and p.name != "__init__.py"
        }
    return found


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for m in _imports(todo.pop()) - seen:
            seen.add(m)
            todo.append(m)
    return seen


@pytest.mark.parametrize("package", ["local", "kind"])
def test_no_deployment_module_reaches_its_platform_module(package: str) -> None:
    deployment = f"meshbench.platforms.{package}.deployment"
    platform = f"meshbench.platforms.{package}.platform"
    assert deployment in _imports(platform)  # the one arrow, read from the right files
    assert platform not in _reachable(deployment)


def test_the_import_reader_sees_imports_under_type_checking() -> None:
    """The check above would pass vacuously if guarded imports were missed."""
    assert "meshbench.platforms.kind.platform" in _imports("meshbench.platforms.kind")


def test_a_local_deployment_is_built_from_its_context_alone(tmp_path: Path) -> None:
    sc = parse_scenario(
        {"name": "ctx", "meshes": ["none", "envoy"], "load": {"rates_rps": [10], "duration_s": 1}}
    )
    context = LocalContext(
        scenario=sc,
        run_key="c0ffee",
        hub="mb-c0ffee-hub",
        state_dir=tmp_path / "state",
        pinning=Pinning("0", "1", "2", "test"),
        process_env=dict(os.environ),
        logs_dest=tmp_path / "run" / "logs",
    )
    dep = LocalDeployment(context, "envoy", chain(2), index=1, copy=2, name="envoy-g2")
    assert not hasattr(dep, "platform")
    assert dep.scenario is sc
    assert dep.netns["frontend"] == "mb-c0ffee-envoy-2-frontend"
    assert dep.state_dir == tmp_path / "state" / "envoy-g2"
    assert dep.procs.env is context.process_env
    log = dep.state_dir / "frontend" / "app.log"
    assert context.log_hint(log) == str(tmp_path / "run" / "logs" / "envoy-g2/frontend/app.log")
    assert context.log_hint(Path("/elsewhere.log")) == "/elsewhere.log"
