"""A float64 search of the generated code after z3 proved general weights in exact reals
(docs/theory.md section 8). It can only REFUTE: the code that runs may differ from its
exact-real tree (``(b + 0.7) - 0.7 >= b`` holds in reals, not at every float64 bid; ``b + 1
> b`` fails from ``2**53``).

For each n up to the proved bound and each agent i, the other agents bid a few values
(0, 1, 3 and the bids where a comparison of the weight trees flips, uniform or one at a
time) and agent i's bid runs over a fixed path: 0, a log grid over the float64 range, a
linear grid, the trees' constants and their float neighbours, and the flip bids of every
comparison of the trees along agent i's bid, for every profile of the others
(:func:`proofs.compile.flips.flip_bids`). Reports: a few fixed matrices on two tokens
(agent i on token 0 or on ``(1/2, 1/2)``, the others on token 1, or alternating). Each
path is evaluated in one batched call of the rule's own generated code; consecutive pairs are screened with the order's excess
(box and segment are transitive: consecutive pairs decide MON on the path; for CA they are
only some of the pairs), and a pair is reported only after it is re-run alone and the
order itself (:func:`mechanism.orders.prefers`) rejects it.
"""

from __future__ import annotations

import itertools

import numpy as np

from mechanism.orders import ORDER_TOL, box_excess, prefers

from proofs.compile import evaluate as E
from proofs.compile import flips

OTHERS = (0.0, 1.0, 3.0)       #: the others' bids, every combination
MAX_VALUES = 6                 #: flip bids also used as the others' bids (uniform, one at a time)
PATH = np.unique(np.concatenate([[0.0], np.logspace(-300, 300, 301), np.linspace(0, 20, 81),
                                 2.0 ** np.arange(-10, 64)]))
MIN_BLOCK = 4                  #: rows left unevaluated together where the code declines
MAX_ROWS = 100_000             #: bid rows evaluated per (n, agent, report matrix), at most


def _reports(n, i, V):
    """The fixed report matrices for agent i among n (V tokens, zero-padded)."""
    out = []
    for mine, alt in (([1.0, 0.0], False), ([0.5, 0.5], False), ([0.5, 0.5], True)):
        P = np.zeros((n, V))
        for j in range(n):
            P[j, :2] = mine if j == i else ([1.0, 0.0] if alt and j % 2 else [0.0, 1.0])
        out.append(P)
    return out


def _profiles(n, i, values):
    """The others' bid profiles (agent i's column is set along the path)."""
    if n == 1:
        return np.zeros((1, 1))
    rows = {tuple(c) for c in itertools.product(OTHERS, repeat=n - 1)}
    for v in values:
        rows.add((v,) * (n - 1))
        rows.update(tuple(v if k == m else 1.0 for k in range(n - 1)) for m in range(n - 1))
    others = np.array(sorted(rows), dtype=np.float64)
    return np.insert(others, i, 0.0, axis=1)


def _flip_bids(trees, i, profiles, extra):
    """Agent i's bids next to a flip of a comparison of ``trees``, the others at each
    profile (all profiles searched at once)."""
    cmps = flips.comparisons(trees)
    if not cmps:
        return np.zeros(0)
    K = len(profiles)

    def sides(nodes, X):
        B = np.repeat(profiles[:, None, :], X.shape[-1], axis=1)
        B[:, :, i] = X
        return E.numpy_values(nodes, B)
    inner = flips.conditions(cmps, sides)

    def cond(x):
        c = inner(np.broadcast_to(np.asarray(x, np.float64), (K, len(x))).copy())
        return c.reshape(-1, len(x))
    return flips.flip_bids(cond, extra)


def _defined(rule, B):
    """The bid rows of ``B`` where the float64 code gives the weights (not W = 0, no weight
    inf or NaN): the others the code declines, which are no evidence, or answers by the
    exact tree where the code is not certified (``log_weights(exact=False)``), which is
    the tree the proof is about (recomputing it cost about 50 us a weight in Fractions)."""
    log_lam = None
    if rule.reference is not None and rule.weight > 0:   # as the code that runs passes it
        log_lam = np.full(B.shape[:-1] + (1,), np.log(rule.weight))
    with np.errstate(all="ignore"):
        L, S = (np.asarray(x, float) for x in rule.log_weights(B, log_lam, exact=False))
    ok = ~(np.isnan(L) | np.isnan(S) | (S < 0) | (L == np.inf)).any(-1)
    if rule.reference is None or not rule.weight > 0:
        ok &= (S > 0).any(-1)
    return ok


def _evaluate(rule, P, B, ok):
    """q for each bid row of ``B`` (the runtime's batched code) where ``ok``
    (:func:`_defined`), else NaN; a batch that still fails is halved, down to
    :data:`MIN_BLOCK` rows."""
    out = np.full((len(B), P.shape[1]), np.nan)
    out[ok] = _halving(rule, P, B[ok])
    return out


def _halving(rule, P, B):
    try:
        return np.asarray(rule.batch(P, B), dtype=np.float64).reshape(len(B), -1)
    except Exception:  # noqa: BLE001 - a row declined: no evidence there
        if len(B) <= MIN_BLOCK:
            return np.full((len(B), P.shape[1]), np.nan)
    h = len(B) // 2
    return np.concatenate([_halving(rule, P, B[:h]), _halving(rule, P, B[h:])])


def _screen(p, Q, prop, order):
    """``(profile, k)`` of the consecutive pairs (k, k+1) along the paths ``Q`` (K, m, V)
    that may break ``prop`` under ``order`` (re-checked by :func:`_confirm`)."""
    excess = _segment_excess if order == "segment" else \
        (lambda p, q, qp: box_excess(p, q, qp).max(axis=-1))
    bad = excess(p, Q[:, 1:], Q[:, :-1]) > ORDER_TOL
    if prop == "consistent":
        bad &= excess(p, Q[:, :-1], Q[:, 1:]) > ORDER_TOL
    return np.argwhere(bad & np.isfinite(Q[:, 1:]).all(-1) & np.isfinite(Q[:, :-1]).all(-1))


def _segment_excess(p, q, qp):
    """How far ``q`` lies from the segment ``[qp, p]`` (per token, the largest): the
    distance :func:`mechanism.orders.segment` compares with its tolerance, row by row."""
    d = p - qp
    nd = (d * d).sum(-1)
    with np.errstate(all="ignore"):
        alpha = np.clip(((q - qp) * d).sum(-1) / np.where(nd > 0, nd, 1.0), 0.0, 1.0)
    dist = np.abs(q - qp - alpha[..., None] * d).max(-1)
    return np.where(nd <= ORDER_TOL ** 2, np.abs(q - qp).max(-1), dist)


def _confirm(rule, P, bf, bt, i, prop, order):
    """(q_from, q_to) when the pair, re-run alone on the code that runs, breaks ``prop``."""
    try:
        qf, qt = rule.evaluate(P, bf), rule.evaluate(P, bt)
    except Exception:  # noqa: BLE001 - declined: no evidence
        return None
    p = rule.smoothed(P)[0][i]  # the order is taken for the (smoothed) report, as proved
    bad = not prefers(p, qt, qf, order)
    if prop == "consistent":
        bad = bad and not prefers(p, qf, qt, order)
    return (qf, qt) if bad else None


def _paths(rule, n, i):
    """The others' profiles (K, n) and agent i's sorted path bids for n agents."""
    trees = rule.general_trees(n)
    path = np.unique(np.concatenate([PATH, [c for c in rule.constants() if c >= 0]]))
    first = _flip_bids(trees, i, _profiles(n, i, ()), path)
    pick = first[np.linspace(0, len(first) - 1, min(len(first), MAX_VALUES)).astype(int)] \
        if len(first) else first
    profiles = _profiles(n, i, [float(v) for v in pick if np.isfinite(v)])
    path = np.unique(np.concatenate([path, first, _flip_bids(trees, i, profiles, path)]))
    return profiles, path[np.isfinite(path) & (path >= 0)]


def _search_one(rule, n, i, prop, order, V):
    profiles, path = _paths(rule, n, i)
    K, m = len(profiles), len(path)
    keep = max(1, min(K, MAX_ROWS // max(m, 1)))
    profiles = profiles[np.linspace(0, K - 1, keep).astype(int)] if keep < K else profiles
    B = np.repeat(profiles[:, None, :], m, axis=1)
    B[:, :, i] = path
    flat = B.reshape(-1, n)
    ok = _defined(rule, flat)
    for P in _reports(n, i, V):
        Q = _evaluate(rule, P, flat, ok).reshape(len(profiles), m, -1)
        p = rule.smoothed(P)[0][i]
        hits = _screen(p, Q, prop, order)
        for k, a in hits[:8]:
            bf, bt = B[k, a].copy(), B[k, a + 1].copy()
            got = _confirm(rule, P, bf, bt, i, prop, order)
            if got is not None:
                return {"dists": P.tolist(), "bids": bf.tolist(), "agent": int(i),
                        "bid_from": float(bf[i]), "bid_to": float(bt[i]),
                        "q_from": got[0].tolist(), "q_to": got[1].tolist(),
                        "property": prop, "order": order}
    return None


def refute_general(rule, prop, order, max_agents):
    """A confirmed float64 counterexample dict of the general-weights ``rule`` for some
    n <= ``max_agents`` (module docstring), or None (no proof of anything: a refuter)."""
    V = 2 if rule.reference is None else rule.reference.size
    for n in range(1, max_agents + 1):
        for i in range(n):
            cex = _search_one(rule, n, i, prop, order, V)
            if cex is not None:
                return cex
    return None
