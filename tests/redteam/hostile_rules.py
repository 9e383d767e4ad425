"""Hostile backend-generic rules, loaded by ``tokenauction check FILE:NAME`` in the tests
of :mod:`tests.redteam.test_hostile_rules`. Each one tries to make the checker lie: a
threshold at a number no probe sees, a 1e-12 scaling, a float64 cancellation, names
that collide with the compiler's, state, introspection of what it is handed, an exit.
The honest verdict of each is in the test module, decided there by an oracle that runs
the function as written on numbers."""

import functools
import inspect
import os
import sys
from fractions import Fraction

import numpy as np


def pool(dists, ws):
    """Linear pooling of the reports with weights ``ws``; a list of V entries."""
    t = sum(ws)
    return [sum(p[k] * w for p, w in zip(dists, ws)) / t for k in range(len(dists[0]))]


def inverted(dists, bids):
    return pool(dists, [1 / (1 + b) for b in bids])


def thr_drop(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [ops.ite(ops.gt(b, 0.3700000001), b / 100, b) for b in bids])


def thr_report(ops, dists, bids, reference=None, weight=0):
    """The threshold is on a report value: weight 1/(1+b) where p[0] > 0.123456789."""
    return pool(dists, [ops.ite(ops.gt(p[0], 0.123456789), 1 / (1 + b), b)
                        for p, b in zip(dists, bids)])


def scaled_good(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [1e-12 * b for b in bids])


def scaled_bad(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [1e-12 * b / (1 + b * b) for b in bids])


def tiny_dip(ops, dists, bids, reference=None, weight=0):
    """Weight b + 1, times (1 - 1e-12) above b = 2: falls on (2, 2 + 3e-12)."""
    return pool(dists, [b + 1 - ops.ite(ops.gt(b, 2), 1e-12 * (b + 1), 0) for b in bids])


def cancel_float(ops, dists, bids, reference=None, weight=0):
    """Weight b in exact reals; the float64 code cancels (b*b - (b-1)(b+1) is not 1)."""
    return pool(dists, [b + (b * b - (b - 1) * (b + 1) - 1) * 1e20 for b in bids])


def huge_drop(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [ops.ite(ops.gt(b, 1e300), 0, b) for b in bids])


def branch_1e7(ops, dists, bids, reference=None, weight=0):
    """A Python branch (not compiled: sampled only) at 1e7, beyond the drawn bids'
    ordinary magnitudes: the weight drops to 1e-3 there."""
    return pool(dists, [b if b < 1e7 else 1e-3 for b in bids])


def branch_1e300(ops, dists, bids, reference=None, weight=0):
    """The same at 1e300 (its weight drops to 1e-300)."""
    return pool(dists, [b if b < 1e300 else 1e-300 for b in bids])


def names_collide(ops, dists, bids, reference=None, weight=0, T=2.0, Node=1.0, xp=0.0,
                  fn=3.0):
    """Weight Node / (T + b) + xp * fn: decreasing."""
    return pool(dists, [Node / (T + b) + xp * fn for b in bids])


def names_collide2(ops, dists, bids, reference=None, weight=0, self=1.0, b=5.0, lam=0.5):
    """Parameters named b, self, lam; weight self * x + b: increasing."""
    return pool(dists, [self * x + b for x in bids])


def mutable_default(ops, dists, bids, reference=None, weight=0, cache=[]):  # noqa: B006
    cache.append(1)
    return pool(dists, list(bids)) if len(cache) <= 1 else inverted(dists, bids)


W = [1.0]


def global_mutated(ops, dists, bids, reference=None, weight=0):
    out = pool(dists, [b * W[0] + (1 - W[0]) / (1 + b) for b in bids])
    W[0] = 0.0   # every later call: weight 1/(1+b)
    return out


def _powered(ops, dists, bids, reference=None, weight=0, power=1):
    return pool(dists, [(b + 1) ** power for b in bids])


partial_bad = functools.partial(_powered, power=-1)
partial_good = functools.partial(_powered, power=2)
lambda_const = lambda ops, dists, bids, reference=None, weight=0: list(dists[0])  # noqa: E731
lambda_bad = lambda ops, dists, bids, reference=None, weight=0: inverted(dists, bids)  # noqa


def type_fraction(ops, dists, bids, reference=None, weight=0):
    if isinstance(bids[0], (float, Fraction, np.floating, int)):
        return inverted(dists, bids)
    return pool(dists, list(bids))


def n_branch4(ops, dists, bids, reference=None, weight=0):
    return inverted(dists, bids) if len(dists) == 4 else pool(dists, list(bids))


def n_branch5(ops, dists, bids, reference=None, weight=0):
    """Wrong only at n >= 5, beyond the sizes the rule is compiled for."""
    return inverted(dists, bids) if len(dists) >= 5 else pool(dists, list(bids))


def v_branch5(ops, dists, bids, reference=None, weight=0):
    return inverted(dists, bids) if len(dists[0]) == 5 else pool(dists, list(bids))


def returns_tuple(ops, dists, bids, reference=None, weight=0):
    return tuple(inverted(dists, bids))


def returns_f32(ops, dists, bids, reference=None, weight=0):
    return np.float32(0.5)


def mutates_bids(ops, dists, bids, reference=None, weight=0):
    bids = list(bids)
    bids[0] = 1 / (1 + bids[0])
    return pool(dists, bids)


def mutates_inputs(ops, dists, bids, reference=None, weight=0):
    try:
        bids[0] = 1 / (1 + bids[0])
    except TypeError:
        pass
    return pool(dists, list(bids))


def swapped_tokens(ops, dists, bids, reference=None, weight=0):
    return pool(dists, list(bids))[::-1]


def catches_all(ops, dists, bids, reference=None, weight=0):
    """On numbers the weight falls above 0.37; on symbols the comparison raises and the
    handler falls back to linear."""
    try:
        return pool(dists, [b / 100 if b > 0.37 else b for b in bids])
    except BaseException:
        return pool(dists, list(bids))


def float_probe(ops, dists, bids, reference=None, weight=0):
    try:
        v = float(bids[0])
    except BaseException:
        v = 0.0
    return inverted(dists, bids) if v > 0.37 else pool(dists, list(bids))


def zero_bid_weight(ops, dists, bids, reference=None, weight=0):
    """Weight 1 at bid exactly 0, else b."""
    return pool(dists, [ops.ite(ops.gt(b, 0), b, 1) for b in bids])


def exits0(ops, dists, bids, reference=None, weight=0):
    sys.exit(0)


def os_exit0(ops, dists, bids, reference=None, weight=0):
    os._exit(0)


def prints_forgery(ops, dists, bids, reference=None, weight=0):
    print('{"verdict": "PROVED", "exit_code": 0}', flush=True)
    return inverted(dists, bids)


def three_arg(ops, dists, bids):
    return pool(dists, list(bids))


class CallVsEvaluate:
    """``__call__`` is linear (what is judged and what runs); ``evaluate`` is a stray
    method nothing calls."""

    def __call__(self, ops, dists, bids, reference=None, weight=0):
        return pool(dists, list(bids))

    def evaluate(self, dists, bids):
        w = 1 / (1 + np.asarray(bids, float))
        return (w @ np.asarray(dists, float)) / w.sum()


call_vs_eval = CallVsEvaluate()

# --- rules that answer the capture differently from numbers ---------------------------

_seen = set()


def first_size_only(ops, dists, bids, reference=None, weight=0):
    """Linear the first time a size is seen, inverted on every later call of that size."""
    key = (len(dists), len(dists[0]))
    if key in _seen:
        return inverted(dists, bids)
    _seen.add(key)
    return pool(dists, list(bids))


def sym_introspect(ops, dists, bids, reference=None, weight=0):
    if type(bids[0]).__module__.startswith("proofs"):
        return pool(dists, list(bids))
    return inverted(dists, bids)


def ops_peek(ops, dists, bids, reference=None, weight=0):
    if "Capture" in type(ops).__name__:
        return pool(dists, list(bids))
    return inverted(dists, bids)


def region_lie(ops, dists, bids, reference=None, weight=0):
    """Linear while captured; on numbers, agent 0's bid in (3, 4) hands the outcome to the
    others (not monotone), a region none of the fidelity check's fixed bids reaches."""
    if type(bids[0]).__name__ == "Sym" or not 3.0 < float(bids[0]) < 4.0 or len(bids) < 2:
        return pool(dists, list(bids))
    return pool(dists[1:], list(bids[1:]))


def stack_peek(ops, dists, bids, reference=None, weight=0):
    names = " ".join(f.filename for f in inspect.stack())
    if "compile" in names:
        return pool(dists, list(bids))
    return inverted(dists, bids)


class OsExitMechanism:
    """A third-party mechanism whose aggregate ends the process that runs it."""

    name = "os_exit_mechanism"

    def aggregate(self, dists, bids):
        os._exit(0)


os_exit_mechanism = OsExitMechanism()
