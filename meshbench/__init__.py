"""meshbench: how much latency does a service-mesh sidecar add to *your* workload?

Pipeline (one module or package per stage):
scenario -> plan -> platforms (local | kind) -> load -> results -> analysis -> report.
"""

__version__ = "0.1.0"
