"""Where a comparison of the generated float64 code flips, as a function of one bid
(docs/theory.md section 8). A branch ``ite(l > r, a, b)`` whose threshold is no constant
of the tree (``b * b > C`` flips at ``sqrt(C)``; ``b * b > 0`` at the bid where ``b * b``
underflows) is a place where the code that runs may jump while its exact-real tree does
not; the float64 searches after a proof must look there (refute only).

:func:`flip_bids` scans a grid of bids (every power of ten from ``1e-308`` to ``1e308``,
the smallest subnormals and the caller's own points), evaluates each comparison's two
sides with the SAME generated code (:func:`proofs.compile.evaluate.numpy_values`), and
bisects in float64 (on the bit patterns, so to two adjacent floats) between grid points
where a condition changes. It returns those floats with a few ulps and a relative
``1e-9`` on each side. A flip that changes more than once between two grid points may be
missed: the search that uses these bids is a refuter, never a proof.
"""

from __future__ import annotations

import numpy as np

from proofs.compile import tree as T

#: every power of ten of the float64 range, 0 and the smallest subnormals
GRID = np.unique(np.concatenate([[0.0, 5e-324, 1e-320, 1e-310],
                                 10.0 ** np.arange(-308, 309, dtype=np.float64)]))
ULPS = 3            #: the adjacent floats kept on each side of a flip
REL = 1e-9          #: and a relative step on each side
MAX_FLIPS = 256     #: intervals bisected per call (a refuter: a cap costs no soundness)


def comparisons(trees) -> list[tuple]:
    """``(cmp, lhs, rhs)`` of every ``ite`` in ``trees`` (each once)."""
    out, seen = [], set()
    for t in trees:
        for m in T.walk(t):
            if m.op == "ite" and id(m.args[0]) not in seen:
                seen.add(id(m.args[0]))
                out.append(m.args[0])
    return out


def conditions(cmps, sides_at):
    """A function of bids ``x`` (1-d) -> bool array ``(len(cmps), len(x))``: each condition
    as the code evaluates it; ``sides_at(nodes, x)`` gives the nodes' float64 values."""
    nodes = [s for c in cmps for s in (c[1], c[2])]

    def cond(x):
        vals = [np.broadcast_to(np.asarray(v, dtype=np.float64), x.shape)
                for v in sides_at(nodes, x)]
        rows = [vals[2 * k] > vals[2 * k + 1] if c[0] == "gt" else
                vals[2 * k] >= vals[2 * k + 1] for k, c in enumerate(cmps)]
        return np.stack(rows) if rows else np.zeros((0, len(x)), dtype=bool)
    return cond


def _bits(x):
    return np.asarray(x, dtype=np.float64).view(np.int64)


def _floats(i):
    return np.asarray(i, dtype=np.int64).view(np.float64)


def flip_bids(cond, extra=()) -> np.ndarray:
    """The bids next to each flip of ``cond`` (:func:`conditions`) on the grid (module
    docstring) and ``extra``: sorted, finite, ``>= 0``; empty when nothing flips."""
    grid = np.unique(np.concatenate([GRID, np.asarray(list(extra), dtype=np.float64)]))
    grid = grid[np.isfinite(grid) & (grid >= 0)]
    c = cond(grid)
    if not c.size:
        return np.zeros(0)
    rows, cols = np.nonzero(c[:, 1:] != c[:, :-1])
    rows, cols = rows[:MAX_FLIPS], cols[:MAX_FLIPS]
    if not len(rows):
        return np.zeros(0)
    lo, hi = _bits(grid[cols]), _bits(grid[cols + 1])
    at_lo = c[rows, cols]
    for _ in range(70):   # the bit patterns of floats >= 0 are ordered like the floats
        open_ = hi - lo > 1
        if not open_.any():
            break
        mid = lo + (hi - lo) // 2
        same = cond(_floats(mid))[rows, np.arange(len(rows))] == at_lo
        lo, hi = np.where(open_ & same, mid, lo), np.where(open_ & ~same, mid, hi)
    pts = [_floats(lo + d) for d in range(-ULPS, 1)] + \
        [_floats(hi + d) for d in range(0, ULPS + 1)]
    pts += [_floats(lo) * (1 - REL), _floats(hi) * (1 + REL)]
    out = np.unique(np.concatenate(pts))
    return out[np.isfinite(out) & (out >= 0)]
