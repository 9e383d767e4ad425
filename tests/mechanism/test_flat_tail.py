"""Myerson's identity stops at a kink into a flat tail (mechanism.valuations.flat_tail).

A rule whose weight is capped (``min(b, 1)``) freezes the outcome above bid 1: second
price pays ``Z(b) = Z(1)`` for every ``b >= 1``. Gauss-Kronrod over ``[0, b]`` put
``Z(1.001)`` 1.1e-7 below ``Z(1)`` with an error estimate of 5e-9 (the kink sat between
the last Kronrod node and the end), which ``check`` read as a payment_monotone violation.
"""

import numpy as np
import pytest

from mechanism import expected_payments
from mechanism.valuations import flat_tail

P = np.array([[0.0, 1.0], [1.0, 0.0]])
EXACT = 0.5 * np.log(3.0) - 1.0 / 3.0   # 2/3 - int_0^1 s / (s + 1/2) ds


def capped(dists, bids):
    w = np.minimum(np.asarray(bids, dtype=np.float64), 1.0)
    return w @ np.asarray(dists) / w.sum()


@pytest.mark.parametrize("b", [1.0, 1.0001, 1.001, 1.01, 1.5, 3.0])
def test_capped_second_price_is_exact_on_the_frozen_stretch(b):
    pay = expected_payments(capped, P, np.array([b, 0.5]), method="quadrature")
    assert abs(pay.values[0] - EXACT) <= max(pay.errors[0], 1e-14), (b, pay.values[0] - EXACT)
    assert abs(pay.values[0] - EXACT) < 1e-12


def test_flat_tail_cuts_only_a_kink_into_a_constant():
    calls = []

    def smooth(s):
        calls.append(len(np.atleast_1d(s)))
        return np.asarray(s) / (np.asarray(s) + 0.5)
    assert flat_tail(smooth, 2.0, float(smooth(np.array([2.0]))[0])) == (2.0, 2.0, 0.8)
    assert calls[1:] == [1]   # the usual case: one probe, nothing else evaluated

    def step(s):   # a jump into a flat stretch is find_jumps' business
        return (np.asarray(s) > 0.7).astype(np.float64)
    assert flat_tail(step, 1.0, 1.0) == (1.0, 1.0, 1.0)

    def kinked(s):
        return np.minimum(np.asarray(s), 0.7)
    lo, hi, ylo = flat_tail(kinked, 1.0, 0.7)
    assert lo < 0.7 <= hi and hi - lo <= 1e-12 and abs(ylo - 0.7) < 1e-12
