"""The side file's row headers read for many blocks at once (blocks._walk_words, numpy)
against the row-by-row walk (blocks._walk), on honest and malformed blocks: the same
slices, counts and fits; and decode_blocks refuses exactly the blocks decode_rows refuses
and reads the others to the same rows."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from mechanism.transcript import decode_rows, encode_rows
from properties.audit import blocks


def _block(rng, n_rows, V):
    P = np.zeros((n_rows, V))
    for i in range(n_rows):
        cols = rng.choice(V, size=int(rng.integers(0, 9)), replace=False)
        P[i, cols] = rng.random(cols.size) + 0.01
    data = bytearray(encode_rows(P))
    kind = rng.integers(0, 9)
    k = struct.unpack_from("<i", data, 0)[0]
    if kind >= 6 and k >= 2:                              # row 0: a defect decode_rows refuses
        if kind == 6:
            struct.pack_into("<i", data, 4, V + 3)            # a token outside 0..V-1
        elif kind == 7:
            struct.pack_into("<i", data, 8, struct.unpack_from("<i", data, 4)[0])  # repeated
        else:
            struct.pack_into("<d", data, 4 + 4 * k, 0.0)       # a stored zero
    if kind == 1 and len(data) > 8:                      # cut short
        del data[int(rng.integers(1, len(data) // 4)) * 4:]
    elif kind == 2:                                       # a negative or huge row count
        data[:4] = struct.pack("<i", int(rng.choice([-1, -7, 10 ** 6, 2 ** 31 - 1])))
    elif kind == 3:                                       # trailing bytes in the block
        data += b"\0" * 8
    return bytes(data)


def _same(a, b):
    assert [bytes(x) for x in a[0]] == [bytes(x) for x in b[0]]
    assert [bytes(x) for x in a[1]] == [bytes(x) for x in b[1]]
    assert list(a[2]) == list(b[2]) and list(a[3]) == list(b[3])


@pytest.mark.parametrize("seed", range(40))
def test_walk_words_equals_walk(seed):
    rng = np.random.default_rng(seed)
    n_rows, V = int(rng.integers(1, 5)), 20
    parts = [_block(rng, n_rows, V) for _ in range(int(rng.integers(1, 12)))]
    region = b"".join(parts)
    spans, at = [], 0
    for p in parts:
        spans.append((at, len(p)))
        at += len(p)
    _same(blocks._walk_words(region, spans, n_rows), blocks._walk(memoryview(region), spans,
                                                                   n_rows))
    for block, (s, length) in zip(blocks.decode_blocks(region, spans, n_rows, V), spans):
        try:  # the reference reader of the side file, row by row
            want = decode_rows(region[s:s + length], n_rows, V)
        except ValueError:
            assert block is None
            continue
        assert isinstance(block, blocks.SparseRows)
        rows = np.repeat(np.arange(n_rows), block.nnz)
        got = np.zeros((n_rows, V))
        got[rows, block.idx] = block.val
        np.testing.assert_array_equal(got, want)
        assert block.val.size == np.count_nonzero(want)


@pytest.mark.parametrize("seed", range(20))
def test_decoded_rows_need_no_token_check(seed):
    """What the filter no longer re-checks (chunked's dense test, Entries.rows_ok): every
    row decode_blocks gives has tokens strictly increasing in 0..V-1 and no stored zero,
    so a row of V entries is exactly 0..V-1; a block whose tokens repeat, go down or
    leave 0..V-1 is refused (None)."""
    rng = np.random.default_rng(100 + seed)
    n_rows, V = int(rng.integers(1, 4)), 6
    parts = []
    for _ in range(12):
        P = np.where(rng.random((n_rows, V)) < rng.choice([0.3, 1.0]),
                     rng.random((n_rows, V)) + 0.01, 0.0)
        data = bytearray(encode_rows(P))
        k = struct.unpack_from("<i", data, 0)[0]
        if k >= 2 and rng.random() < 0.5:  # row 0's tokens: swapped, repeated or out of range
            a, b = struct.unpack_from("<2i", data, 4)
            struct.pack_into("<2i", data, 4, *rng.choice([(b, a), (a, a), (a, V), (-1, b)]))
        parts.append(bytes(data))
    spans, at = [], 0
    for p in parts:
        spans.append((at, len(p)))
        at += len(p)
    for block, part in zip(blocks.decode_blocks(b"".join(parts), spans, n_rows, V), parts):
        ids = np.frombuffer(part, "<i4", 2, 4) if len(part) >= 12 else np.zeros(0)
        if ids.size == 2 and struct.unpack_from("<i", part)[0] >= 2 and \
                not (0 <= ids[0] < ids[1] < V):
            assert block is None
            continue
        assert isinstance(block, blocks.SparseRows)
        for row in np.split(block.idx, np.cumsum(block.nnz)[:-1]):
            assert ((0 <= row) & (row < V)).all() and (np.diff(row) > 0).all()
            assert row.size < V or (row == np.arange(V)).all()
        assert block.val.all()


def test_a_row_past_its_block():
    """A row claiming more entries than its block holds: the block does not fit (both
    walks), the next block still reads (the int32 count of 2^31 - 1 above once overflowed
    the vector walk's 12 k in int32: the random test found it)."""
    rng = np.random.default_rng(3)
    part = bytearray(encode_rows(np.eye(2, 20)))
    part[:4] = struct.pack("<i", 5)                        # row 0 claims 5 entries
    nxt = encode_rows(np.eye(2, 20))
    region = bytes(part) + nxt + _block(rng, 2, 20)
    spans = [(0, len(part)), (len(part), len(nxt)),
             (len(part) + len(nxt), len(region) - len(part) - len(nxt))]
    real = blocks._walk_words(region, spans, 2)
    _same(real, blocks._walk(memoryview(region), spans, 2))
    assert real[3][:2] == [False, True]


@pytest.mark.parametrize("seed", range(12))
def test_unique_inverse_equals_np_unique(seed):
    """The filter's support union (entries.unique_inverse: packed sort, halves read as
    views) is numpy's unique with its inverse, on uint32 keys (up to 2^32 - 1, repeats,
    empty) and on wider keys."""
    from properties.audit.entries import unique_inverse

    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 3000))
    for keys in (rng.integers(0, int(rng.choice([5, 1000, 2 ** 32])), size, dtype=np.uint64)
                 .astype(np.uint32), rng.integers(0, 2 ** 40, size, dtype=np.int64)):
        uniq, inv = unique_inverse(keys)
        want, want_inv = np.unique(keys, return_inverse=True)
        np.testing.assert_array_equal(uniq, want)
        np.testing.assert_array_equal(inv, want_inv.ravel())
        np.testing.assert_array_equal(uniq[inv], keys)
