"""``meshbench report RUN``: tables, plots and verdicts of one stored run."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import PARTIAL_HELP, Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    rep = sub.add_parser("report", help="per-mesh latency table and overhead against none")
    rep.add_argument("run_dir", help="a directory printed by `meshbench run`")
    rep.add_argument(
        "--out", metavar="DIR", help="where to write report.html (default: the run directory)"
    )
    rep.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    rep.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.report import report_run

    report_run(
        Path(args.run_dir), out_dir=Path(args.out) if args.out else None, partial=args.partial
    )
    return 0
