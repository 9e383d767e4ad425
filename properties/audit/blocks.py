"""The side file's blocks as the audit reads them: sparse, without densifying.

A step's block in ``reports.bin`` (:mod:`mechanism.transcript`) holds its rows one after
the other, each ``nnz:int32, indices:int32[nnz], values:float64[nnz]``.
:func:`decode_blocks` reads the blocks of many steps at once (one walk over the row
headers, then all indices and all values joined and read by numpy once);
:func:`decode_sparse` is that reading of one block. Both refuse exactly what
:func:`mechanism.transcript.decode_rows` refuses (a row past its block, a negative
count, a token outside ``0..V-1``, tokens not increasing within a row, a stored zero,
bytes after the last row: the rows fill their block exactly),
by raising its very error (the one-block reader calls it; a refused block of a batch
comes back None, read alone by :func:`decode_sparse` when its step is reached), so the
sparse and the dense reading of a run record the same divergences. So every
:class:`SparseRows` holds, per row, tokens strictly increasing in ``0..V-1`` and no
stored zero: a row of ``V`` entries is every token. The filter
(:mod:`properties.audit.chunked`) judges the values.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from mechanism.transcript import decode_rows

_INT32 = struct.Struct("<i")


@dataclass
class SparseRows:
    """One step's block as read: per row its token indices and values, concatenated;
    :meth:`dense` gives exactly what :func:`decode_rows` gives."""

    blob: bytes
    n_rows: int
    V: int
    nnz: np.ndarray   #: (n_rows,) entries per row
    idx: np.ndarray   #: int32, all rows' token indices in order
    val: np.ndarray   #: float64, their values

    def dense(self) -> np.ndarray:
        return decode_rows(self.blob, self.n_rows, self.V)


def decode_sparse(blob: bytes, n_rows: int, V: int) -> SparseRows:
    """The block without densifying it: :func:`decode_blocks` of this one block; a
    malformed block goes through :func:`decode_rows`, so it fails with the same error."""
    block = decode_blocks(blob, [(0, len(blob))], n_rows, V)[0]
    if block is None:
        decode_rows(bytes(blob), n_rows, V)  # raises the canonical error
        raise AssertionError(f"a refused block that decode_rows accepts ({n_rows} rows)")
    return block


def refused_entries(idx: np.ndarray, val: np.ndarray, nnz: np.ndarray, V: int) -> np.ndarray:
    """The positions (sorted) of the stored entries :func:`decode_rows` refuses -- a token
    outside ``0..V-1``, a stored zero, or a token not above the one before it in its row.
    Tokens and values in range are told by three reductions (no per-entry temporaries)."""
    if idx.size and idx.min() >= 0 and idx.max() < V and val.all():
        bad = np.zeros(0, dtype=np.int64)                    # nothing out of range
    else:
        bad = np.flatnonzero((idx < 0) | (idx >= V) | (val == 0))
    if idx.size > 1:
        down = np.flatnonzero(idx[1:] <= idx[:-1]) + 1       # a row starts, or a defect
        if down.size:
            starts = (np.cumsum(nnz) - nnz)[nnz > 0]         # sorted: a binary search
            at = np.minimum(np.searchsorted(starts, down), starts.size - 1)
            down = down[starts[at] != down]
            if down.size:  # (np.union1d, but no np.unique: its first call imports numpy.ma)
                bad = np.concatenate((bad, down))
                bad.sort()
                bad = bad[np.concatenate(([True], bad[1:] != bad[:-1]))]
    return bad


def _walk(view: memoryview, spans, n_rows: int):
    """Every block's rows: their index bytes and value bytes (lists over all blocks, in
    order), every row's count, and per block whether its rows fit in it (a block whose
    rows do not contributes nothing)."""
    unpack = _INT32.unpack_from
    idx, val, counts, fits = [], [], [], []
    for start, length in spans:
        pos, end, mark = start, start + length, len(idx)
        for _ in range(n_rows):
            k = unpack(view, pos)[0] if pos + 4 <= end else -1
            at = pos + 4 + 4 * k
            stop = at + 8 * k
            if k < 0 or stop > end:
                break
            idx.append(view[pos + 4:at])
            val.append(view[at:stop])
            counts.append(k)
            pos = stop
        fit = len(counts) - mark == n_rows and pos == end  # the rows fill the block exactly
        if not fit:
            del idx[mark:], val[mark:], counts[mark:]
        fits.append(fit)
    return idx, val, counts, fits


def _walk_words(region, spans, n_rows: int):
    """:func:`_walk`, the same lists, for blocks that start at a multiple of 4 bytes in
    ``region`` (then every row header does): the row headers read row by row for all
    blocks at once (numpy), the slices cut in one pass."""
    words = np.frombuffer(region, "<i4", len(region) // 4)
    start = np.array([a for a, _ in spans], dtype=np.int64)
    end = start + np.array([b for _, b in spans], dtype=np.int64)
    pos, fits = start.copy(), np.ones(start.size, dtype=bool)
    k = np.zeros((n_rows, start.size), dtype=np.int64)
    at = np.zeros((n_rows, start.size), dtype=np.int64)
    for r in range(n_rows):
        head = pos + 4 <= end
        kr = np.where(head, words[np.where(head, pos, 0) // 4].astype(np.int64), -1)
        stop = pos + 4 + 12 * kr
        fits &= (kr >= 0) & (stop <= end)
        k[r], at[r] = kr, pos + 4
        pos = np.where(fits, stop, start)
    fits &= pos == end                               # the rows fill the block exactly
    kk, aa = k.T[fits].ravel(), at.T[fits].ravel()   # the fitting blocks' rows, in order
    view = memoryview(region)
    mid = aa + 4 * kk
    idx = [view[a:b] for a, b in zip(aa.tolist(), mid.tolist())]
    val = [view[a:b] for a, b in zip(mid.tolist(), (mid + 8 * kk).tolist())]
    return idx, val, kk.tolist(), fits.tolist()


def decode_blocks(region: bytes, spans: list[tuple[int, int]], n_rows: int,
                  V: int) -> list:
    """The blocks at ``spans`` (byte ``(start, length)`` in ``region``) decoded at once:
    per block the :class:`SparseRows` that :func:`decode_sparse` gives, its arrays views
    of one array for all blocks (one join and one ``frombuffer`` of each kind); a block
    that :func:`decode_sparse` would refuse comes back as None (:func:`decode_sparse`
    of its bytes raises that error)."""
    view = memoryview(region)
    aligned = all(a % 4 == 0 for a, _ in spans)
    # _walk_words reads a row header at word 0 for every block that has none left: the
    # region must hold one word (a region of 0-3 bytes, blocks of length 0: an IndexError)
    idx, val, counts, fits = _walk_words(region, spans, n_rows) \
        if aligned and n_rows and len(region) >= 4 else _walk(view, spans, n_rows)
    all_idx = np.frombuffer(b"".join(idx), "<i4")
    all_val = np.frombuffer(b"".join(val), "<f8")
    nnz = np.array(counts, dtype=np.int64)
    ends = np.cumsum(nnz)[n_rows - 1::n_rows] if nnz.size else nnz  # per fitting block
    bad = refused_entries(all_idx, all_val, nnz, V)
    refused = np.zeros(ends.size, dtype=bool)  # the fitting blocks holding a refused entry
    refused[np.searchsorted(ends, bad, side="right")] = True
    out, g, lo = [], 0, 0
    for (start, length), fit in zip(spans, fits):
        blob = view[start:start + length]
        if not fit:
            out.append(None)
            continue
        hi = int(ends[g])
        out.append(None if refused[g] else
                   SparseRows(blob, n_rows, V, nnz[g * n_rows:(g + 1) * n_rows],
                              all_idx[lo:hi], all_val[lo:hi]))
        g, lo = g + 1, hi
    return out

