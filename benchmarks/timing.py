"""Timing shared by the benchmark scripts: contenders timed in turn, round after round."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def rounds(
    calls: dict[str, Callable[[], object]], repeat: int, pause: float = 0.0
) -> dict[str, list[float]]:
    """Time every call once per round, ``repeat`` rounds, after one warm-up call each.

    Contenders timed in the same round see the same machine: when its speed drifts, the
    per-round ratios stay put where separate medians would not. ``pause`` seconds of sleep
    before each timed call let the previous call's idle threads (OpenMP's and OpenBLAS's
    spin for a while after a parallel region) stop competing for the cores.
    """
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            if pause:
                time.sleep(pause)
            times[name].append(timed(call))
    return times


def ratio(times: dict[str, list[float]], ours: str, theirs: str) -> float:
    """Median over rounds of our time over theirs."""
    return statistics.median(a / b for a, b in zip(times[ours], times[theirs], strict=True))
