"""``meshbench load URL``: the open-loop generator on its own against a URL on loopback or
meshbench's own pods (:mod:`meshbench.load.standalone`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
    ld = sub.add_parser(
        "load", help="the open-loop generator alone against a URL on loopback or our pods"
    )
    ld.add_argument("url", help="http://127.0.0.1:PORT/... or an address in 198.18.0.0/15")
    ld.add_argument("--rate", type=float, required=True, help="requests per second")
    ld.add_argument("--duration", type=float, default=10.0, help="measured seconds (10)")
    ld.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds, excluded (2)")
    ld.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    ld.add_argument("--workers", type=int, default=1, help="generator processes (1)")
    ld.add_argument(
        "--cpus",
        default=None,
        help="pin workers to these CPUs, e.g. 0 or 0-1 (default: chosen by measurement, "
        "as `meshbench run` chooses the generator's)",
    )
    ld.add_argument("--schedule", choices=["constant", "poisson"], default="constant")
    ld.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, s (5)")
    ld.add_argument("--out", help="output directory (default: results/<time>-load)")
    ld.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when a validity rule fires (send lag, errors, rate, CPU)",
    )
    ld.add_argument(
        "--yes",
        action="store_true",
        help="run a load beyond the limits (24 h or 100 M requests) anyway",
    )
    ld.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    from meshbench.load import standalone
    from meshbench.load.spec import LoadRequest
    from meshbench.planning.plan import confirm_limits, load_estimate
    from meshbench.results.store import new_run_dir

    req = LoadRequest(
        target_url=args.url,
        rate_rps=args.rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        connections=args.connections,
        schedule=args.schedule,
        timeout_s=args.timeout,
        label="meshbench load",
    )
    standalone.check_target(req.target_url)  # before any folder is created
    standalone.check_request(req, args.workers, args.cpus)
    est = load_estimate(req.rate_rps, req.warmup_s, req.duration_s, args.workers)
    confirm_limits(est, args.yes, "this load")
    cpus = args.cpus
    if cpus is None:  # as `meshbench run` pins the generator
        cpus, lines = standalone.measured_cpus(args.workers)
        print("\n".join(lines), file=sys.stderr)
    out = Path(args.out) if args.out else new_run_dir(Path("results"), "load")
    report = standalone.load_url(req, out, workers=args.workers, cpus=cpus)
    print(standalone.format_report(report))
    return 3 if args.strict and report.untrusted else 0
