"""``meshbench run SCENARIO``: run a scenario (or print its plan) and store its results."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    r = sub.add_parser("run", help="run a scenario and store its results")
    r.add_argument("scenario", help="scenario YAML, e.g. scenarios/default.yaml")
    r.add_argument("--results", default="results", help="results root (default: results)")
    r.add_argument(
        "--platform",
        choices=["local", "kind"],
        default=None,
        help="override the scenario's platform",
    )
    r.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run in RUN_DIR")
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="print the ordered plan (every platform step) without executing anything",
    )
    r.add_argument(
        "--yes",
        action="store_true",
        help="run a plan beyond the limits (24 h or 100 M requests) anyway",
    )
    r.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.runner.run import run_scenario

    run_dir = run_scenario(
        Path(args.scenario),
        results_root=Path(args.results),
        platform_name=args.platform,
        resume=Path(args.resume) if args.resume else None,
        dry_run=args.dry_run,
        confirmed=args.yes,
    )
    if run_dir is not None:
        print(run_dir)
    return 0
