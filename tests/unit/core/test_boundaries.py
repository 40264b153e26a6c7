"""Analysis and reporting read stored results only: they never import platform or load code,
so a run can be re-analysed on a laptop with no cluster, no root and no Envoy."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import meshbench

FORBIDDEN = (
    "meshbench.platforms",
    "meshbench.load",
    "meshbench.runner.run",
    "meshbench.service",
    "locust",
    "gevent",
    "kubernetes",
)


def test_analysis_and_report_import_no_platform_or_load_code() -> None:
    code = (
        "import sys, json; import meshbench.analysis, meshbench.report, meshbench.export; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.startswith(FORBIDDEN)]
    assert bad == []
    assert "meshbench.results.hlog" in loaded  # the check looks at the right modules


def test_the_runtime_never_imports_the_testing_helpers() -> None:
    """``meshbench.testing`` (synthetic runs, reference targets) sits above everything: the
    benchmark itself must not depend on its own fixtures."""
    root = Path(meshbench.__file__).parent
    bad = []
    for path in root.rglob("*.py"):
        if path.is_relative_to(root / "testing"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [
                f"{path.relative_to(root)}: {n}" for n in names if n.startswith("meshbench.testing")
            ]
    assert bad == []
