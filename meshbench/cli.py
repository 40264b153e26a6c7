"""Thin command line: parse arguments, call the library, print one-line errors.

Every verb is a plain library function; see :mod:`meshbench.run`, :mod:`meshbench.report`,
:mod:`meshbench.platforms.local.cleanup`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from meshbench import __version__, interrupts
from meshbench.errors import STORAGE_ERRNOS, MeshbenchError, one_line

Handler = Callable[[argparse.Namespace], int]


def _cmd_run(args: argparse.Namespace) -> int:
    from meshbench.run import run_scenario

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


def _cmd_report(args: argparse.Namespace) -> int:
    from meshbench.report import report_run

    report_run(
        Path(args.run_dir), out_dir=Path(args.out) if args.out else None, partial=args.partial
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from meshbench.report import compare_report

    compare_report(
        Path(args.run_a),
        Path(args.run_b),
        force=args.force,
        out_dir=Path(args.out) if args.out else None,
        partial=args.partial,
    )
    return 0


def _percentiles(text: str) -> list[float]:
    """``"50,99"`` -> ``[50.0, 99.0]`` (argparse type: a bad value is a usage error)."""
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of percentiles, e.g. 50,99"
        ) from None


def _cmd_gate(args: argparse.Namespace) -> int:
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


def _cmd_baseline(args: argparse.Namespace) -> int:
    from meshbench.results.baselines import list_baselines, save_baseline

    root = Path(args.baselines)
    if args.action == "save":
        b = save_baseline(Path(args.run), args.name, root, force=args.force)
        print(
            f"saved baseline {b.name!r} for scenario {b.scenario!r} on host "
            f"{b.fingerprint}: {b.run_dir}"
        )
        return 0
    for b in list_baselines(root):
        print(f"{b.name}\t{b.scenario}\t{b.fingerprint}\t{b.saved_utc}\t{b.source}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from meshbench.export import export_run

    for path in export_run(Path(args.run), args.format, Path(args.out) if args.out else None):
        print(f"wrote {path}")
    return 0


def _cmd_size(args: argparse.Namespace) -> int:
    from meshbench.analysis.sizing import parse_detect, size_run
    from meshbench.analysis.stored_run import load_run
    from meshbench.report.size_summary import size_lines

    effect_ms, percentile = parse_detect(args.detect)
    run = load_run(Path(args.run))
    sizing = size_run(run, effect_ms, percentile, power=args.power, gate=args.gate)
    print("\n".join(size_lines(sizing, run, args.power)))
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    from meshbench.load.spec import LoadRequest
    from meshbench.load.standalone import (
        check_request,
        check_target,
        format_report,
        load_url,
        measured_cpus,
    )
    from meshbench.plan import confirm_limits, load_estimate
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
    check_target(req.target_url)  # before any folder is created
    check_request(req, args.workers, args.cpus)
    est = load_estimate(req.rate_rps, req.warmup_s, req.duration_s, args.workers)
    confirm_limits(est, args.yes, "this load")
    cpus = args.cpus
    if cpus is None:  # as `meshbench run` pins the generator
        cpus, lines = measured_cpus(args.workers)
        print("\n".join(lines), file=sys.stderr)
    out = Path(args.out) if args.out else new_run_dir(Path("results"), "load")
    report = load_url(req, out, workers=args.workers, cpus=cpus)
    print(format_report(report))
    return 3 if args.strict and report.untrusted else 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    status = 0
    if args.platform in (None, "local"):
        from meshbench.cores import choose
        from meshbench.preflight import format_preflight, run_preflight

        pre = run_preflight()
        pin = choose(pre, workers=1)
        print("local platform: this host's CPUs\n" + format_preflight(pre))
        print(
            f"CPUs a run would use (1 load worker): load {pin.load_cpus}, apps "
            f"{pin.pod_cpus}, sidecars {pin.sidecar_cpus} ({pin.chosen_by})\n"
        )
    if args.platform in (None, "kind"):
        from meshbench.platforms.kind import doctor, format_doctor
        from meshbench.platforms.kind.doctor import ready

        checks = doctor()
        print("kind platform: tools and versions\n" + format_doctor(checks), end="")
        status = 0 if ready(checks) else 1
    return status


def _cmd_clean(args: argparse.Namespace) -> int:
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


PARTIAL_HELP = (
    "read a run that is still running: a snapshot of the trials stored so far, which says "
    "so (refused without this flag)"
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meshbench",
        description="Measure how much latency a service-mesh sidecar adds to your workload.",
    )
    p.add_argument("--version", action="version", version=f"meshbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    r.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="per-mesh latency table and overhead against none")
    rep.add_argument("run_dir", help="a directory printed by `meshbench run`")
    rep.add_argument(
        "--out", metavar="DIR", help="where to write report.html (default: the run directory)"
    )
    rep.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    rep.set_defaults(func=_cmd_report)

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
    cmp.set_defaults(func=_cmd_compare)

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
        type=_percentiles,
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
    g.set_defaults(func=_cmd_gate, parser=g)

    bl = sub.add_parser(
        "baseline", help="save a run as a named baseline for `gate --against`, or list them"
    )
    bl_sub = bl.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = bl_sub.add_parser(
        "save", help="copy RUN into the baseline store as NAME (keyed by scenario and host)"
    )
    save.add_argument("run", metavar="RUN", help="a run directory")
    save.add_argument("name", metavar="NAME", help="e.g. main or istio-1.30")
    save.add_argument(
        "--force", action="store_true", help="replace NAME, or save a run that did not complete"
    )
    lst = bl_sub.add_parser("list", help="saved baselines: name, scenario, host, saved, source")
    for sp in (save, lst):
        sp.add_argument(
            "--baselines",
            default="baselines",
            metavar="DIR",
            help="where baselines are kept (default: baselines)",
        )
    bl.set_defaults(func=_cmd_baseline)

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
    ex.set_defaults(func=_cmd_export)

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
    sz.set_defaults(func=_cmd_size)

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
    ld.set_defaults(func=_cmd_load)

    d = sub.add_parser(
        "doctor",
        help="check this host's CPUs (local) and docker, kind, kubectl, helm and "
        "mesh CLIs (kind); exit 1 when kind is not ready",
    )
    d.add_argument(
        "--platform",
        choices=["local", "kind"],
        default=None,
        help="check one platform only (default: both)",
    )
    d.set_defaults(func=_cmd_doctor)

    c = sub.add_parser("clean", help="remove namespaces and processes a killed run left behind")
    c.add_argument(
        "--force", action="store_true", help="also remove resources of runs still in progress"
    )
    c.add_argument(
        "--results",
        default="results",
        help="results root whose killed runs are tidied (default: results)",
    )
    c.set_defaults(func=_cmd_clean)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meshbench`` console script."""
    args = build_parser().parse_args(argv)
    # Ctrl-C must always reach us (a shell may start background jobs with SIGINT ignored),
    # so that every exit path removes what the run created; a second one must not stop
    # that cleanup or the exit that follows it.
    interrupts.install()
    handler: Handler = args.func
    try:
        return handler(args)
    except MeshbenchError as e:
        print(f"meshbench: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # a full, read-only or forbidden disk met outside the results store
        if e.errno not in STORAGE_ERRNOS:
            raise
        print(f"meshbench: error: {one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `meshbench run --dry-run ... | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return 141
    except KeyboardInterrupt as e:
        interrupts.ignore_until_exit()
        notes = "; ".join(getattr(e, "__notes__", []))  # what cleaning up could not do
        done = notes or "everything created was removed"
        print(f"meshbench: interrupted; {done}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
