"""The time a bounded proof may spend, counted so that a loaded machine does not change
its verdict (docs/theory.md, section 4: a timeout is UNKNOWN, never PROVED).

A wall-clock deadline made the same proof PROVED on an idle machine and UNKNOWN on a busy
one (a CI runner with every core taken ran the rule-level search seven times slower). So a
:class:`Budget` counts this process's CPU time (``time.process_time``: the work done, not
the time spent waiting for a core), and gives each z3 query a resource limit (``rlimit``,
the same count on every machine for one z3 version) in place of z3's wall-clock timeout.
A wall-clock cap of :data:`WALL_FACTOR` times the budget stays as the last guard: code that
sleeps or blocks uses no CPU time and must still be stopped.
"""

from __future__ import annotations

import time

#: z3 resource units allowed per CPU second left. z3 counts 0.6 to 18 million units per
#: CPU second, depending on the query (z3 5.4.1, Intel Xeon); a rule-level query uses under
#: 6,000, so the limit binds only on a pathological query, at the same point on every
#: machine (the wall-clock cap, below, bounds a query that counts slowly).
RLIMIT_PER_S = 2_000_000
#: The wall clock may run this many times the CPU budget before the proof is stopped.
WALL_FACTOR = 4.0


class Budget:
    """``seconds`` of CPU time (and at most ``WALL_FACTOR * seconds`` of wall time) from
    now. ``cpu`` and ``wall`` are the clocks (tests replace them)."""

    def __init__(self, seconds: float, *, cpu=None, wall=None):
        self.seconds = float(seconds)
        self._cpu, self._wall = cpu or time.process_time, wall or time.monotonic
        self._cpu_end = self._cpu() + self.seconds
        self._wall_end = self._wall() + WALL_FACTOR * self.seconds

    def left(self) -> float:
        """CPU seconds left; 0 once either clock has passed its end."""
        if self._wall() >= self._wall_end:
            return 0.0
        return max(self._cpu_end - self._cpu(), 0.0)

    def spent(self) -> bool:
        return self.left() <= 0.0

    def within(self, seconds: float) -> "Budget":
        """A budget of at most ``seconds`` more, never beyond this one."""
        sub = Budget(min(seconds, self.left()), cpu=self._cpu, wall=self._wall)
        sub._wall_end = min(sub._wall_end, self._wall_end)
        return sub

    def z3_limits(self) -> tuple[float, int]:
        """``(wall timeout in seconds, rlimit)`` for one z3 query: the rlimit is the CPU
        seconds left in z3's resource units; the timeout, the wall-clock cap left."""
        wall_left = max(self._wall_end - self._wall(), 1e-3)
        return wall_left, max(1, int(self.left() * RLIMIT_PER_S))
