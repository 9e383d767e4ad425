"""A bounded proof's budget (proofs/bounded/budget.py) counts CPU time and z3's resource
units, so a loaded machine does not change the verdict; a wall-clock cap still stops
code that sleeps.

Planted bugs seen failing (reverted): ``Budget.left`` counting the wall clock instead of
the CPU clock (the old deadline: fails the loaded-machine test); ``encode_z3.solver``
ignoring ``rlimit`` (fails the resource-limit test); ``within`` not capped by its parent
(fails the sub-budget test); no wall-clock cap (fails the sleeping-code test)."""

import time

import pytest

pytest.importorskip("z3")

import z3

from mechanism.verdicts import Verdict
from proofs.bounded import budget as B
from proofs.bounded.rule_level import prove_rule
from proofs.encode import encode_z3
from properties.checker.proving import generic_target


def good(ops, dists, bids, reference=None, weight=0):
    ws = [2 * b + 0.25 for b in bids]
    return sum(p * w for p, w in zip(dists, ws)) / sum(ws)


class Clock:
    """A clock that reads ``start`` plus ``step`` more on every read."""

    def __init__(self, step, start=0.0):
        self.t, self.step = start, step

    def __call__(self):
        self.t += self.step
        return self.t


def test_a_loaded_machine_does_not_change_a_proof(monkeypatch):
    """The wall clock runs far ahead of the work (0.02 s more on each of its ~420 reads:
    8 s, more than the 5 s budget, as on a CI runner with every core taken, and within
    the 20 s wall-clock cap); the CPU time is the real one: the proof is still PROVED."""
    real = B.Budget

    def loaded(seconds, *, cpu=None, wall=None):
        return real(seconds, cpu=cpu, wall=wall or Clock(0.02, time.monotonic()))
    monkeypatch.setattr("proofs.bounded.rule_level.Budget", loaded)
    res = prove_rule(generic_target(good), "monotone", "box", timeout_s=5.0)
    assert res.verdict is Verdict.PROVED, res.detail


def test_a_spent_budget_is_unknown_never_proved():
    res = prove_rule(generic_target(good), "monotone", "box", timeout_s=1e-9)
    assert res.verdict is Verdict.UNKNOWN, res.detail


def test_z3_is_stopped_by_its_resource_limit_not_its_clock():
    x, y, w = z3.Reals("x y w")
    hard = [x * x * y + w * w * x > 3, x * y * w < -5, x + y + w == 1,
            x * x + y * y + w * w < 4.1]
    r, _, reason = encode_z3.solve(hard, 600.0, nonlinear=True, rlimit=1000)
    assert r == z3.unknown and "resource" in reason, (r, reason)


def test_the_limits_follow_the_cpu_seconds_left():
    cpu, wall = Clock(0.0, 100.0), Clock(0.0, 50.0)
    b = B.Budget(2.0, cpu=cpu, wall=wall)
    timeout, rlimit = b.z3_limits()
    assert rlimit == 2 * B.RLIMIT_PER_S and timeout == pytest.approx(2.0 * B.WALL_FACTOR)
    cpu.t += 1.5
    assert b.z3_limits()[1] == B.RLIMIT_PER_S // 2 and not b.spent()
    cpu.t += 0.5
    assert b.spent() and b.left() == 0.0


def test_a_sub_budget_never_outlasts_its_parent():
    cpu, wall = Clock(0.0), Clock(0.0)
    parent = B.Budget(1.0, cpu=cpu, wall=wall)
    sub = parent.within(2.0)
    assert sub.left() == pytest.approx(1.0)
    wall.t += B.WALL_FACTOR * 1.0
    assert parent.spent() and sub.spent()


def test_code_that_sleeps_is_stopped_by_the_wall_clock_cap():
    """No CPU time passes (the code sleeps); the wall clock passes the cap: spent."""
    cpu, wall = Clock(0.0, 10.0), Clock(0.0)
    b = B.Budget(1.0, cpu=cpu, wall=wall)
    wall.t += B.WALL_FACTOR * 1.0 - 0.5
    assert not b.spent()
    wall.t += 0.5
    assert b.spent() and b.z3_limits()[1] == 1
