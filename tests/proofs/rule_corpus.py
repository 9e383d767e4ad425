"""Tricky backend-generic rules for the rule-level prover (prover side).

Every rule here is NOT monotone for the box order somewhere inside the prover's default
scope (n <= 3 agents, V <= 4 tokens, real bids >= 0); each exposes one way a capture can
silently pick a branch or drop part of the domain. They are plain ``Rule`` objects (their
evaluation is the user's function), so the prover compiles them but can never say PROVED.
``EXPECT`` says which verdict it must give (REFUTED: the rule compiles and the violation is
confirmed on the code that runs; UNKNOWN: it cannot be compiled exactly, and the reason must
contain the given words). tests/proofs/generic_corpus.py holds the compiled targets.
"""

from __future__ import annotations

import random

import numpy as np

from mechanism.rules import Rule


def _pool(dists, weights):
    total = sum(weights)
    return sum(p * w for p, w in zip(dists, weights)) / total


def py_branch_eq(ops, dists, bids, reference=None, weight=0):
    """Python branch on a bid: ``b == 1`` is never true for a z3 variable."""
    return _pool(dists, [0.1 if b == 1 else b for b in bids])


def np_where_zero(ops, dists, bids, reference=None, weight=0):
    """A zero bid counts as 5 (np.where on a bid)."""
    return _pool(dists, [np.where(b == 0, 5.0, b) for b in bids])


def np_where_array(ops, dists, bids, reference=None, weight=0):
    """np.where on the array of bids (object array of symbolic values)."""
    w = np.where(np.asarray(bids) == 0, 5.0, np.asarray(bids))
    return _pool(dists, list(w))


def np_maximum(ops, dists, bids, reference=None, weight=0):
    """Weight max(1 - b, b): falls from 1 to 1/2 as b goes from 0 to 1/2."""
    return _pool(dists, [np.maximum(1 - b, b) for b in bids])


def np_clip(ops, dists, bids, reference=None, weight=0):
    """Weight clip(2 - b, 0.1, 1): decreasing in the bid above 1."""
    return _pool(dists, [np.clip(2 - b, 0.1, 1.0) for b in bids])


def positive_at_zero(ops, dists, bids, reference=None, weight=0):
    """A zero bid gets weight 1 (``is_positive`` decides it): bid 0 is the violation."""
    return _pool(dists, [b if ops.is_positive(b) else 1.0 for b in bids])


def rare_literal_branch(ops, dists, bids, reference=None, weight=0):
    """A Python branch on a rare literal."""
    return _pool(dists, [0.0 if b == 0.37 else b for b in bids])


def rare_literal_ite(ops, dists, bids, reference=None, weight=0):
    """The same threshold written with ops.ite on ``==`` (refused: write ops.gt / ops.ge)."""
    return _pool(dists, [ops.ite(b == 0.37, 0.0, b) for b in bids])


def rare_literal_hidden(ops, dists, bids, reference=None, weight=0):
    """Concrete floats only: a bid of exactly 0.37 weighs 0 (isinstance on a symbol: refused)."""
    return _pool(dists, [0.0 if isinstance(b, float) and b == 0.37 else b for b in bids])


def hidden_interval(ops, dists, bids, reference=None, weight=0):
    """Concrete floats only: bids strictly between 0.5 and 0.6 weigh 0 (no literal inside)."""
    return _pool(dists, [0.0 if isinstance(b, float) and 0.5 < b < 0.6 else b for b in bids])


def by_agents(ops, dists, bids, reference=None, weight=0):
    """Size-dependent: with 3 agents the weights are 1 / (1 + b) (decreasing)."""
    if len(dists) == 3:
        return _pool(dists, [1 / (1 + b) for b in bids])
    return _pool(dists, bids)


def by_tokens(ops, dists, bids, reference=None, weight=0):
    """Size-dependent: with 4 tokens the weights are 1 / (1 + b) (decreasing)."""
    if len(dists[0]) == 4:
        return _pool(dists, [1 / (1 + b) for b in bids])
    return _pool(dists, bids)


def always_raises(ops, dists, bids, reference=None, weight=0):
    """A rule that raises on every call."""
    raise RuntimeError("this rule is broken")


def returns_scalar(ops, dists, bids, reference=None, weight=0):
    """A rule that returns a scalar, not a distribution."""
    return bids[0] / (bids[0] + 1)


def nondeterministic(ops, dists, bids, reference=None, weight=0):
    """Linear with weights scaled by a fresh random factor per agent, zero weights dropped
    (nondeterministic: the capture's re-run for the case split sees another rule)."""
    ws = [b * (1 + 10 * random.random()) for b in bids]
    kept = [(p, w) for p, w in zip(dists, ws) if ops.is_positive(w)]
    return _pool([p for p, _ in kept], [w for _, w in kept])


def float_conversion(ops, dists, bids, reference=None, weight=0):
    """Concretizes a bid with float() (1 / (1 + b): decreasing)."""
    return _pool(dists, [1 / (1 + float(b)) for b in bids])


def branch_on_probability(ops, dists, bids, reference=None, weight=0):
    """A Python branch on a reported probability."""
    return _pool(dists, [b if p[0] > 0.5 else 1 / (1 + b) for p, b in zip(dists, bids)])


def absolute_value(ops, dists, bids, reference=None, weight=0):
    """Weight |b - 1| + 0.01 (abs is liftable: falls until b = 1)."""
    return _pool(dists, [abs(b - 1) + 0.01 for b in bids])


def exp_weight(ops, dists, bids, reference=None, weight=0):
    """Weight exp(-b) by numpy on a symbol (refused)."""
    return _pool(dists, [np.exp(-b) for b in bids])


#: name -> (generic function, expected verdict, words the reason must contain)
EXPECT = {
    "py_branch_eq": (py_branch_eq, "UNKNOWN", "`==` on a symbol"),
    "np_where_zero": (np_where_zero, "UNKNOWN", "`==` on a symbol"),
    "np_where_array": (np_where_array, "UNKNOWN", "numpy array of symbols"),
    "np_maximum": (np_maximum, "UNKNOWN", "numpy function"),
    "np_clip": (np_clip, "UNKNOWN", "numpy array of symbols"),
    "positive_at_zero": (positive_at_zero, "REFUTED", ""),
    "rare_literal_branch": (rare_literal_branch, "UNKNOWN", "`==` on a symbol"),
    "rare_literal_ite": (rare_literal_ite, "UNKNOWN", "`==` on a symbol"),
    "rare_literal_hidden": (rare_literal_hidden, "UNKNOWN", "isinstance"),
    "hidden_interval": (hidden_interval, "UNKNOWN", "isinstance"),
    "by_agents": (by_agents, "REFUTED", ""),
    "by_tokens": (by_tokens, "REFUTED", ""),
    "always_raises": (always_raises, "UNKNOWN", "raised RuntimeError"),
    "returns_scalar": (returns_scalar, "UNKNOWN", "not a vector"),
    "nondeterministic": (nondeterministic, "UNKNOWN", "decides differently"),
    "float_conversion": (float_conversion, "UNKNOWN", "float()"),
    "branch_on_probability": (branch_on_probability, "UNKNOWN", "ops.ite"),
    "absolute_value": (absolute_value, "REFUTED", ""),
    "exp_weight": (exp_weight, "UNKNOWN", "numpy function"),
}


def corpus_rule(name: str) -> Rule:
    return Rule(name, EXPECT[name][0], claims={})
