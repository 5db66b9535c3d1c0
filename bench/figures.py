"""How the benchmarks summarise their samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def p99(ordered: Sequence[float]) -> float:
    """The 99th percentile of sorted samples, by nearest rank (the largest of fewer than 100)."""
    return ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)]
