"""A float64 search for violations of the code that runs, after z3 proved the compiled
tree in exact reals (docs/theory.md, section 4). It can only REFUTE: the float64 code may
differ from its exact-real tree (``b*b - (b-1)*(b+1)`` is 1 in reals, 0 in float64 from
about 1e8). Candidate bids: small numbers, every power of ten up to 1e308, the tree's
constants and their float neighbours, and, per distribution and base profile, the bids
where a branch's condition flips in the generated code (:func:`_with_flips`; ``b * b > C``
flips at no constant of the tree); each agent's bid moves between every two of them on
seeded distributions, so the code is compared on both sides of each flip. A violation
counts only beyond a margin (probabilities are scale-free: :data:`MARGIN`) and after it is
re-run one profile at a time and confirmed with
:func:`proofs.bounded.counterexamples.numpy_violation`.

The search is the same on every machine: a fixed list of sizes, distributions, bases and
candidate bids in a fixed order (:data:`MAX_BATCHES` rule calls at most), never cut by a
clock; so its verdict does not depend on the machine's load. Only the proof's own budget
(:class:`proofs.bounded.budget.Budget`: CPU time, itself load-independent) can stop it, and
then :func:`refute` says so (:data:`UNFINISHED`): the caller must not report PROVED on a
search that did not run.
"""

from __future__ import annotations


import numpy as np

from proofs.bounded.counterexamples import numpy_violation, smoothed_report
from proofs.compile import evaluate as E
from proofs.compile import flips
from proofs.compile.generic_rule import GenericRule, leaf_values, sealed

MARGIN = 1e-9
#: The most batched rule calls one search makes (each one agent's whole candidate list).
MAX_BATCHES = 96
#: :func:`refute`'s answer when the proof's budget stopped the search before its end.
UNFINISHED = "unfinished"
BASE = (0.0, 1e-12, 1e-6, 0.001, 0.1, 0.5, 1.0, 2.0, 3.0, 10.0)
DISTS_PER_SIZE = 3


def candidates(constants) -> np.ndarray:
    tens = [10.0 ** k for k in range(3, 309, 3)] + [1.7e308]
    return np.unique(np.array([x for x in list(BASE) + tens + list(constants)
                               if np.isfinite(x) and x >= 0], dtype=np.float64))


def _out_of_box(p, qf, qt) -> np.ndarray:
    """``[a, b]``: q_t(b) leaves the box between q_t(a) and p (beyond MARGIN)."""
    lo, hi = np.minimum(qf[:, None, :], p), np.maximum(qf[:, None, :], p)
    return ((qt[None, :, :] < lo - MARGIN) | (qt[None, :, :] > hi + MARGIN)).any(axis=-1)


def _dists(n, V, rng):
    out = [np.full((n, V), 1.0 / V)]
    for _ in range(DISTS_PER_SIZE):
        P = rng.dirichlet(np.ones(V), size=n)
        out.append(P)
    return out


def rows(rule, P, B) -> np.ndarray:
    """``q`` per bid row; a row the code declines or fails on is NaN (never a violation).
    A sealed compiled rule answers in one call with the rows where its float64 code runs
    (:meth:`GenericRule.code_rows`); NaN where it runs the exact tree instead, which is the
    tree z3 proved, rounded once (searching those rows would only recompute the proof, at
    about 1 ms a row of exact rationals). Any other rule in one batched call, and where
    that fails (a row declined) its rows one at a time on ``evaluate``."""
    try:
        if sealed(rule) is None:
            return rule.code_rows(P, B)
        return np.asarray(rule.batch(P, B), dtype=np.float64)
    except Exception:  # noqa: BLE001 - one row declined: the rows one at a time
        out = np.full((len(B), P.shape[1]), np.nan)
        for k, row in enumerate(B):
            try:
                out[k] = rule.evaluate(P, row)
            except Exception:  # noqa: BLE001 - the code that runs may be the user's
                pass
        return out


def _with_flips(trees, P, i, base, bids) -> np.ndarray:
    """``bids`` and the bids of agent ``i`` (the others at ``base``) next to which a
    comparison of ``trees`` (a :class:`GenericRule`: the generated code) flips
    (:func:`proofs.compile.flips.flip_bids`); ``bids`` alone without trees."""
    if not isinstance(trees, GenericRule):
        return bids
    try:
        Ps, ref = trees.smoothed(P)
        compiled = trees.trees(P.shape[0], P.shape[1], ref is not None)
    except Exception:  # noqa: BLE001 - a size not compiled: rows() declines it too
        return bids
    cmps = flips.comparisons(compiled)
    if not cmps:
        return bids
    leaves = leaf_values(Ps, ref, float(trees.weight))

    def sides(nodes, x):
        B = np.repeat(base[None, :], len(x), axis=0)
        B[:, i] = x
        return E.numpy_values(nodes, B, leaves)
    extra = flips.flip_bids(flips.conditions(cmps, sides), bids)
    return np.unique(np.concatenate([bids, extra]))


def _violation(rule, P, i, base, bids, prop):
    B = np.repeat(base[None, :], len(bids), axis=0)
    B[:, i] = bids
    Q = rows(rule, P, B)
    bad = _out_of_box(smoothed_report(rule, P, i), Q, Q)
    if prop == "consistent":
        bad = bad & bad.T
    bad &= bids[:, None] < bids[None, :]
    hits = np.argwhere(bad)
    return None if not len(hits) else hits


def _plan(pairs, seed):
    """The search's fixed work list, smallest sizes first, at most MAX_BATCHES items."""
    plan = []
    for n, V in sorted(pairs, key=lambda nv: (nv[0] * nv[1], nv)):
        if len(plan) >= MAX_BATCHES:
            break
        rng = np.random.default_rng([seed, n, V])
        plan += [(P, i, base) for P in _dists(n, V, rng) for i in range(n)
                 for base in (np.ones(n), np.full(n, 1e8))]
    return plan[:MAX_BATCHES]


def refute(rule, prop, order, pairs, constants, budget, seed=0, trees=None):
    """A confirmed counterexample dict of the float64 code ``rule``; None when the whole
    fixed search found none; :data:`UNFINISHED` when ``budget``
    (:class:`proofs.bounded.budget.Budget`) was spent first. ``trees``: the compiled
    :class:`GenericRule` whose comparisons' flips are searched (default ``rule``)."""
    base_bids, trees = candidates(constants), rule if trees is None else trees
    for P, i, base in _plan(pairs, seed):
        if budget.spent():
            return UNFINISHED
        bids = _with_flips(trees, P, i, base, base_bids)
        hits = _violation(rule, P, i, base, bids, prop)
        for a, b in (hits if hits is not None else [])[:8]:
            cex = {"dists": P.tolist(), "bids": base.tolist(), "agent": i,
                   "bid_from": float(bids[a]), "bid_to": float(bids[b])}
            try:
                seen = numpy_violation(rule, cex, prop, order)
            except Exception:  # noqa: BLE001 - not confirmed
                continue
            if seen is not None:
                cex.update(q_from=seen[0].tolist(), q_to=seen[1].tolist(),
                           property=prop, order=order)
                return cex
    return None
