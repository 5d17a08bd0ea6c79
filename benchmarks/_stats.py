"""What every benchmark prints: a figure of each repetition, and their median with the spread."""

from __future__ import annotations

import resource
import statistics
from collections.abc import Sequence

REPETITIONS = 3


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``1.02 (1.01-1.04; 1.01, 1.02, 1.04)``: median, range, then each repetition in order."""
    shown = ", ".join(fmt.format(v) for v in values)
    return (f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))}; "
            f"{shown})")


def verdict(value: float, goal: float, at_most: bool = True) -> str:
    """``holds`` or ``MISSED`` for a median against its goal."""
    return "holds" if (value <= goal if at_most else value >= goal) else "MISSED"


def peak_rss_mb(children: bool = False) -> float:
    """The peak resident set of this process (or of its waited-for children), in MB."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024


def growth(sizes: Sequence[int], seconds: Sequence[float]) -> str:
    """``100: 0.20 s (2.00 ms a guest), 1000: 1.10 s (1.10 ms a guest; x5.5 for x10), ...``: time per size, per
    guest, and its growth against the size's. Linear growth keeps the time a guest about the same."""
    def each(n: int, s: float) -> str:
        return f"{s * 1000 / n:.2f} ms a guest"
    parts = [f"{sizes[0]}: {seconds[0]:.2f} s ({each(sizes[0], seconds[0])})"]
    for (n0, s0), (n1, s1) in zip(zip(sizes, seconds, strict=True), zip(sizes[1:], seconds[1:], strict=True),
                                  strict=False):
        parts.append(f"{n1}: {s1:.2f} s ({each(n1, s1)}; x{s1 / s0:.1f} for x{n1 / n0:.0f} guests)")
    return ", ".join(parts)
