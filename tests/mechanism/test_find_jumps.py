"""mechanism.quadrature.find_jumps: every jump located to its width, smooth rises not
taken for jumps, and the open steps of one scale evaluated in one call of ``f`` (a rule
call costs about 0.3 ms whatever its batch: one call per step made second price under a
family rule 5x slower)."""

import numpy as np

from mechanism.quadrature import JUMP_WIDTH, find_jumps

JUMPS = (0.123456789, 0.5, 0.5 + 1e-6, 0.87)


def _stairs(calls):
    def f(x):
        calls.append(np.size(x))
        x = np.asarray(x, dtype=np.float64)
        return 0.3 * x + sum((x >= j).astype(float) for j in JUMPS)
    return f


def test_every_jump_is_located_and_a_smooth_rise_is_none():
    calls: list = []
    found = find_jumps(_stairs(calls), 0.0, 1.0)
    assert len(found) == len(JUMPS)
    for (lo, hi, ylo, yhi), j in zip(found, JUMPS):
        assert lo < j <= hi and hi - lo <= JUMP_WIDTH and yhi - ylo > 0.99
    assert find_jumps(lambda x: np.sin(3 * np.asarray(x)), 0.0, 1.0) == []


def test_one_call_of_f_per_scale():
    """About log4(1 / width) = 20 levels after the scan, whatever the number of jumps
    (planted bug seen failing: the old one-step-at-a-time stack made 309 calls here)."""
    calls: list = []
    find_jumps(_stairs(calls), 0.0, 1.0)
    assert len(calls) <= 1 + 22, len(calls)
    assert max(calls[1:]) >= 3 * len(JUMPS)   # the four jumps' steps together
