"""Reports of a stored run: the terminal table, report.html, summary.md and plots."""

from meshbench.report.write import compare_report, report_run, write_report

__all__ = ["compare_report", "report_run", "write_report"]
