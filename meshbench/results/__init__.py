"""The results store: the only thing analysis and reporting ever read.

``results/<run-id>/`` holds ``run.json``, ``trials.csv`` (one row per trial),
``histograms/<trial_id>.hlog`` (HdrHistogram interval logs) and ``trials/<trial_id>/``
(Locust's own statistics, sidecar statistics, the load generator's summary).
"""
