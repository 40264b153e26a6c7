"""``summary.md`` for a decision review: same content as report.html, images linked."""

from __future__ import annotations

from collections.abc import Sequence

from meshbench.report.sections import Section
from meshbench.report.tables import Table


def _cell(s: str) -> str:
    return s.replace("|", "\\|")


def table_md(t: Table | None) -> str:
    if t is None or not t.rows:
        return ""
    align = ["---"] + ["---:"] * (len(t.columns) - 1)
    lines = [
        f"**{t.title}**",
        "",
        "| " + " | ".join(_cell(c) for c in t.columns) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in t.rows),
    ]
    if t.caption:
        lines += ["", f"_{t.caption}_"]
    return "\n".join(lines) + "\n"


def render(
    *,
    title: str,
    subtitle: str,
    verdict: Sequence[str],
    warnings: Sequence[str],
    notes: Sequence[str],
    setup: Sequence[tuple[str, str]],
    sections: Sequence[Section],
    figures: Sequence[tuple[str, str]],
    footer: str,
) -> str:
    """The document; ``figures`` are (relative path, caption) pairs."""
    out = [f"# {title}", "", subtitle, ""]
    if verdict:
        out += ["## Verdict", "", *(f"- {v}" for v in verdict), ""]
    if warnings:
        out += ["## Validity warnings", "", *(f"- {w}" for w in warnings), ""]
    if notes:
        out += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    out += [
        "## Setup and environment",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {_cell(k)} | {_cell(v)} |" for k, v in setup),
        "",
    ]
    for s in sections:
        body = "\n".join(md for md in (table_md(t) for t in s.tables) if md)
        if body:
            out += [f"## {s.title}", "", body]
    if figures:
        out += ["## Plots", ""]
        out += [f"![{cap}]({path})\n" for path, cap in figures]
    out += ["---", "", footer, ""]
    return "\n".join(out)
