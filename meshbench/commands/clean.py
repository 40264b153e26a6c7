"""``meshbench clean``: remove what killed runs left behind (namespaces, processes,
temporary files) and tidy their run directories."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import Subparsers
from meshbench.errors import one_line


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    c = sub.add_parser("clean", help="remove namespaces and processes a killed run left behind")
    c.add_argument(
        "--force", action="store_true", help="also remove resources of runs still in progress"
    )
    c.add_argument(
        "--results",
        default="results",
        help="results root whose killed runs are tidied (default: results)",
    )
    c.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.platforms.local.cleanup import clean
    from meshbench.results.sweep import sweep_results

    removed, skipped = clean(force=args.force)
    sweep = sweep_results(Path(args.results))
    print(
        f"removed {len(removed)} leftover resource(s)"
        + (": " + ", ".join(removed) if removed else "")
    )
    for line in sweep.done:
        print(f"tidied {line}")
    for line in [*skipped, *sweep.skipped]:
        print(f"skipped {line}")
    for e in sweep.failed[1:]:
        print(f"not tidied: {one_line(e)}")
    if sweep.failed:
        raise sweep.failed[0]
    return 0
