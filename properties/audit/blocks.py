"""The side file's blocks as the audit reads them: sparse, without densifying.

A step's block in ``reports.bin`` (:mod:`mechanism.transcript`) holds its rows one after
the other, each ``nnz:int32, indices:int32[nnz], values:float64[nnz]``.
:func:`decode_sparse` reads one block; :func:`decode_blocks` reads the blocks of many
steps at once (one walk over the row headers, then all indices and all values joined
and read by numpy once). Both refuse exactly what
:func:`mechanism.transcript.decode_rows` refuses about the layout (a row past its block,
a negative count, a token outside ``0..V-1``), and a refused block raises the one-block
reader's very error; the filter (:mod:`properties.audit.chunked`) judges the values.
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
    """The block without densifying it; any malformed block goes through
    :func:`decode_rows`, so it fails with the same error."""
    pos, nnz, idx, val = 0, [], [], []
    size = len(blob)
    for _ in range(n_rows):
        k = _INT32.unpack_from(blob, pos)[0] if pos + 4 <= size else -1
        end = pos + 4 + 12 * k
        if k < 0 or end > size:
            decode_rows(blob, n_rows, V)  # raises the canonical error
        idx.append(blob[pos + 4:pos + 4 + 4 * k])
        val.append(blob[pos + 4 + 4 * k:end])
        nnz.append(k)
        pos = end
    ii = np.frombuffer(b"".join(idx), "<i4")
    if ii.size and (ii.min() < 0 or ii.max() >= V):
        decode_rows(blob, n_rows, V)
    return SparseRows(blob, n_rows, V, np.array(nnz, dtype=np.int64), ii,
                      np.frombuffer(b"".join(val), "<f8"))


def _rows_of(view: memoryview, start: int, length: int, n_rows: int, idx: list, val: list):
    """Append the block's rows' index and value bytes to ``idx`` and ``val``; their
    counts, or None where a row does not fit in the block (nothing appended then)."""
    unpack = _INT32.unpack_from
    pos, end, ks, mark = start, start + length, [], len(idx)
    for _ in range(n_rows):
        k = unpack(view, pos)[0] if pos + 4 <= end else -1
        stop = pos + 4 + 12 * k
        if k < 0 or stop > end:
            del idx[mark:], val[mark:]
            return None
        idx.append(view[pos + 4:pos + 4 + 4 * k])
        val.append(view[pos + 4 + 4 * k:stop])
        ks.append(k)
        pos = stop
    return ks


def decode_blocks(region: bytes, spans: list[tuple[int, int]], n_rows: int,
                  V: int) -> list:
    """The blocks at ``spans`` (byte ``(start, length)`` in ``region``) decoded at once:
    per block the :class:`SparseRows` that :func:`decode_sparse` gives, its arrays views
    of one array for all blocks (one join and one ``frombuffer`` of each kind); a block
    that :func:`decode_sparse` would refuse comes back as :class:`Pending`, which raises
    that error when decoded."""
    view = memoryview(region)
    idx, val, counts = [], [], []
    for start, length in spans:
        counts.append(_rows_of(view, start, length, n_rows, idx, val))
    all_idx = np.frombuffer(b"".join(idx), "<i4")
    all_val = np.frombuffer(b"".join(val), "<f8")
    sizes = np.array([sum(ks) if ks is not None else 0 for ks in counts], dtype=np.int64)
    ends = np.cumsum(sizes)
    bad = (all_idx < 0) | (all_idx >= V)
    if bad.any():  # the blocks holding an index outside 0..V-1
        bad_block = np.zeros(len(spans), dtype=bool)
        bad_block[np.searchsorted(ends, np.flatnonzero(bad), side="right")] = True
    else:
        bad_block = np.zeros(len(spans), dtype=bool)
    out = []
    for g, ((start, length), ks) in enumerate(zip(spans, counts)):
        blob = view[start:start + length]
        if ks is None or bad_block[g]:
            out.append(Pending(blob, n_rows, V))
            continue
        lo, hi = int(ends[g] - sizes[g]), int(ends[g])
        out.append(SparseRows(blob, n_rows, V, np.array(ks, dtype=np.int64), all_idx[lo:hi],
                              all_val[lo:hi]))
    return out


@dataclass
class Pending:
    """A block :func:`decode_blocks` did not decode: :meth:`decode` reads it alone."""

    blob: memoryview
    n_rows: int
    V: int

    def decode(self) -> SparseRows:
        return decode_sparse(bytes(self.blob), self.n_rows, self.V)
