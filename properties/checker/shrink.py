"""Minimizing counterexamples: fewest agents, fewest tokens, round numbers.

A counterexample is a dict (see :mod:`properties.report`); ``verify(cex)`` re-runs the
property on the numpy reference and returns the refreshed dict while the violation
persists, else None. :func:`shrink` applies greedy simplifications until none helps:

1. drop an agent other than the distinguished one;
2. drop a token (rows renormalized) or merge two adjacent tokens (unless V is fixed);
3. round probabilities to 0, 1, 2, 3 decimals (staying on the simplex);
4. round bids (and ``bid_from``/``bid_to``) to integers, halves, 1 and 2 decimals.

A simpler counterexample is kept only while its violation stays well above the tolerance:
when ``verify`` reports a ``margin`` (how much the property fails by), a candidate must keep
at least :data:`KEEP_MARGIN` of the original margin, so a clear violation never shrinks into
one that reads like rounding noise (once, 1.7e-3 had become 2.4e-8).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from mechanism.arith import round_simplex as exact_round_simplex

DIST_KEYS = ("dists", "dists_to")   #: (n, V) arrays that follow agent and token edits
VEC_KEYS = ("p_alt",)                #: (V,) vectors that follow token edits
ROUND_TO = (1.0, 2.0, 0.5, 3.0, 10.0, 0.1)
ROUND_FROM = (0.0, 1.0, 0.5, 2.0)
#: Share of the original violation margin a shrunk counterexample must keep.
KEEP_MARGIN = 0.1


def round_simplex(p: np.ndarray, decimals: int, fix: int | None = None) -> np.ndarray | None:
    """``p`` rounded to ``decimals`` places, fixed up on entry ``fix`` (default: the
    largest) to sum to 1; None when that leaves the simplex."""
    r = exact_round_simplex(np.asarray(p, dtype=float), 10 ** decimals, fix)
    if r is None:
        return None
    r = np.array([float(x) for x in r])
    return r if abs(r.sum() - 1.0) <= 1e-12 else None


def _round_num(x: float, step: float) -> float:
    return float(np.round(x / step) * step)


def _with(cex: dict, **kw) -> dict:
    out = dict(cex)
    out.update(kw)
    return out


def _drop_agent(cex, j):
    agent = cex.get("agent")
    if agent is not None and j == agent:
        return None
    n = len(cex["bids"])
    if n <= 1:
        return None
    kw = {k: np.delete(cex[k], j, axis=0) for k in DIST_KEYS if cex.get(k) is not None}
    kw["bids"] = np.delete(cex["bids"], j)
    if agent is not None and j < agent:
        kw["agent"] = agent - 1
    for key in ("bids_from", "bids_to"):
        if cex.get(key) is not None:
            kw[key] = np.delete(cex[key], j)
    return _with(cex, **kw)


def _map_tokens(cex, f):
    kw = {}
    for k in VEC_KEYS:
        if cex.get(k) is not None:
            v = f(np.asarray(cex[k], dtype=float)[None, :])[0]
            if v.sum() <= 0:
                return None
            kw[k] = v / v.sum()
    for k in DIST_KEYS:
        if cex.get(k) is None:
            continue
        D = f(np.asarray(cex[k], dtype=float))
        s = D.sum(axis=1)
        if np.any(s <= 0):
            return None
        kw[k] = D / s[:, None]
    return _with(cex, **kw)


def _candidates(cex: dict, fixed_vocab: bool):
    n = len(cex["bids"])
    for j in reversed(range(n)):
        yield _drop_agent(cex, j)
    V = np.asarray(cex["dists"]).shape[1]
    if not fixed_vocab and V > 2:
        for t in reversed(range(V)):
            yield _map_tokens(cex, lambda D, t=t: np.delete(D, t, axis=1))
        for t in range(V - 1):
            yield _map_tokens(cex, lambda D, t=t: np.concatenate(
                [D[:, :t], D[:, t:t + 2].sum(axis=1, keepdims=True), D[:, t + 2:]], axis=1))
    if not cex.get("_no_round_dists"):
        for d in (0, 1, 2, 3):
            rows = [round_simplex(p, d) for p in cex["dists"]]
            if all(r is not None for r in rows) and not np.array_equal(np.array(rows),
                                                                      cex["dists"]):
                yield _with(cex, dists=np.array(rows))
            for i in range(len(rows)):   # one row at a time, fixed up on each entry
                row = np.asarray(cex["dists"][i], dtype=float)
                for fix in [None] + list(range(len(row))):
                    r = round_simplex(row, d, fix)
                    if r is not None and not np.array_equal(r, row):
                        D = np.array(cex["dists"], dtype=float)
                        D[i] = r
                        yield _with(cex, dists=D)
    if not cex.get("_no_round_bids"):
        for step in (1.0, 0.5, 0.1, 0.01):
            b = np.array([_round_num(x, step) for x in cex["bids"]])
            if not np.array_equal(b, cex["bids"]):
                yield _with(cex, bids=b)
            for key in ("bid_from", "bid_to"):
                x = cex.get(key)
                if x is not None and _round_num(x, step) != x:
                    yield _with(cex, **{key: _round_num(x, step)})
        if cex.get("bid_from") not in (None, 0.0):
            yield _with(cex, bid_from=0.0)
        for key, values in (("bid_to", ROUND_TO), ("bid_from", ROUND_FROM)):
            if cex.get(key) is not None:
                for v in values:
                    if v != cex[key]:
                        yield _with(cex, **{key: v})


def _size(cex) -> tuple:
    D = np.asarray(cex["dists"])
    digits = 0
    for x in list(D.ravel()) + list(cex["bids"]) + [cex.get("bid_from") or 0,
                                                     cex.get("bid_to") or 0]:
        s = repr(float(x))
        digits += len(s)
    return (D.shape[0], D.shape[1], digits)


def shrink(cex: dict, verify: Callable[[dict], dict | None], *, fixed_vocab: bool = False,
           budget_s: float = 10.0, max_calls: int = 600) -> dict:
    """Greedy minimization of ``cex`` while ``verify`` still finds the violation."""
    t0 = time.perf_counter()
    calls = 0
    best = cex
    m0 = cex.get("margin")
    floor = KEEP_MARGIN * float(m0) if m0 is not None and np.isfinite(m0) else None
    improved = True
    while improved and calls < max_calls and time.perf_counter() - t0 < budget_s:
        improved = False
        for cand in _candidates(best, fixed_vocab):
            if cand is None:
                continue
            if calls >= max_calls or time.perf_counter() - t0 >= budget_s:
                break
            calls += 1
            try:
                got = verify(cand)
            except Exception:
                got = None
            if got is not None and floor is not None and not got.get("margin", 0.0) >= floor:
                got = None
            if got is not None and _size(got) < _size(best):
                best = got
                improved = True
                break
    best = dict(best)
    best["shrink_calls"] = calls
    return best


def fmt(x) -> str:
    """Numbers and arrays for reproductions, round-trip exact (``repr`` of each float), so a
    pasted reproduction evaluates the target on exactly the input that failed."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return repr(x) if np.isfinite(x) else f"float({repr(x)!r})"
    if isinstance(x, np.integer):
        return repr(int(x))
    return repr(x)
