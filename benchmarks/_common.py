"""What the benchmark scripts share: argument checks and round-robin timing.

The scripts run as ``python benchmarks/NAME.py``, which puts this folder on
the path, so they import it as ``_common``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping


def positive(text: str) -> int:
    """An argparse type: a whole number, at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def round_robin(
    candidates: Mapping[str, Callable[[], object]], *, rounds: int, loops: int
) -> dict[str, list[float]]:
    """Seconds per call of each candidate, one sample per round.

    Each round times every candidate over ``loops`` calls, starting with a
    different one each round, so drift on a noisy machine hits all alike.
    Every candidate is called once first, untimed (caches, lazy imports).
    """
    names = list(candidates)
    for call in candidates.values():
        call()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            call = candidates[name]
            start = time.perf_counter()
            for _ in range(loops):
                call()
            samples[name].append((time.perf_counter() - start) / loops)
    return samples
