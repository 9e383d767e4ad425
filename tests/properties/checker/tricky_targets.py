"""Tricky targets for the honest-verdict corpus (tests/properties/checker/test_tricky_corpus.py).

Each target here is wrong in a way that a careless checker misses: it branches in Python
on a bid, hides a case in ``np.where`` / ``np.maximum`` / ``np.clip``, is special at bid 0
or at a rare literal, changes with the instance size, overflows at extreme bids, answers
differently for the same input, raises on every call or returns a scalar. ``WITNESSES``
gives, per target, one concrete violation (the ground truth the corpus test checks the
verdicts against); the test loads every target by ``tests/properties/checker/tricky_targets.py:NAME``,
as a user would.

Backend-generic targets (first parameter ``ops``) are also seen by the rule-level prover.
"""

from __future__ import annotations

import random

import numpy as np


def _mix(ops, dists, weights):
    total = sum(weights)
    return sum(p * w for p, w in zip(dists, weights)) / total


# -- backend-generic rules (the prover traces them) -------------------------------------------

def py_branch(ops, dists, bids, reference=None, weight=0):
    """Linear, except that a bid of exactly 1 counts as 0.1 (a Python ``if`` on a bid)."""
    w = [0.1 if b == 1 else b for b in bids]
    return _mix(ops, dists, w)


def np_where_zero(ops, dists, bids, reference=None, weight=0):
    """Linear, except that a bid of 0 counts as 5 (``np.where`` on a bid)."""
    w = [np.where(b == 0, 5.0, b) for b in bids]
    return _mix(ops, dists, w)


def np_maximum_dip(ops, dists, bids, reference=None, weight=0):
    """Weight ``max(1 - b, b)``: falls while the bid rises from 0 to 0.5."""
    w = [np.maximum(1 - b, b) for b in bids]
    return _mix(ops, dists, w)


def np_clip_cap(ops, dists, bids, reference=None, weight=0):
    """Weight ``clip(b, 0, 1) - clip(b - 2, 0, 1)``: falls back to 0 between bids 2 and 3."""
    w = [np.clip(b, 0, 1) - np.clip(b - 2, 0, 1) + 1e-3 for b in bids]
    return _mix(ops, dists, w)


def positive_zero(ops, dists, bids, reference=None, weight=0):
    """A zero bid counts as 1 (``ops.is_positive``): bid 0 beats a small positive bid."""
    w = [b if ops.is_positive(b) else 1.0 for b in bids]
    return _mix(ops, dists, w)


def rare_literal(ops, dists, bids, reference=None, weight=0):
    """Linear, except that the bid 0.37 exactly counts as 0.001."""
    w = [0.001 if b == 0.37 else b for b in bids]
    return _mix(ops, dists, w)


def size_dependent(ops, dists, bids, reference=None, weight=0):
    """Linear for up to 3 agents; from 4 agents on, the weights are reversed (1 / (1 + b))."""
    if len(dists) >= 4:
        w = [1 / (1 + b) for b in bids]
    else:
        w = list(bids)
    return _mix(ops, dists, w)


# -- numpy rules ------------------------------------------------------------------------------

def vocab_dependent(dists, bids):
    """Linear for V <= 5; from 6 tokens on, each agent's weight is 1 / (1 + b)."""
    P, b = np.asarray(dists, float), np.asarray(bids, float)
    w = 1.0 / (1.0 + b) if P.shape[1] >= 6 else b
    return w @ P / w.sum()


def python_threshold(dists, bids):
    """Linear, except that an agent bidding above 2.5 is capped to weight 0.2."""
    P, b = np.asarray(dists, float), np.asarray(bids, float)
    w = np.array([0.2 if x > 2.5 else x for x in b])
    if w.sum() <= 0:
        w = b
    return w @ P / w.sum()


def squared_weights(dists, bids):
    """Weight b**2: overflows (inf / inf = NaN) for bids around 1e154 and above."""
    P, b = np.asarray(dists, float), np.asarray(bids, float)
    w = b ** 2
    return w @ P / w.sum()


def hellinger_pool(dists, bids):
    """Hellinger pooling q ~ (sum_j w_j sqrt(p_j))^2: not monotone under l2."""
    P, b = np.asarray(dists, float), np.asarray(bids, float)
    r = (b / b.sum()) @ np.sqrt(P)
    q = r * r
    return q / q.sum()


_RNG = random.Random()


def nondeterministic(dists, bids):
    """Linear or (at random) reversed weights: a different answer for the same input."""
    P, b = np.asarray(dists, float), np.asarray(bids, float)
    w = b if _RNG.random() < 0.5 else 1.0 / (1.0 + b)
    return w @ P / w.sum()


def always_raises(dists, bids):
    """Raises on every call."""
    raise RuntimeError("model backend unavailable")


def returns_scalar(dists, bids):
    """Returns a number, not a distribution."""
    return 1.0


# -- payment rules -------------------------------------------------------------------------------

def slate_share(rule, dists, bids):
    """Each agent pays its share b_i / sum(b) of a unit slate price: more than its bid
    whenever the bids sum below 1."""
    b = np.asarray(bids, float)
    return b / b.sum()


def payment_raises(rule, dists, bids):
    """A payment rule that raises on every call."""
    raise RuntimeError("billing service unavailable")


slate_share.kind = "payment"
payment_raises.kind = "payment"
