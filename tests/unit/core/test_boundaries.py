"""Analysis and reporting read stored results only: they never import platform or load code,
so a run can be re-analysed on a laptop with no cluster, no root and no Envoy."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "meshbench.platforms",
    "meshbench.load",
    "meshbench.run",
    "meshbench.service",
    "locust",
    "gevent",
    "kubernetes",
)


def test_analysis_and_report_import_no_platform_or_load_code() -> None:
    code = (
        "import sys, json; import meshbench.analysis, meshbench.report; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.startswith(FORBIDDEN)]
    assert bad == []
    assert "meshbench.results.hlog" in loaded  # the check looks at the right modules
