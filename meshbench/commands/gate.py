"""``meshbench gate BASELINE CANDIDATE``: a regression verdict a CI job can act on (exit
0, 1, 3; 2 on usage or input errors)."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    g = sub.add_parser(
        "gate",
        help="did the candidate run get slower than the baseline? exit 0 no meaningful "
        "regression, 1 regression, 3 inconclusive, 2 usage or input error",
        description="Gate CANDIDATE against BASELINE (a run directory) or against a saved "
        "baseline (--against NAME): per mesh, cell and primary percentile, the change of "
        "the mesh's overhead against none, with its interval and verdict. Exit 0: no "
        "meaningful regression; 1: regression; 3: inconclusive (the summary gives the MDE "
        "and the repeats that would decide); 2: usage or input error.",
    )
    g.add_argument(
        "runs", nargs="+", metavar="RUN", help="BASELINE CANDIDATE, or CANDIDATE with --against"
    )
    g.add_argument(
        "--against", metavar="NAME", help="a baseline saved by `meshbench baseline save`"
    )
    g.add_argument(
        "--baselines",
        default="baselines",
        metavar="DIR",
        help="where saved baselines are kept (default: baselines)",
    )
    g.add_argument(
        "--threshold-ms",
        type=float,
        metavar="MS",
        help="smallest regression that matters, ms (default: the candidate scenario's "
        "analysis.min_effect_ms and min_effect_pct)",
    )
    g.add_argument(
        "--threshold-pct",
        type=float,
        metavar="PCT",
        help="smallest regression that matters, %% of none at that percentile (with "
        "--threshold-ms the larger applies)",
    )
    g.add_argument(
        "--percentiles",
        type=percentiles,
        metavar="LIST",
        help="primary percentiles to gate, e.g. 50,99 (default: the scenario's "
        "analysis.primary, else p50 and the SLO percentile or p99)",
    )
    g.add_argument(
        "--force",
        action="store_true",
        help="gate runs of different scenarios, platforms or host fingerprints anyway",
    )
    g.add_argument(
        "--out", metavar="DIR", help="where to write verdict.json (default: CANDIDATE/gate-<name>)"
    )
    g.add_argument("--junit", metavar="FILE", help="also write JUnit XML, one case per verdict")
    g.set_defaults(func=execute, parser=g)


def execute(args: argparse.Namespace) -> int:
    from meshbench.report.write import gate_report

    runs = [Path(r) for r in args.runs]
    if args.against is not None and len(runs) != 1:
        args.parser.error("with --against NAME give the candidate run only")
    if args.against is None and len(runs) != 2:
        args.parser.error("give BASELINE and CANDIDATE run directories, or --against NAME")
    g = gate_report(
        runs[-1],
        runs[0] if args.against is None else None,
        against=args.against,
        baselines_root=Path(args.baselines),
        threshold_ms=args.threshold_ms,
        threshold_pct=args.threshold_pct,
        percentiles=args.percentiles,
        force=args.force,
        out_dir=Path(args.out) if args.out else None,
        junit=Path(args.junit) if args.junit else None,
    )
    return g.exit_code


def percentiles(text: str) -> list[float]:
    """``"50,99"`` -> ``[50.0, 99.0]`` (argparse type: a bad value is a usage error)."""
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of percentiles, e.g. 50,99"
        ) from None
