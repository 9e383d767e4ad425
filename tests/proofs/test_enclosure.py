"""The enclosure beside a compiled rule's float64 code (proofs/compile/enclosure.py): the
rows it certifies are the tree's values, and ordinary rules are not declined for it.
Each case was found by the red team; each fails on the code before its fix."""

import numpy as np
import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.errors import Float64Range  # noqa: E402
from proofs.compile import evaluate as E  # noqa: E402
from proofs.compile.generic_rule import compiled  # noqa: E402
from proofs.unbounded.families import normalized  # noqa: E402

P = np.array([[1.0, 0.0], [0.0, 1.0]])


def _pool(dists, ws):
    return sum(p * w for p, w in zip(dists, ws)) / sum(ws)


def _big_constant(ops, dists, bids, reference=None, weight=0):
    """Weight b + 1 in exact reals; z is exactly 0. Was: the code ran 1.7e308 as inf (so z
    was NaN and the other branch ran) while the bounds took it as the float it is."""
    def w(b):
        z = (1.7e308 - b) - (1.7e308 - b)
        return ops.ite(ops.gt(1e300, z), b + 1, 0.5 / (b + 2))
    return _pool(dists, [w(b) for b in bids])


def test_a_constant_near_the_float64_limit_runs_as_the_float_it_is():
    assert E.const_float(E.T.value(E.T.const(1.7e308))) == 1.7e308
    rule = compiled(_big_constant, name="big_constant")
    for b0 in (1.0, 1e8, 2.5e8):
        q = rule(P, np.array([b0, 1001.0]))
        assert abs(q[0] - (b0 + 1) / (b0 + 1003.0)) <= 1e-12, (b0, q)


def test_a_replaced_operation_of_the_code_certifies_nothing(monkeypatch):
    """Was: an entry of the code's table replaced (evaluate._NP["sqrt"]) ran unnoticed: the
    bounds never compared the code's outputs with themselves."""
    rule = normalized(lambda b, fn: fn.sqrt(b) + 1e-6, name="sq")
    want = rule(P, np.array([10.0, 1.0]))
    monkeypatch.setitem(E._NP, "sqrt", lambda x: np.sqrt(x) * np.exp(-np.asarray(x)))
    E._PROGRAMS.clear()
    try:
        got = rule(P, np.array([10.0, 1.0]))
        assert np.allclose(got, want, atol=1e-12, rtol=0), (got, want)
    except Float64Range:
        pass   # declined (the exact tree needs sqrt): never the replaced operation's value
    finally:
        E._PROGRAMS.clear()


@pytest.mark.parametrize("f, name", [(lambda b, fn: fn.log(1 + b), "log1p"),
                                     (lambda b, fn: b + fn.sqrt(b), "b_sqrt"),
                                     (lambda b, fn: fn.sqrt(b) + fn.log(1 + b), "sqrtw")])
def test_ordinary_families_are_not_declined_at_zero_or_tiny_bids(f, name):
    """Was: log(1 + b) declined every bid <= 1e-6 (its weight's relative error is large
    there) and b + sqrt(b) the bid 0: the weights are now certified by their normalized
    shares, and exact sums and exp(0), log(1), sqrt(0), sqrt(1) stay exact."""
    rule = normalized(f, name=name)
    for b in (0.0, 1e-12, 1e-9, 1e-6, 1e-3, 1.0):
        q = rule(P, np.array([b, 1.0]))
        assert np.all(np.isfinite(q)) and abs(q.sum() - 1.0) <= 1e-12


def test_weights_float64_cannot_give_are_declined_not_guessed():
    """Both bids tiny: log(1 + b)'s float64 weights are off by ~1e-8 relatively, so their
    shares are; the exact tree needs log: declined, never a wrong share."""
    rule = normalized(lambda b, fn: fn.log(1 + b), name="log1p")
    with pytest.raises(Float64Range):
        rule(P, np.array([1e-9, 2e-9]))
