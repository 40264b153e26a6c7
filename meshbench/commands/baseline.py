"""``meshbench baseline save | list``: named baselines for ``gate --against``."""

from __future__ import annotations

import argparse
from pathlib import Path

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
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
    bl.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
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
