"""The side file's blocks as the audit reads them: sparse, without densifying.

A step's block in ``reports.bin`` (:mod:`mechanism.transcript`) holds its rows one after
the other, each ``nnz:int32, indices:int32[nnz], values:float64[nnz]``.
:func:`decode_sparse` reads one block; :func:`decode_blocks` reads the blocks of many
steps at once (one walk over the row headers, then every row's indices and values
gathered by numpy in one call each). Both refuse exactly what
:func:`mechanism.transcript.decode_rows` refuses about the layout (a row past its block,
a negative count, a token outside ``0..V-1``), and the one-block reader raises its very
error; the filter (:mod:`properties.audit.chunked`) judges the values.
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


def _row_heads(region: bytes, spans, n_rows: int):
    """Per block: the word index of each row's count and the count, or None where the
    block's rows do not fit in it (that block is then read by :func:`decode_sparse`)."""
    unpack = _INT32.unpack_from
    out = []
    for start, length in spans:
        pos, end, heads, ks = start, start + length, [], []
        for _ in range(n_rows):
            k = unpack(region, pos)[0] if pos + 4 <= end else -1
            if k < 0 or pos + 4 + 12 * k > end:
                heads = None
                break
            heads.append(pos // 4)
            ks.append(k)
            pos += 4 + 12 * k
        out.append(None if heads is None else (heads, ks))
    return out


def _gather(words: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``words[s:s + c]`` for every (s, c), concatenated, in one fancy index."""
    total = int(counts.sum())
    offs = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return words[offs + np.arange(total)]


def decode_blocks(region: bytes, spans: list[tuple[int, int]], n_rows: int,
                  V: int) -> list[SparseRows]:
    """The blocks at ``spans`` (byte ``(start, length)`` in ``region``) decoded at once,
    each as :func:`decode_sparse` decodes it (a malformed block goes through it and
    raises its error, when the caller reaches that block: see :class:`Pending`)."""
    if len(region) % 4 or any(s % 4 or L % 4 for s, L in spans):
        return [Pending(memoryview(region)[s:s + L], n_rows, V) for s, L in spans]
    words = np.frombuffer(region, "<i4")
    heads = _row_heads(region, spans, n_rows)
    good = [h for h in heads if h is not None]
    h = np.array([x for hs, _ in good for x in hs], dtype=np.int64)
    k = np.array([x for _, ks in good for x in ks], dtype=np.int64)
    idx = _gather(words, h + 1, k)
    # the values: 2 k words after the indices, gathered as int32 pairs, read as float64
    val = _gather(words, h + 1 + k, 2 * k).view("<f8") if k.size else np.zeros(0)
    per_block = np.add.reduceat(k, np.arange(0, k.size, n_rows)) if k.size else k
    ends = np.cumsum(per_block)
    out, g = [], 0
    for (start, length), hk in zip(spans, heads):
        blob = memoryview(region)[start:start + length]
        if hk is None:
            out.append(Pending(blob, n_rows, V))
            continue
        lo, hi = int(ends[g] - per_block[g]), int(ends[g])
        ii = idx[lo:hi]
        if ii.size and (ii.min() < 0 or ii.max() >= V):
            out.append(Pending(blob, n_rows, V))
        else:
            out.append(SparseRows(blob, n_rows, V, np.array(hk[1], dtype=np.int64), ii,
                                  val[lo:hi]))
        g += 1
    return out


@dataclass
class Pending:
    """A block :func:`decode_blocks` did not decode: :meth:`decode` reads it alone."""

    blob: memoryview
    n_rows: int
    V: int

    def decode(self) -> SparseRows:
        return decode_sparse(bytes(self.blob), self.n_rows, self.V)
