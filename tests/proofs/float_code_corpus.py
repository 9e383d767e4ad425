"""Small copies of rules whose exact-real tree and float64 code part ways (or that ask
z3 for too much), for the prover's regression tests (docs/theory.md section 8)."""

from __future__ import annotations

from proofs.compile import rule as api
from proofs.compile.generic_rule import compiled

K = 2.0 ** 60              # (b + K) - K is b in exact reals; float64 rounds it to 256 b's
C = 533210455803.0121      # b * b > C  <=>  b > 730212.61 (no constant of the tree)


def round_above():
    """f(b) = b in exact reals; float64 drops f(730213) to 730112."""
    return api.normalized(lambda b, fn: fn.ite(fn.gt(b * b, C), (b + K) - K, b),
                          name="round_above")


def underflow():
    """f(b) = b for b > 0 in exact reals; 2 b in float64 while b * b underflows."""
    return api.normalized(lambda b, fn: fn.ite(fn.gt(b * b, 0), b, 2 * b), name="underflow")


def _gen_round(ops, dists, bids, reference=None, weight=0):
    w = [ops.ite(ops.gt(b * b, C), (b + K) - K, b) for b in bids]
    total = ops.total(w)
    return sum(p * x for p, x in zip(dists, w)) / total


def gen_round():
    """The same rounding inside a generic rule."""
    return compiled(_gen_round, name="gen_round")


def _gen_sum(ops, dists, bids, reference=None, weight=0):
    total = ops.total(bids)
    lin = sum(p * b for p, b in zip(dists, bids)) / total
    over = ops.gt(ops.total(dists[0]), 1 + 2.0 ** -45)
    bad = ops.ite(ops.gt(bids[0], 1), dists[-1], dists[0])
    return ops.ite(over, bad, lin)


def gen_sum():
    """Linear pooling, except where agent 0's row sums to more than 1 + 2**-45 (rows
    within EXACT_TOL of 1 pass validation as given): then not monotone."""
    return compiled(_gen_sum, name="gen_sum")


def big_power():
    """f(b) = (b + 1)^200001 - b^200001: z3 would expand the powers."""
    return api.normalized(lambda b, fn: fn.pow(b + 1, 200001) - fn.pow(b, 200001),
                          name="bigpow")


def _gen_big(bids, fn):
    # exact reals: b0 + 1 > b0, so the factor is 1; float64: 2 from b0 = 2**53
    return [fn.min(bids[0], 1)] + [fn.ite(fn.gt(bids[0] + 1, bids[0]), 1, 2) * fn.min(b, 1)
                                   for b in bids[1:]]


def gen_big():
    """General weights whose other parties' weights double in float64 from b0 = 2**53."""
    return api.general(_gen_big, name="gen_big")


def _gen_window(bids, fn):
    b0 = bids[0]
    c = b0 * b0 * b0
    # exact reals: (b0 + 0.7) - 0.7 >= b0, the factor is 1; float64: 2 in a window near 2.3
    bump = fn.ite(fn.gt(c, 12.167), fn.ite(fn.gt(12.16700002, c),
                  fn.ite(fn.ge((b0 + 0.7) - 0.7, b0), 1, 2), 1), 1)
    return [fn.min(b0, 1)] + [bump * fn.min(b, 1) for b in bids[1:]]


def gen_window():
    """General weights that jump only in a float64 window of bids no constant names
    (b0 ** 3 just above 12.167): found only by the comparisons' flip bids."""
    return api.general(_gen_window, name="gen_window")
