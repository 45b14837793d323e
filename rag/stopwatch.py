"""Per-stage timings: the seconds between successive laps, recorded by name.

`Assistant.ask` and the stages it calls (retrieval, answer selection) record into one dict, which
becomes `Answer.timings`; the benchmarks read their stage figures from it.
"""
from __future__ import annotations

import time


class Stopwatch:
    """Records into `timings` (when given) the seconds each named stage took since the previous lap."""

    def __init__(self, timings: dict[str, float] | None):
        self.timings = timings
        self.started = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Record the time since the previous lap (or the start) as stage `name`."""
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = now - self.last
        self.last = now

    def total(self, name: str = "total") -> None:
        """Record the time since the start as `name` (at the last lap, so it is the stages' sum)."""
        if self.timings is not None:
            self.timings[name] = self.last - self.started
