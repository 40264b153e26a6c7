"""Thin command line: the verbs' parsers in one ``meshbench`` parser, one-line errors, and
the exit codes every verb shares (2 on an error, 130 on Ctrl-C, 141 on a closed pipe).

Each verb is a module of :mod:`meshbench.commands`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from meshbench import __version__
from meshbench.commands import (
    baseline,
    clean,
    compare,
    doctor,
    export,
    gate,
    load,
    report,
    run,
    size,
)
from meshbench.errors import STORAGE_ERRNOS, MeshbenchError, one_line
from meshbench.host import interrupts

Handler = Callable[[argparse.Namespace], int]

VERBS = (run, report, compare, gate, baseline, export, size, load, doctor, clean)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meshbench",
        description="Measure how much latency a service-mesh sidecar adds to your workload.",
    )
    p.add_argument("--version", action="version", version=f"meshbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in VERBS:
        verb.register(sub)
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
