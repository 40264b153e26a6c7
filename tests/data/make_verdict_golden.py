"""Write the frozen verdict.json of schema version 1 (tests/data/golden/verdict-v1.json).

    .venv/bin/python tests/data/make_verdict_golden.py

It is the ``run`` verdict document of the golden run ``golden/schema-v1``. Never
regenerate it after a change of the verdict schema: bump ``VERDICT_SCHEMA_VERSION``, keep
reading version 1 in ``read_verdict`` and add ``verdict-v2.json`` beside it (that is what
``test_verdict_json.py`` is for). The fields that change with every write
(``generated_utc``, ``meshbench_version``, the run's ``path``) are fixed here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from meshbench.analysis import analyse, load_run
from meshbench.report.verdict_json import run_document

HERE = Path(__file__).resolve().parent
GOLDEN_RUN = HERE / "golden" / "schema-v1"
OUT = HERE / "golden" / "verdict-v1.json"
FIXED = {"generated_utc": "2026-01-01T00:00:00+00:00", "meshbench_version": "0.1.0"}


def frozen(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the fields that change on every write set to fixed values."""
    out = {**doc, **FIXED}
    out["runs"] = {k: {**v, "path": "golden/schema-v1"} for k, v in doc["runs"].items()}
    return out


def main() -> int:
    if OUT.exists() and "--force" not in sys.argv:
        print(f"{OUT} exists and is frozen; never regenerate it", file=sys.stderr)
        return 1
    doc = frozen(run_document(analyse(load_run(GOLDEN_RUN))))
    OUT.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
