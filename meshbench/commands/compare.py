"""``meshbench compare A B``: two stored runs side by side, and B - A with intervals."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import PARTIAL_HELP, Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    cmp = sub.add_parser(
        "compare", help="the same tables and plots across two runs, and B - A with intervals"
    )
    cmp.add_argument("run_a", help="run directory A (the reference)")
    cmp.add_argument("run_b", help="run directory B")
    cmp.add_argument(
        "--force",
        action="store_true",
        help="compare even if platform, topology or rates differ",
    )
    cmp.add_argument(
        "--out", metavar="DIR", help="where to write compare.html (default: RUN_B/compare-<A>)"
    )
    cmp.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    cmp.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.report import compare_report

    compare_report(
        Path(args.run_a),
        Path(args.run_b),
        force=args.force,
        out_dir=Path(args.out) if args.out else None,
        partial=args.partial,
    )
    return 0
