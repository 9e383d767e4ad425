"""Red-team findings on second spellings of a run (docs/audit.md, "Recorded auctions": the
record is its bytes, one spelling per record): each forged run below, its chain recomputed,
audited CLEAN before."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mechanism.errors import InvalidInput
from mechanism.transcript import SIDE, decode_rows, encode_rows
from properties.audit.blocks import decode_blocks, decode_sparse
from mechanism import TokenAuction
from properties.audit.replay import audit_run
from tests.helpers.recording import records, write

PAD = b"HIDDEN PAYLOAD: anything at all goes here"


def _rows():
    P = np.zeros((3, 10))
    P[0, [1, 4]], P[1, 2], P[2, [0, 9]] = (0.5, 0.5), 1.0, (0.25, 0.75)
    return P


@pytest.mark.parametrize("pad", [PAD, b"\0" * 4, b"\0"])
def test_bytes_after_the_rows_of_a_block_are_refused(pad):
    blob = encode_rows(_rows()) + pad
    with pytest.raises(InvalidInput, match="bytes after its 3 rows"):
        decode_rows(blob, 3, 10)
    with pytest.raises(InvalidInput, match="bytes after its 3 rows"):
        decode_sparse(blob, 3, 10)
    good = encode_rows(_rows())
    for lead in (b"", b"x"):  # aligned blocks (read word by word) and unaligned ones
        region = lead + good + blob + good
        spans = [(len(lead), len(good)), (len(lead) + len(good), len(blob)),
                 (len(lead) + len(good) + len(blob), len(good))]
        out = decode_blocks(region, spans, 3, 10)
        assert out[1] is None and out[0] is not None and out[2] is not None
        assert np.array_equal(out[0].dense(), _rows())


def _sparse_agents(prefix, n=3, V=40, k=5):
    """Each agent supports k of V tokens: a block well below its largest size."""
    rng = np.random.default_rng(len(prefix))
    P = np.zeros((n, V))
    for i in range(n):
        P[i, rng.choice(V, k, replace=False)] = rng.dirichlet(np.ones(k))
    return P, None


@pytest.mark.parametrize("vectorized", [True, False])
def test_a_padded_block_in_a_recorded_run_diverges(tmp_path, vectorized):
    run = tmp_path / "run"
    TokenAuction("linear").run(_sparse_agents, [1.0, 2.0, 0.5], seed=3, max_tokens=4,
                               record_to=run)
    recs, side = records(run), (run / SIDE).read_bytes()
    out, off = b"", 0
    for r in recs[1:-1]:
        loc = r["reports"]
        blk = side[loc["offset"]:loc["offset"] + loc["length"]]
        blk += PAD if r["step"] == 2 else b""
        r["reports"] = {**loc, "offset": off, "length": len(blk),
                        "sha256": hashlib.sha256(blk).hexdigest()}
        out, off = out + blk, off + len(blk)
    recs[-1]["side_bytes"] = off
    (run / SIDE).write_bytes(out)
    write(run, recs, rechain=True)
    report = audit_run(run, vectorized=vectorized)
    assert report.exit_code == 1 and "bytes after its" in str(report.first_divergence)


def _run(tmp_path):
    from tests.helpers.recording import record
    return record(tmp_path / "run", n=3, steps=4)


def _edit_steps(key, value):
    def edit(recs):
        for r in recs[1:-1]:
            r[key] = value(r[key])
    return edit


@pytest.mark.parametrize("name,edit,field", [
    ("int bids", _edit_steps("bids", lambda b: [int(x) if x == int(x) else x for x in b]),
     "bids[0] = 1 must be a float"),
    ("-0.0 payment error", _edit_steps("payment_errors", lambda e: [-0.0] + e[1:]),
     "payment_errors[0] = -0.0 must be 0.0"),
    ("reference_weight 5.0", lambda recs: recs[0].update(reference_weight=5.0),
     "reference_weight = 5.0 must be 0.0"),
    ("reference_weight 1e300", lambda recs: recs[0].update(reference_weight=1e300),
     "reference_weight = 1e+300 must be 0.0"),
    ("int epsilon", lambda recs: recs[0].update(epsilon=0), "epsilon = 0 must be a float"),
])
@pytest.mark.parametrize("vectorized", [True, False])
def test_a_second_spelling_of_a_value_is_refused(tmp_path, name, edit, field, vectorized):
    run = _run(tmp_path)
    recs = records(run)
    edit(recs)
    write(run, recs, rechain=True)
    report = audit_run(run, vectorized=vectorized)
    assert report.exit_code == 2 and field in str(report.error), (name, report.summary())


def test_the_writer_spells_a_weight_without_reference_and_zero_errors_once(tmp_path):
    run = tmp_path / "run"
    from tokenauction.demo.synthetic import SyntheticAgents
    TokenAuction("linear", reference_weight=5.0).run(SyntheticAgents(3), [1.0, 2.0, 0.5],
                                                     seed=1, max_tokens=3, record_to=run)
    recs = records(run)
    assert recs[0]["reference_weight"] == 0.0 and not recs[0]["has_reference"]
    assert audit_run(run).exit_code == 0
