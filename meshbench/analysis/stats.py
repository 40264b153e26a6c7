"""Small-sample corrections for bootstrap intervals (no scipy needed).

The plain percentile bootstrap is too narrow when it rests on a handful of
independent units: its spread estimates the variance with a factor (n-1)/n and uses
normal rather than t tails. With 3-5 repeats per side that was measured here as a
15-19 % false-positive rate at a nominal 5 %. The *expanded percentile interval*
(Hesterberg 2015, "What teachers should know about the bootstrap", section 5.1)
corrects both by reading the bootstrap distribution at wider quantiles:
``alpha'/2 = Phi(-sqrt(n / (n - 1)) * t_{alpha/2, n-1})``.
"""

from __future__ import annotations

import math


def normal_cdf(x: float) -> float:
    """Standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def t_cdf(x: float, df: int) -> float:
    """Student's t distribution function for integer ``df`` >= 1 (exact series,
    Abramowitz & Stegun 26.7.3-4)."""
    if df < 1:
        raise ValueError("df must be >= 1")
    theta = math.atan(abs(x) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:
        term, total = c, c if df > 1 else 0.0
        for k in range(3, df - 1, 2):  # c + 2/3 c^3 + 2*4/(3*5) c^5 + ...
            term *= (k - 1) / k * c * c
            total += term
        a = 2.0 / math.pi * (theta + s * total)
    else:
        term, total = 1.0, 1.0
        for k in range(2, df - 1, 2):  # 1 + 1/2 c^2 + 1*3/(2*4) c^4 + ...
            term *= (k - 1) / k * c * c
            total += term
        a = s * total
    return 0.5 + 0.5 * a if x >= 0 else 0.5 - 0.5 * a


def t_quantile(p: float, df: int) -> float:
    """Inverse of :func:`t_cdf` (bisection; accurate to ~1e-10)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def expanded_tail(confidence: float, n: int) -> float:
    """Probability in each tail at which to read a bootstrap distribution resting on
    ``n`` independent units so the interval has about ``confidence`` coverage."""
    alpha = 1.0 - confidence
    if n < 2:
        return alpha / 2
    z = math.sqrt(n / (n - 1)) * t_quantile(1.0 - alpha / 2, n - 1)
    return normal_cdf(-z)
