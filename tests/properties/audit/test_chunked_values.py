"""The chunk filter's batched replay (properties/audit/chunked.py) against the step-at-a-time
definitions, value by value: the closed-form payments against ``TokenAuction.step`` on the
stored rows, the Gauss-Legendre identity against the independent oracle
(properties/oracle.py), on random top-p runs with dense steps, with and without a
reference, and on the synthetic demo agents. A forged step never passes the filter."""

from __future__ import annotations

import numpy as np
import pytest

from mechanism import TokenAuction, step_uniforms
from properties import checks as C
from properties.audit import chunked
from properties.audit import replay as run_module
from properties.audit.replay import audit_run
from properties.audit.stream import read_run_header, verified_steps
from properties.audit.tally import AuditReport

from tests.helpers.recording import record


class TopP:
    """Provider: top-p style rows of 4..40 tokens over V = 600, every 5th step dense."""

    def __init__(self, n, seed, reference=False):
        self.n, self.rng, self.k, self.reference = n, np.random.default_rng(seed), 0, reference

    def __call__(self, prefix):
        V, rng = 600, self.rng
        P = np.zeros((self.n, V))
        for i in range(self.n):
            cols = rng.choice(V, size=V if self.k % 5 == 0 else int(rng.integers(4, 41)),
                              replace=False)
            P[i, cols] = rng.gamma(0.5, size=cols.size) + 1e-12
        P /= P.sum(axis=1, keepdims=True)
        self.k += 1
        return (P, rng.dirichlet(np.ones(V))) if self.reference else P


def top_p_run(folder, n, reference, seed):
    bids = lambda step, _: np.abs(np.sin(np.arange(n) + step)) * (2.0 if step % 3 else 1e-3) \
        + (step % 4 == 0) * np.eye(n)[0]                # varied, tiny, some zero-ish bids
    TokenAuction("linear", reference_weight=0.6 if reference else None).run(
        TopP(n, seed, reference), bids, seed=seed, max_tokens=40, record_to=folder)
    return folder


def filter_values(run):
    header = read_run_header(run)
    auction = run_module.auction_from_header(header)
    aud = chunked.ChunkAuditor(header, 1e-9, 1e-6, chunked.payment_method(auction, header), True)
    items = list(verified_steps(run, header, AuditReport(str(run)), sparse=True))
    ok = aud.check([(it, []) for it in items])
    return header, auction, items, ok, aud.replayed


def runs(tmp_path):
    yield top_p_run(tmp_path / "a", 4, False, 1)
    yield top_p_run(tmp_path / "b", 3, True, 2)
    yield record(tmp_path / "c", n=3, steps=30)
    yield record(tmp_path / "d", n=3, steps=30, reference=True, reference_weight=0.5)


def test_batched_replay_equals_step_at_a_time(tmp_path):
    for run in runs(tmp_path):
        header, auction, items, ok, (want, ident) = filter_values(run)
        n, has_ref = int(header["n"]), header["has_reference"]
        assert ok.mean() > 0.8, ok     # the filter does its job (tiny B_i: to the serial path)
        for k, it in enumerate(items):
            rows = it.rows.dense()
            b = np.asarray(it.record["bids"])
            mine = auction.step(rows[:n], b, step_uniforms(header["seed"], k, n),
                                reference=rows[n] if has_ref else None)
            np.testing.assert_allclose(want[k], mine.payments, rtol=1e-12, atol=1e-15 * b.max())
            rule = auction.rule if not has_ref else auction.rule.with_reference(rows[n])
            for i in range(n):
                z, err = C.identity_payment(rule, rows[:n], b, i, "second_price")
                assert abs(ident[k, i] - z) <= 10 * err + 1e-12 * max(1.0, b[i]), (k, i)


@pytest.mark.parametrize("forge", ["payment", "token", "uniform"])
def test_a_forged_step_never_passes_the_filter(tmp_path, forge):
    run = top_p_run(tmp_path / "a", 4, False, 3)
    header, auction, items, ok, _ = filter_values(run)
    k = int(np.flatnonzero(ok)[3])
    rec = items[k].record
    if forge == "payment":
        i = int(np.argmax(rec["bids"]))
        rec["payments"][i] += 1e-7 * rec["bids"][i]      # 100 x the replay tolerance
    elif forge == "token":
        rec["token"] = (rec["token"] + 1) % int(header["V"])
    else:
        rec["uniforms"][0] = float(np.nextafter(rec["uniforms"][0], 1.0))
    aud = chunked.ChunkAuditor(header, 1e-9, 1e-6, chunked.payment_method(auction, header), True)
    again = aud.check([(it, []) for it in items])
    assert not again[k] and again.sum() == ok.sum() - 1


@pytest.mark.parametrize("defect", ["repeated", "swapped", "negative", "nan", "huge"])
def test_a_malformed_row_never_passes_the_filter(tmp_path, defect):
    """Rows the filter's arithmetic does not cover (tokens not increasing within a row,
    values not finite or negative) go to the serial path, wherever they sit in the chunk.
    Tokens not increasing never reach the filter: the reader refuses their block
    (properties.audit.blocks.decode_blocks gives None, decode_sparse raises decode_rows's
    error), so the step is read alone and its divergence written by the serial path."""
    from dataclasses import replace
    from properties.audit.blocks import decode_blocks, decode_sparse
    run = top_p_run(tmp_path / "a", 4, False, 4)
    header, auction, items, ok, _ = filter_values(run)
    for k in (int(np.flatnonzero(ok)[2]), int(np.flatnonzero(ok)[-1])):
        rows = items[k].rows
        idx, val = rows.idx.copy(), rows.val.copy()
        j = int(rows.nnz[0]) + 1                  # inside the second row
        if defect == "repeated":
            idx[j] = idx[j - 1]
        elif defect == "swapped":
            idx[j - 1], idx[j] = idx[j], idx[j - 1]
            val[j - 1], val[j] = val[j], val[j - 1]
        else:
            val[j] = {"negative": -1e-300, "nan": np.nan, "huge": 1e300}[defect]
        items[k].rows = replace(rows, idx=idx, val=val)
        if defect in ("repeated", "swapped"):
            blob = _encode(items[k].rows)
            assert decode_blocks(blob, [(0, len(blob))], rows.n_rows, rows.V) == [None]
            with pytest.raises(ValueError, match="strictly increasing"):
                decode_sparse(blob, rows.n_rows, rows.V)
    if defect in ("repeated", "swapped"):
        return
    aud = chunked.ChunkAuditor(header, 1e-9, 1e-6, chunked.payment_method(auction, header), True)
    again = aud.check([(it, []) for it in items])
    assert again.sum() == ok.sum() - 2 and not again[k]


def _encode(rows) -> bytes:
    """A block's bytes as the side file stores them, for these rows as given."""
    import struct
    out, at = [], 0
    for k in rows.nnz.tolist():
        out += [struct.pack("<i", k), rows.idx[at:at + k].astype("<i4").tobytes(),
                rows.val[at:at + k].astype("<f8").tobytes()]
        at += k
    return b"".join(out)


@pytest.mark.parametrize("low", [5e-324, 1e-310, 1e-300])
def test_forged_tokens_at_subnormal_bids_are_caught_by_the_vectorized_audit(tmp_path, low):
    """A genuine linear run whose later steps bid ``[low, 0, 0]`` (the rule's aggregate is
    agent 0's row, exactly), its tokens rewritten and the chain recomputed: the vectorized
    audit reports the serial audit's divergences (planted: the filter's unscaled ``S/W``
    rounded ``5e-324 p`` to [0, 0, 1] and passed every forged token 2: CLEAN); the genuine
    run is CLEAN in both."""
    from mechanism import TokenAuction
    from tests.helpers.recording import records, write
    P0 = np.eye(3, 4)
    P = np.array([[0.2, 0.2, 0.6, 0.0], [0.5, 0.5, 0.0, 0.0], [0.1, 0.1, 0.0, 0.8]])
    run = tmp_path / "run"
    TokenAuction("linear").run(lambda prefix: P0 if not prefix else P,
                               lambda k, prefix: [1.0, 2.0, 3.0] if k == 0 else [low, 0.0, 0.0],
                               seed=1, max_tokens=20, record_to=run)
    for vectorized in (True, False):
        assert audit_run(run, vectorized=vectorized).exit_code == 0
    recs = records(run)
    forged = [r for r in recs if r.get("step", 0) >= 1 and r.get("token") in (0, 1)]
    assert forged
    for r in forged:
        r["token"] = 2
    write(run, recs, rechain=True)
    fast, slow = audit_run(run), audit_run(run, vectorized=False)
    assert fast.exit_code == slow.exit_code == 1
    assert [str(d) for d in fast.divergences] == [str(d) for d in slow.divergences]
    assert len(fast.divergences) == len(forged)
