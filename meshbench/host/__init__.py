"""The machine and the process a benchmark runs in: what else used the CPUs during a trial
(``activity``), the host's facts and warnings (``preflight``), which CPUs each role gets
(``cores``), the kernel timer (``timerfd``) and the process's signal handling
(``interrupts``)."""
