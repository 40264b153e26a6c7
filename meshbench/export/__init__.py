"""Exports of a stored run in the formats other tools read: Fortio result JSON, the
Service Mesh Performance (SMP) result messages, and the tidy per-trial CSV.

Like analysis and report, exports read stored results only (never platform or load
code). Each format owns one module; :func:`export_run` is the verb.
"""

from __future__ import annotations

from pathlib import Path

from meshbench.analysis.stored_run import load_run
from meshbench.errors import MeshbenchError
from meshbench.export import fortio, smp, tidy_csv

FORMATS = {"fortio": fortio.write, "smp": smp.write, "csv": tidy_csv.write}


def export_run(run_dir: Path, fmt: str, out_dir: Path | None = None) -> list[Path]:
    """Write run ``run_dir`` in format ``fmt`` (``fortio``, ``smp`` or ``csv``) into
    ``out_dir`` (default: ``<run_dir>/export/<fmt>``); return the files written."""
    if fmt not in FORMATS:
        raise MeshbenchError(
            f"unknown export format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}"
        )
    run = load_run(run_dir)
    return FORMATS[fmt](run, Path(out_dir or Path(run_dir) / "export" / fmt))


__all__ = ["FORMATS", "export_run"]
