"""``meshbench doctor``: this host's CPUs (local) and the kind platform's tools and versions."""

from __future__ import annotations

import argparse

from meshbench.commands import Subparsers


def register(sub: Subparsers) -> None:
    """Add this verb's parser to ``sub``."""
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
    d.set_defaults(func=execute)


def execute(args: argparse.Namespace) -> int:
    status = 0
    if args.platform in (None, "local"):
        from meshbench.host.cores import choose
        from meshbench.host.preflight import format_preflight, run_preflight

        pre = run_preflight()
        pin = choose(pre, workers=1)
        print("local platform: this host's CPUs\n" + format_preflight(pre))
        print(f"CPUs a run would use (1 load worker): {pin.describe()}\n")
    if args.platform in (None, "kind"):
        from meshbench.platforms.kind import doctor, format_doctor
        from meshbench.platforms.kind.doctor import ready

        checks = doctor()
        print("kind platform: tools and versions\n" + format_doctor(checks), end="")
        status = 0 if ready(checks) else 1
    return status
