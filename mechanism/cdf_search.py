"""Inverse-CDF search without the whole cumulative sum (theory §6: every sampler draws a
token as the first index whose cumulative weight exceeds a uniform point).

:func:`cumsum_search` finds ``np.searchsorted(np.cumsum(w), x, side="right")`` from block
sums; :func:`pair_search` does it for the two weight vectors ``a + d`` and ``a - d`` of the
two-agent coupling (``d = p_1 - p_2``, ``a = |d|``) from one pass over ``d`` and ``a``,
without writing either vector.

Why the index is the sequential one: every partial sum computed here is within
``delta = 2 V 2^-53 scale`` of the sequential one (``scale`` bounds the sum of the absolute
terms; recursive summation of ``k`` terms errs by at most ``k 2^-53`` times their absolute
sum, for any order), and the sequential sums never decrease; so when ``x`` lies more than
``4 delta`` from both neighbouring partial sums, the sequential search gives the same index.
Otherwise (probability about ``8 delta``), for short or non-finite weights and for more than
8 points, the sequential cumulative sum is computed and searched.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInput

#: Tokens per block.
BLOCK = 512
#: Relative rounding of float64.
_U = 2.0 ** -53


def cumsum_search(w: np.ndarray, xs, scaled: bool = False) -> np.ndarray:
    """``np.searchsorted(np.cumsum(w), x, side="right")`` for each ``x`` of ``xs`` (times
    ``cumsum(w)[-1]`` when ``scaled``), for non-negative ``w``: the same indices as the
    sequential cumulative sum, without computing it whole (block sums locate the block, one
    block's cumulative sum the token)."""
    xs = np.atleast_1d(np.asarray(xs, dtype=np.float64))
    V = len(w)
    nb = V // BLOCK
    if nb < 4 or len(xs) > 8:  # short rows, many uniforms: one sequential pass is cheaper
        return sequential_search(w, xs, scaled)
    ends = np.cumsum(_block_sums(w, nb))
    total = float(ends[-1])
    if not 0.0 < total < np.inf:  # NaN fails too
        return sequential_search(w, xs, scaled)  # raises the clear error
    out = _locate(ends, xs * total if scaled else xs, total, V, lambda lo: w[lo:lo + BLOCK])
    return sequential_search(w, xs, scaled) if out is None else out


def pair_search(d: np.ndarray, a: np.ndarray, u_plus: float, u_minus: float) -> tuple[int, int]:
    """``(cumsum_search(a + d, u_plus, scaled=True)[0], cumsum_search(a - d, u_minus,
    scaled=True)[0])`` for ``a = |d|`` (the weights ``2 max(+-d, 0)``, each exact): the block
    sums of ``d`` and ``a`` serve both searches (``a +- d`` blockwise, clipped at 0, err by
    at most ``(2 BLOCK + 2) 2^-53`` times the block's sum of ``a``; with the block cumulative
    sums that is within ``delta`` for ``scale = 2 sum a`` and ``V >= 4 BLOCK``); only the
    block holding the point is formed."""
    V = len(d)
    nb = V // BLOCK
    if nb >= 4:
        bd, ba = _block_sums(d, nb), _block_sums(a, nb)
        scale = 2.0 * float(ba.sum())
        found = []
        for sign, u in ((1.0, u_plus), (-1.0, u_minus)):
            ends = np.cumsum(np.maximum(ba + sign * bd, 0.0))
            total = float(ends[-1])
            if not (0.0 < total < np.inf and 0.0 < scale < np.inf):
                break
            at = _locate(ends, np.array([u * total]), scale, V,
                         lambda lo, s=sign: a[lo:lo + BLOCK] + s * d[lo:lo + BLOCK])
            if at is None:
                break
            found.append(int(at[0]))
        if len(found) == 2:
            return found[0], found[1]
    return draw(a + d, u_plus), draw(a - d, u_minus)


def draw(weights: np.ndarray, u: float) -> int:
    """Inverse-CDF draw from unnormalized non-negative weights (no normalized copy):
    :func:`cumsum_search` of ``u`` scaled by the total, or the last token with weight when
    the point lies past the end by round-off."""
    t = int(cumsum_search(weights, u, scaled=True)[0])
    return t if t < len(weights) else int(np.flatnonzero(weights > 0)[-1])


def _block_sums(w: np.ndarray, nb: int) -> np.ndarray:
    """The sums of ``w``'s ``nb`` blocks of BLOCK tokens and of the tail (``nb + 1`` sums)."""
    sums = np.empty(nb + 1)
    np.einsum("ij->i", w[:nb * BLOCK].reshape(nb, BLOCK), out=sums[:nb])
    sums[nb] = w[nb * BLOCK:].sum() if len(w) > nb * BLOCK else 0.0
    return sums


def _locate(ends, points, scale: float, V: int, block):
    """The indices of ``points`` from the block cumulative sums ``ends`` and ``block(lo)``
    (the weights of the block starting at token ``lo``), or None where a point lies within
    the margin of a partial sum (the caller searches sequentially)."""
    margin = 4.0 * (2.0 * V * _U * scale)
    nb = len(ends) - 1
    out = np.empty(len(points), dtype=np.int64)
    for k, xk in enumerate(points.tolist()):
        blk = int(ends.searchsorted(xk, side="right"))
        if blk > nb:
            return None
        lo = blk * BLOCK
        base = float(ends[blk - 1]) if blk else 0.0
        c = np.cumsum(block(lo))
        c += base
        j = int(c.searchsorted(xk, side="right"))
        below = float(c[j - 1]) if j else base
        if j >= len(c) or xk - below <= margin or float(c[j]) - xk <= margin:
            return None
        out[k] = lo + j
    return out


def sequential_search(w, xs, scaled) -> np.ndarray:
    """The reference: the whole cumulative sum, searched (a clear error for weights whose
    total is not a positive finite number)."""
    xs = np.atleast_1d(np.asarray(xs, dtype=np.float64))
    c = np.cumsum(w)
    if not np.isfinite(c[-1]) or c[-1] <= 0:
        raise InvalidInput(f"cannot sample from a vector whose total is {c[-1]!r}; pass a "
                           "distribution (finite, non-negative, summing to 1)", value=None)
    return np.searchsorted(c, xs * c[-1] if scaled else xs, side="right").astype(np.int64)
