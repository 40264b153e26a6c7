"""``meshbench size RUN --detect``: the repeats, deployment groups and seconds per trial
that would detect an effect, from a run's own variance."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    sz = sub.add_parser(
        "size",
        help="how many repeats, deployments and seconds per trial would detect an effect, "
        "from a run's own variance",
    )
    sz.add_argument("run", metavar="RUN", help="a run directory (its variance is used)")
    sz.add_argument("--detect", required=True, metavar="EFFECT", help="e.g. 0.5ms@p99 or 0.2ms@p50")
    sz.add_argument("--power", type=float, default=0.8, help="chance of detecting it (default 0.8)")
    sz.add_argument(
        "--gate",
        action="store_true",
        help="size each of two runs for `meshbench gate` to detect a change of EFFECT "
        "between them (both runs' noise adds)",
    )
    sz.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.analysis.sizing import parse_detect, size_run
    from meshbench.analysis.stored_run import load_run
    from meshbench.report.size_summary import size_lines

    effect_ms, percentile = parse_detect(args.detect)
    run = load_run(Path(args.run))
    sizing = size_run(run, effect_ms, percentile, power=args.power, gate=args.gate)
    print("\n".join(size_lines(sizing, run, args.power)))
    return 0
