"""One module per CLI verb, each with ``register(sub)`` (its parser) and ``execute(args)``
(its exit code). A verb parses, calls the library and prints; what it computes lives in
the pipeline's packages, imported when the verb runs, so ``meshbench --help`` and a verb's
own start stay light. :mod:`meshbench.cli` puts them together in its ``VERBS`` order."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # subscriptable for the type checker only
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction

PARTIAL_HELP = (
    "read a run that is still running: a snapshot of the trials stored so far, which says "
    "so (refused without this flag)"
)
