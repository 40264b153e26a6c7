"""notebooks/analysis.ipynb: stored without outputs, and runs top to bottom against the
sample run using only the public analysis API."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = REPO / "notebooks" / "analysis.ipynb"
SAMPLE_RUN = REPO / "tests" / "data" / "sample-run"


def test_notebook_is_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_notebook_uses_only_the_public_api() -> None:
    source = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    for forbidden in (
        "meshbench.platforms",
        "meshbench.load",
        "meshbench.runner.run ",
        "meshbench.results",
    ):
        assert forbidden not in source


def test_notebook_executes_against_the_sample_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MESHBENCH_RUN", str(SAMPLE_RUN))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    # the kernel spec runs `python`: make it this interpreter (the venv's)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{Path('/usr/bin')}")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "sample-run complete local" in text
    assert "slower" in text and "mesh - none" in text and "drift_sd_ms" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # the four plots rendered inline
