"""One self-contained ``report.html``: inline CSS, images as data URIs, no script, no network."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from meshbench.report.sections import Section
from meshbench.report.tables import Table

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1d1d1f; background: #fff; margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.sub { color: #666; margin: 0 0 16px; }
.verdict { background: #f3f7fc; border-left: 4px solid #1f77b4; padding: 10px 16px; }
.verdict li { margin: 4px 0; }
.warnings { background: #fff8e1; border-left: 4px solid #f0a500; padding: 10px 16px; }
.notes { background: #f5f5f5; border-left: 4px solid #999; padding: 10px 16px; }
table { border-collapse: collapse; margin: 6px 0 4px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e5e5; text-align: right; }
th { background: #fafafa; font-weight: 600; }
td:first-child, th:first-child { text-align: left; }
tr.bad td { color: #b00020; }
tr.good td { color: #1b7f3b; }
tr.noise td { color: #777; }
caption { caption-side: bottom; text-align: left; color: #666; font-size: 13px; padding-top: 4px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; }
dt { font-weight: 600; } dd { margin: 0; }
figure { margin: 16px 0 28px; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 13px; }
footer { color: #666; font-size: 13px; margin-top: 40px; }
"""


def table_html(t: Table | None) -> str:
    if t is None or not t.rows:
        return ""
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = []
    for i, row in enumerate(t.rows):
        cls = f' class="{t.style(i)}"' if t.style(i) else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>")
    cap = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    return (
        f"<h3>{escape(t.title)}</h3>\n<table>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def image_html(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _list(items: Sequence[str], cls: str, title: str) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{escape(x)}</li>" for x in items)
    return f'<section class="{cls}"><strong>{escape(title)}</strong><ul>{lis}</ul></section>'


def _section(s: Section) -> str:
    body = "".join(table_html(t) for t in s.tables)
    return f"<h2>{escape(s.title)}</h2>{body}" if body else ""


def render(
    *,
    title: str,
    subtitle: str,
    verdict: Sequence[str],
    warnings: Sequence[str],
    notes: Sequence[str],
    setup: Sequence[tuple[str, str]],
    sections: Sequence[Section],
    figures: Sequence[tuple[bytes, str]],
    appendix: Section | None,
    footer: str,
) -> str:
    """The whole page as one string: ``sections`` before the plots, ``appendix`` after."""
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in setup)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1><p class='sub'>{escape(subtitle)}</p>",
        _list(verdict, "verdict", "Verdict"),
        _list(warnings, "warnings", "Validity warnings"),
        _list(notes, "notes", "Notes"),
        f"<h2>Setup and environment</h2><dl>{dl}</dl>",
    ]
    parts += [_section(s) for s in sections]
    if figures:
        parts.append("<h2>Plots</h2>")
        parts.extend(image_html(p, c) for p, c in figures)
    if appendix is not None:
        parts.append(_section(appendix))
    parts.append(f"<footer>{escape(footer)}</footer></main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"
