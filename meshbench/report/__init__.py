"""Reports of a stored run: the terminal table, report.html, summary.md, verdict.json and
plots; comparisons and gates of two runs."""

from meshbench.report.write import compare_report, gate_report, report_run, write_report

__all__ = ["compare_report", "gate_report", "report_run", "write_report"]
