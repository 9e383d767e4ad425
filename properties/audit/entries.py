"""A chunk's stored entries, concatenated, and the per-entry arithmetic of the chunk
filter (:mod:`properties.audit.chunked`): the rows' checks, and the weighted sum
``S = sum_j w_j p_j`` of each step on its support union.

Sparse steps: the union by one sort of ``step V + token`` keys (:func:`unique_inverse`).
A chunk of dense steps (every row stores all ``V`` tokens, as a run's dense steps do):
the union is every token, so ``S`` is a sum of rows, without a sort.
"""

from __future__ import annotations

import sys
from functools import cached_property

import numpy as np

from mechanism.validation import EXACT_TOL

#: The packed keys' two 32-bit halves are read as views (low word first).
LITTLE = sys.byteorder == "little"


def unique_inverse(keys: np.ndarray):
    """``np.unique(keys, return_inverse=True)``: uint32 keys sorted together with their
    positions, packed in one uint64 each (a sort is several times faster than an argsort);
    wider keys by a stable argsort."""
    if keys.dtype == np.uint32 and keys.size < 2 ** 32 and LITTLE:
        packed = keys.astype(np.uint64)
        packed <<= np.uint64(32)
        packed |= np.arange(keys.size, dtype=np.uint64)
        # the keys are runs already sorted (each row's tokens increase, each step's keys
        # lie above the last step's): timsort ("stable") merges the runs, about 4x faster
        # than quicksort here; the packed keys are distinct, so both give the same order
        packed.sort(kind="stable")
        halves = packed.view(np.uint32)        # per element (low, high) words: no copies
        ks, order = halves[1::2], halves[0::2]
    else:
        order = np.argsort(keys, kind="stable")
        ks = keys[order]
    first = np.empty(ks.size, dtype=bool)
    first[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=first[1:])
    # int32 counts when they fit (numpy's running sum of bools into int64 is ~15x slower)
    group = np.cumsum(first, dtype=np.int32 if ks.size < 2 ** 31 else np.int64)
    group -= 1
    inv = np.empty(ks.size, dtype=np.int64)
    inv[order] = group
    return ks[first], inv


class Entries:
    """A chunk's stored entries, concatenated: per entry its token ``idx`` and value
    ``val``; per row (``R`` rows a step) its entry count ``nnz``. Per-entry copies of
    per-row data come by ``np.repeat`` (no division, no fancy indexing)."""

    def __init__(self, items, R: int, dense: bool = False):
        """``dense``: every row of every step stores ``V`` entries (so they are the tokens
        ``0..V-1``: :meth:`rows_ok`)."""
        self.R, self.m, self.dense = R, len(items), dense
        self.nnz = np.concatenate([it.rows.nnz for it in items])                   # (m R,)
        self.idx = np.concatenate([it.rows.idx for it in items])                   # int32
        self.val = np.concatenate([it.rows.val for it in items])

    @cached_property
    def seg(self) -> np.ndarray:
        """The (step, row) of each entry, ``step R + row``."""
        return self.repeat(np.arange(self.m * self.R))

    def repeat(self, per_row: np.ndarray) -> np.ndarray:
        """A value per row (``m R``), one copy per entry of that row."""
        return np.repeat(per_row, self.nnz)

    def per_row(self, x: np.ndarray) -> np.ndarray:
        """The sum of ``x`` (per entry) over each row, as (m, R)."""
        return np.bincount(self.seg, weights=x, minlength=self.m * self.R).reshape(self.m, self.R)

    def rows_ok(self) -> np.ndarray:
        """Per step: every value finite and >= 0, each row summing to 1 within
        ``EXACT_TOL / 2`` (the serial path would not renormalize). The tokens need no check
        here: :func:`properties.audit.blocks.decode_blocks` gives rows only with tokens
        strictly increasing in ``0..V-1`` and no stored zero. The sums are pairwise
        (``np.add.reduceat``): their round-off, far below ``EXACT_TOL / 2``, is what the
        half tolerance leaves room for."""
        val = self.val
        ok = np.ones(self.m, dtype=bool)
        if not (val.size and val.min() >= 0 and val.max() < np.inf):  # NaN compares False
            bad = ~((val >= 0) & (val < np.inf))               # NaN, negative, infinite
            if bad.any():
                ok[np.unique(self.seg[bad] // self.R)] = False
                val = self.val = np.where(bad, 0.0, val)      # those steps are not judged here
        sums = np.zeros(self.m * self.R)
        full = self.nnz > 0
        if val.size:
            sums[full] = np.add.reduceat(val, (np.cumsum(self.nnz) - self.nnz)[full])
        return ok & ~(np.abs(sums - 1.0) > EXACT_TOL / 2).reshape(self.m, self.R).any(axis=1)

    def tv_sums(self, W: np.ndarray, S_e) -> np.ndarray:
        """Per row (m, R): the sum over its entries of ``|W p(t) - S(t)| - S(t)`` (``W`` per
        step, ``S_e`` from :meth:`weighted_sum`), added in entry order from 0 (the dense
        rows' running sums give what ``np.bincount`` gives the others: the same additions
        in the same order)."""
        if self.dense:
            term = np.multiply(W[:, None, None], self.val.reshape(self.m, self.R, -1))
            term -= S_e
            np.abs(term, out=term)
            term -= S_e
            return np.cumsum(term, axis=2, out=term)[:, :, -1].copy()
        term = self.repeat(np.repeat(W, self.R))
        term *= self.val
        term -= S_e
        np.abs(term, out=term)
        term -= S_e
        return self.per_row(term)

    def weighted_sum(self, weight: np.ndarray, V: int) -> tuple[np.ndarray, np.ndarray]:
        """``S = sum_j w_j p_j`` on each step's support union (sorted by step, then token;
        ``self.uniq`` = step V + token, ``self.key_step`` its step), and ``S`` at each entry
        (dense: as (m, 1, V), which broadcasts to the entries)."""
        if self.dense:  # the union is 0..V-1 in every step; entry (step, row, t) is at t
            wv = (np.repeat(weight.ravel(), V) * self.val).reshape(self.m, self.R, V)
            S = wv.sum(axis=1)
            self.uniq = np.arange(self.m * V, dtype=np.int64)
            self.key_step = np.repeat(np.arange(self.m, dtype=np.int64), V)
            return S.ravel(), S[:, None, :]
        # step V + token: as uint32 when it fits (a stable sort of half the bytes, twice as fast)
        small = np.uint32 if self.m * V < 2 ** 32 else np.int64
        keys = self.repeat(np.repeat(np.arange(self.m, dtype=small) * small(V), self.R))
        np.add(keys, self.idx, out=keys, casting="unsafe")   # tokens are in 0..V-1
        uniq, inv = unique_inverse(keys)
        self.uniq = uniq.astype(np.int64)
        wv = self.repeat(weight.ravel())
        wv *= self.val
        S = np.bincount(inv, weights=wv, minlength=self.uniq.size)
        # sorted by step: each step's keys by a binary search (no division per key)
        bounds = np.searchsorted(self.uniq, np.arange(self.m + 1, dtype=np.int64) * V)
        self.key_step = np.repeat(np.arange(self.m, dtype=np.int64), np.diff(bounds))
        return S, S[inv]


