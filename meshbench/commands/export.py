"""``meshbench export RUN --format``: a stored run as Fortio JSON, SMP results or a tidy CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    ex = sub.add_parser(
        "export",
        help="write a run as Fortio result JSON, SMP PerformanceTestResults or a tidy CSV",
    )
    ex.add_argument("run", metavar="RUN", help="a run directory")
    ex.add_argument(
        "--format",
        required=True,
        choices=["fortio", "smp", "csv"],
        help="fortio: one result per mesh and cell for `fortio report`; smp: Service Mesh "
        "Performance results, mesh configs and environment; csv: one row per trial",
    )
    ex.add_argument("--out", metavar="DIR", help="default: RUN/export/<format>")
    ex.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.export import export_run

    for path in export_run(Path(args.run), args.format, Path(args.out) if args.out else None):
        print(f"wrote {path}")
    return 0
