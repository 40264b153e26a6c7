"""What a benchmark is asked to do: the scenario file, validated (``scenario``), and the
declarations it is checked against (``dimensions``, ``topology``, ``workload``, the
platforms' settings)."""
