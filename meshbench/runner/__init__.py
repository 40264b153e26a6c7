"""Running a scenario: start or resume a run directory (``start``), then deploy, load,
store and clean up trial by trial (``run``)."""
