"""The tree reads as the pipeline: each package imports only the layers below it, no module
imports itself back through others, and analysis and reporting read stored results only
(they never load platform or load code, so a run can be re-analysed on a laptop with no
cluster, no root and no Envoy)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import meshbench

ROOT = Path(meshbench.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("config",),
    ("host",),
    ("results",),
    ("service", "wire"),
    ("load",),
    ("planning",),
    ("platforms",),
    ("runner",),
    ("analysis",),
    ("report", "export"),
    ("commands",),
    ("cli",),
    ("testing",),
)
"""meshbench's packages (and its two top-level modules), lowest first. A package may import
its own modules and those of any lower layer; never a higher one, nor a sibling in its own
layer. ``meshbench/__init__.py`` (the version) is below everything."""

RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}

FORBIDDEN_FOR_READERS = (
    "meshbench.platforms",
    "meshbench.load",
    "meshbench.runner",
    "meshbench.service",
    "locust",
    "gevent",
    "kubernetes",
)


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The meshbench modules ``path`` imports, TYPE_CHECKING blocks and function bodies
    included; ``from meshbench.x import y`` names ``meshbench.x.y`` when that is a module."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("meshbench")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("meshbench"):
            assert node.level == 0, f"{path}: relative import"
            base = str(node.module)
            for a in node.names:
                sub = f"{base}.{a.name}"
                is_module = (ROOT.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT.parent / sub.replace(".", "/") / "__init__.py"
                ).exists()
                out.add(sub if is_module else base)
    return out


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in ROOT.rglob("*.py")}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def back_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes up the layers or sideways to a sibling package."""
    bad = []
    for src, targets in graph.items():
        a = _top(src)
        for dst in targets:
            b = _top(dst)
            if b in ("", a):  # the version, or its own package
                continue
            assert a in RANK and b in RANK, f"{src} -> {dst}: add the package to LAYERS"
            if RANK[b] >= RANK[a]:
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_package_is_in_a_layer() -> None:
    tops = {p.name if p.is_dir() else p.stem for p in ROOT.iterdir() if p.suffix in ("", ".py")}
    tops -= {"__init__", "__pycache__"}
    assert tops == set(RANK)


def test_no_import_goes_up_the_layers() -> None:
    assert back_arrows(_graph()) == []


def test_no_import_cycle_even_for_type_checking() -> None:
    assert cycles(_graph()) == []


def test_the_checks_can_fail() -> None:
    """A back-arrow and a cycle planted in a copy of the graph are found."""
    graph = _graph()
    graph["meshbench.config.scenario"] = graph["meshbench.config.scenario"] | {
        "meshbench.runner.run"
    }
    assert back_arrows(graph) == ["meshbench.config.scenario -> meshbench.runner.run"]
    graph["meshbench.results.store"] = graph["meshbench.results.store"] | {
        "meshbench.results.rundir"
    }
    graph["meshbench.results.rundir"] = graph["meshbench.results.rundir"] | {
        "meshbench.results.store"
    }
    assert ["meshbench.results.rundir", "meshbench.results.store"] in cycles(graph)


def test_analysis_and_report_import_no_platform_or_load_code() -> None:
    code = (
        "import sys, json; import meshbench.analysis, meshbench.report, meshbench.export; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.startswith(FORBIDDEN_FOR_READERS)]
    assert bad == []
    assert "meshbench.results.hlog" in loaded  # the check looks at the right modules


def test_the_runtime_never_imports_the_testing_helpers() -> None:
    """``meshbench.testing`` (synthetic runs, reference targets) sits above everything: the
    benchmark itself must not depend on its own fixtures."""
    bad = [
        f"{src}: {dst}"
        for src, targets in _graph().items()
        if not src.startswith("meshbench.testing")
        for dst in targets
        if dst.startswith("meshbench.testing")
    ]
    assert bad == []


def test_the_cli_imports_what_a_verb_needs_only_when_it_runs() -> None:
    """``meshbench --help`` and every verb's start load the verbs' parsers and nothing of
    the pipeline (pydantic, pandas, Locust and the rest come with the verb that uses them)."""
    code = "import sys, json; import meshbench.cli; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ours = {m for m in json.loads(out.stdout) if m.startswith("meshbench")}
    allowed = {"meshbench", "meshbench.cli", "meshbench.errors", "meshbench.host"}
    allowed |= {"meshbench.host.interrupts", "meshbench.commands"}
    assert {m for m in ours if not m.startswith("meshbench.commands.")} == allowed
    assert "meshbench.commands.load" in ours  # the check sees the verbs' modules
