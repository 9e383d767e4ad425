"""The batched reading of a run (records.parse_lines, schema.steps_valid, blocks.decode_blocks,
the chunk's uniforms) against the one-line-at-a-time reading it replaces: the same
records, the same refusals, the same reports on clean, random, demo-like, corrupted and
forged runs, and a bad line in the middle of a batch named by its own line number."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest

from mechanism import InvalidInput, step_uniforms
from mechanism.records import canonical, parse_line, parse_lines
from mechanism.transcript import JSONL, decode_rows, encode_rows
from properties.audit import blocks, chunked, schema, stream
from properties.audit import replay as run_module
from properties.audit.uniforms import many_step_uniforms

from tests.helpers.audit_compare import same_reports
from tests.helpers.recording import record, records, side_path, write
from tests.properties.audit.test_chunked_values import top_p_run


@pytest.fixture
def line_by_line(monkeypatch):
    """A function auditing a run with the batch reader switched off (every line read by
    parse_line and check_step, every block by seek and decode_sparse)."""
    def audit(run, **kw):
        with monkeypatch.context() as m:
            m.setattr(stream, "_batch", lambda *a: None)
            return run_module.audit_run(run, **kw)
    return audit


def agree(run, line_by_line, **kw):
    new = run_module.audit_run(run, **kw)
    same_reports(new, line_by_line(run, **kw))
    same_reports(new, run_module.audit_run(run, vectorized=False, **kw))
    return new


# -- records.parse_lines --------------------------------------------------------------

BAD_LINES = {
    "float spelling": b'{"a":1.0e0}\n', "space": b'{"a":1, "b":2}\n',
    "key order": b'{"b":1,"a":2}\n', "duplicate key": b'{"a":1,"a":1}\n',
    "NaN": b'{"a":NaN}\n', "overflow": b'{"a":1e400}\n', "blank": b"\n",
    "half a record": b'{"a":[1\n', "two records": b'{"a":1},{"b":2}\n', "a list": b"[1]\n",
    "non-ascii": '{"a":"\u00e9"}\n'.encode(), "escaped non-ascii": b'{"a":"\\u00E9"}\n',
    "no newline": b'{"a":1}', "leading space": b' {"a":1}\n',
    "too deep": b'{"a":[[[[1]]]]}\n', "int as float": b'{"a":2.0e0}\n',
}


def test_parse_lines_gives_what_parse_line_gives(tmp_path):
    run = record(tmp_path / "run", n=3, steps=12, reference=True, reference_weight=0.5)
    lines = (run / JSONL).read_bytes().splitlines(keepends=True)
    assert parse_lines(lines) == [parse_line(x, f"t:{k}") for k, x in enumerate(lines, 1)]


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_parse_lines_refuses_every_batch_holding_a_bad_line(name):
    good = canonical({"a": 1, "b": [0.5, 2.0]}) + b"\n"
    bad = BAD_LINES[name]
    assert parse_lines([good, good]) is not None
    assert parse_lines([good, bad, good]) is None
    if name == "no newline":  # a last line cut short: the stream reads it alone, and warns
        assert parse_line(bad, "t.jsonl:3") == {"a": 1}
        return
    with pytest.raises(InvalidInput):  # the fallback names it
        parse_line(bad, "t.jsonl:3")


def test_a_record_split_over_two_lines_is_refused():
    """The joined batch '[{"a":[1,2]},{"b":3}]' is canonical, yet neither line is."""
    lines = [b'{"a":[1\n', b'2]},{"b":3}\n']
    assert parse_lines(lines) is None


# -- a bad line in the middle of a batch ----------------------------------------------

@pytest.mark.parametrize("defect", ["number", "space", "bool", "schema", "deep", "cut"])
def test_a_bad_line_inside_a_batch_is_named_by_its_line(tmp_path, line_by_line, defect):
    run = record(tmp_path / "run", n=3, steps=30)
    path = run / JSONL
    lines = path.read_bytes().splitlines(keepends=True)
    k = 16  # line 17: step 15, in the middle of the one batch these lines make
    text = lines[k].decode()
    if defect == "number":
        text = text.replace('"step":15', '"step":1.5e1')
    elif defect == "space":
        text = text.replace(',"token"', ', "token"')
    elif defect == "bool":
        text = text.replace('"step":15', '"step":true')
    elif defect == "schema":
        text = text.replace('"sampler":"inverse_cdf"', '"sampler":7')
    elif defect == "deep":  # canonical JSON, nested too deep: parse_line's own refusal
        text = text.replace('"thresholds":null', '"thresholds":[[[[1.0]]]]')
    lines[k] = text.encode()
    if defect == "cut":
        lines = lines[:k] + [lines[k][:40]]
    assert lines[k] != path.read_bytes().splitlines(keepends=True)[k]
    path.write_bytes(b"".join(lines))
    report = agree(run, line_by_line)
    assert report.exit_code == 2 and report.error_line == 17, report.summary()
    assert report.steps_read == 15 and "17" in report.error
    if defect == "deep":
        assert "nested deeper" in report.error


def test_bad_lines_in_later_batches(tmp_path, line_by_line, monkeypatch):
    """Batches of a few lines each: the bad line's batch falls back, the others do not."""
    monkeypatch.setattr(stream, "BATCH_BYTES", 1500)
    run = record(tmp_path / "run", n=3, steps=40)
    path = run / JSONL
    data = path.read_bytes().replace(b'"step":33,', b'"step":33 ,')
    path.write_bytes(data)
    report = agree(run, line_by_line)
    assert (report.exit_code, report.error_line, report.steps_read) == (2, 35, 33)


# -- whole runs: batched equals line by line ------------------------------------------

@pytest.mark.parametrize("batch", [700, 1 << 18])
def test_random_and_demo_like_runs_agree(tmp_path, line_by_line, monkeypatch, batch):
    monkeypatch.setattr(stream, "BATCH_BYTES", batch)
    monkeypatch.setattr(chunked, "CHUNK_STEPS", 9)
    monkeypatch.setattr(chunked, "SLICE_STEPS", 4)
    batches, real = [], stream._batch
    monkeypatch.setattr(stream, "_batch", lambda *a: batches.append(real(*a)) or batches[-1])
    for run in (top_p_run(tmp_path / "a", 4, False, 5), top_p_run(tmp_path / "b", 3, True, 6),
                record(tmp_path / "c", n=3, steps=30),
                record(tmp_path / "d", n=4, steps=25, reference=True, reference_weight=0.5)):
        batches.clear()
        report = agree(run, line_by_line)
        assert report.exit_code == 0 and report.steps_replayed == report.steps_read > 20
        assert batches and all(b is not None for b in batches)  # every batch read at once
        assert len(batches) > 2 if batch == 700 else len(batches) == 2  # (and the serial audit)


def _edit_block(run, step, edit):
    """Rewrite one step's block (``edit(blob) -> blob``), its SHA-256 and the chain, as a
    forger who knows the format would."""
    recs = records(run)
    loc = recs[1 + step]["reports"]
    side = side_path(run).read_bytes()
    blob = edit(side[loc["offset"]:loc["offset"] + loc["length"]])
    side_path(run).write_bytes(side[:loc["offset"]] + blob + side[loc["offset"] + loc["length"]:])
    delta = len(blob) - loc["length"]
    loc["length"], loc["sha256"] = len(blob), hashlib.sha256(blob).hexdigest()
    for rec in recs[2 + step:]:
        if "reports" in rec:
            rec["reports"]["offset"] += delta
        elif "side_bytes" in rec:
            rec["side_bytes"] += delta
    write(run, recs, rechain=True)


def _set_entry(row: int, pos: int, *, index=None, value=None):
    def edit(blob):
        b, at = bytearray(blob), 0
        for _ in range(row):
            at += 4 + 12 * struct.unpack_from("<i", b, at)[0]
        k = struct.unpack_from("<i", b, at)[0]
        if index is not None:
            struct.pack_into("<i", b, at + 4 + 4 * pos, index)
        if value is not None:
            struct.pack_into("<d", b, at + 4 + 4 * k + 8 * pos, value)
        return bytes(b)
    return edit


def _swap_first_tokens(blob):
    """Row 0's first two entries swapped, token and value: the same distribution, its
    tokens no longer increasing (decode_rows refuses it)."""
    b = bytearray(blob)
    k = struct.unpack_from("<i", b, 0)[0]
    assert k >= 2
    i0, i1 = struct.unpack_from("<2i", b, 4)
    v0, v1 = struct.unpack_from("<2d", b, 4 + 4 * k)
    struct.pack_into("<2i", b, 4, i1, i0)
    struct.pack_into("<2d", b, 4 + 4 * k, v1, v0)
    return bytes(b)


FORGED_BLOCKS = {
    "zero entry": _set_entry(1, 0, value=0.0),
    "token repeated": _set_entry(0, 1, index=0),
    "tokens swapped": lambda blob: _swap_first_tokens(blob),
    "token out of range": _set_entry(2, 0, index=1 << 20),
    "negative count": lambda blob: struct.pack("<i", -3) + blob[4:],
    "count past the block": lambda blob: struct.pack("<i", 10 ** 6) + blob[4:],
    "odd length": lambda blob: blob[:-1],
    "short block": lambda blob: blob[:-12],
    "edited value": _set_entry(1, 0, value=0.25),
}


@pytest.mark.parametrize("name", sorted(FORGED_BLOCKS))
def test_forged_blocks_agree(tmp_path, line_by_line, monkeypatch, name):
    monkeypatch.setattr(chunked, "CHUNK_STEPS", 7)
    run = record(tmp_path / "run", n=3, steps=30)
    _edit_block(run, 12, FORGED_BLOCKS[name])
    report = agree(run, line_by_line)
    assert report.exit_code == 1, report.summary()
    d = report.first_divergence
    assert (d.step, d.line) == (12, 14), str(d)


def test_a_zero_entry_is_a_divergence_in_both_paths(tmp_path, line_by_line):
    """Before: the sparse reading took a stored zero, the filter rejected the step, and its
    dense decoding raised -- exit 2 vectorized, exit 1 serial."""
    run = record(tmp_path / "run", n=3, steps=30)
    _edit_block(run, 5, _set_entry(0, 0, value=0.0))
    d = agree(run, line_by_line).first_divergence
    assert (d.check, d.step, d.field) == ("inputs", 5, "reports") and "zero" in d.message


# -- the pieces -----------------------------------------------------------------------

def _blocks(bad_names):
    rng = np.random.default_rng(4)
    V, n_rows, good = 50, 3, []
    for _ in range(20):
        P = np.zeros((n_rows, V))
        for r in range(n_rows):
            cols = rng.choice(V, size=int(rng.integers(0, 8)), replace=False)
            P[r, cols] = rng.random(cols.size) + 0.01
        good.append(encode_rows(P))
    blobs = good[:5] + [FORGED_BLOCKS[k](good[3]) for k in bad_names] + good[5:]
    spans, at = [], 0
    for b in blobs:
        spans.append((at, len(b)))
        at += len(b)
    return blobs, blocks.decode_blocks(b"".join(blobs), spans, n_rows, V), n_rows, V


@pytest.mark.parametrize("odd", [False, True])
def test_decode_blocks_equals_decode_sparse_block_by_block(odd):
    """Every forged kind among 20 good blocks; with ``odd``, the blocks after the one of
    odd length start at odd offsets."""
    names = [k for k in sorted(FORGED_BLOCKS) if k != "odd length"] + ["odd length"] * odd
    blobs, got, n_rows, V = _blocks(names[::-1])
    for blob, mine in zip(blobs, got):
        try:
            want = blocks.decode_sparse(blob, n_rows, V)
        except InvalidInput:
            assert mine is None  # refused: read alone by decode_sparse, which raises
            continue
        rows = mine
        assert isinstance(rows, blocks.SparseRows)
        for key in ("nnz", "idx", "val"):
            np.testing.assert_array_equal(getattr(rows, key), getattr(want, key))
        np.testing.assert_array_equal(rows.dense(), decode_rows(blob, n_rows, V))
    assert sum(isinstance(x, blocks.SparseRows) for x in got) == 21  # 20 good, 1 edited


def _valid_step(n=3, V=12):
    return {"bids": [1.0, 2.0, 0.5][:n], "hash": "a" * 64, "payment_errors": [0.0] * n,
            "payment_method": "closed_form_linear", "payments": [0.1, 0.2, 0.05][:n],
            "prev": "b" * 64, "reports": {"length": 40, "offset": 0, "rows": n,
                                          "sha256": "c" * 64},
            "sampler": "inverse_cdf", "step": 3, "thresholds": None, "token": 5,
            "uniforms": [0.25] * (n + 5)}


VALUES = [True, False, 0, 1, -1, 7, 2 ** 70, 0.0, 1.0, -0.5, 0.99, 1.0 - 1e-17, 1e308, "x",
          "a" * 64, "A" * 64, None, [], {}, [1.0, 2.0, 0.5], [1, 2, 3], [True] * 3,
          [0.5] * 8, [-1.0, 2.0, 0.5], {"length": 40}]


def test_steps_valid_never_passes_what_check_step_refuses():
    """Every one-field mutation of a valid step (and of its reports object): whenever the
    column check says valid, the per-record check agrees."""
    header = {"n": 3, "V": 12, "has_reference": False}
    base = _valid_step()
    assert schema.steps_valid([base, base], header)
    checked = refused = 0
    for key in list(base) + [f"reports.{k}" for k in base["reports"]] + ["extra"]:
        for value in VALUES:
            rec = json.loads(json.dumps(base))
            if key.startswith("reports."):
                rec["reports"][key.split(".")[1]] = value
            else:
                rec[key] = value
            try:
                schema.check_step(rec, "t.jsonl:4", header)
                ok = True
            except InvalidInput:
                ok, refused = False, refused + 1
            if schema.steps_valid([base, rec, base], header):
                assert ok, (key, value)
            checked += 1
    assert refused > 200 and checked > 300


def test_many_step_uniforms_equals_step_uniforms():
    rng = np.random.default_rng(8)
    for seed in (0, 1, 7, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, 2 ** 64 - 1, 2 ** 95):
        steps = np.concatenate([[0, 1, 2 ** 32 - 1], rng.integers(0, 2 ** 32, 40)])
        for n in (1, 2, 8):
            want = np.array([step_uniforms(seed, int(s), n) for s in steps])
            np.testing.assert_array_equal(many_step_uniforms(seed, steps, n + 5), want)
    assert many_step_uniforms(2 ** 96, [1], 6) is None      # too many entropy words
    assert many_step_uniforms(1, [2 ** 32], 6) is None      # a step of two words
    assert many_step_uniforms(1, [2 ** 63, 2 ** 63 + 1], 6) is None   # no int64 holds it


def test_steps_beyond_int64_are_a_divergence_not_an_internal_error(tmp_path, capsys):
    """Steps 2**63, 2**63 + 1, 2**63 + 2 (valid JSON integers, the chain recomputed) follow
    one another, so they reached the vectorized filter, whose int64 conversion overflowed:
    exit 3 (an internal error) where the serial audit says DIVERGED (found by the red
    team; fails without the OverflowError guard in many_step_uniforms)."""
    from tests.helpers.recording import run_cli, tamper
    run = tmp_path / "run"
    record(run, steps=3)

    def edit(recs):
        for k, r in enumerate(recs[1:-1]):
            r["step"] = 2 ** 63 + k
    tamper(run, edit, rechain=True)
    for extra in ([], ["--serial"]):
        rc, out = run_cli(capsys, "audit", run, *extra)
        assert rc == 1 and "DIVERGED" in out and "steps must be numbered" in out, out


@pytest.mark.parametrize("forge", ["payment", "token", "value"])
def test_a_forged_dense_step_never_passes_the_filter(tmp_path, forge):
    """The dense steps (every 5th here) are checked apart from the sparse ones."""
    from dataclasses import replace
    from tests.properties.audit.test_chunked_values import filter_values
    run = top_p_run(tmp_path / "a", 4, False, 3)
    header, auction, items, ok, _ = filter_values(run)
    dense = [k for k in np.flatnonzero(ok) if items[k].rows.idx.size == 4 * 600]
    assert len(dense) >= 3 and len(dense) < ok.sum()
    k = dense[1]
    rec = items[k].record
    if forge == "payment":
        i = int(np.argmax(rec["bids"]))
        rec["payments"][i] += 1e-7 * rec["bids"][i]
    elif forge == "token":
        rec["token"] = (rec["token"] + 1) % 600
    else:  # one probability moved to another token of the same row: sums still 1
        val = items[k].rows.val.copy()
        j = int(np.argmax(val[:600]))
        val[j], val[j + 1] = val[j] * 0.5, val[j + 1] + val[j] * 0.5
        items[k].rows = replace(items[k].rows, val=val)
    aud = chunked.ChunkAuditor(header, 1e-9, 1e-6, chunked.payment_method(auction, header), True)
    again = aud.check([(it, []) for it in items])
    assert not again[k] and again.sum() == ok.sum() - 1


def test_read_ahead_is_bounded(tmp_path, line_by_line, monkeypatch):
    """At most REGION_BYTES of the side file are held for a batch; the blocks after them
    are read one by one, with the same report."""
    monkeypatch.setattr(stream, "REGION_BYTES", 30000)
    held, real = [], stream._Side.prefetch

    def spy(self, locs):
        real(self, locs)
        held.append(sum(length for length, _, _ in self.ahead.values()))
    monkeypatch.setattr(stream._Side, "prefetch", spy)
    run = top_p_run(tmp_path / "a", 3, False, 9)
    report = agree(run, line_by_line)
    assert report.exit_code == 0 and 0 < max(held) <= 30000 < side_path(run).stat().st_size


def test_read_lines_holds_at_most_one_cut_line():
    """A line longer than MAX_LINE comes back cut at MAX_LINE + 2 bytes and ends the batch:
    the file is not read further (planted: ``fh.readlines(hint)`` reads the whole line)."""
    import io
    from mechanism.records import MAX_LINE, read_line, read_lines
    fh = io.BytesIO(b'{"a":1}\n' + b"x" * (3 * MAX_LINE) + b"\n" + b'{"b":2}\n')
    lines = read_lines(fh, 1 << 18)
    assert [len(x) for x in lines] == [8, MAX_LINE + 2] and fh.tell() == MAX_LINE + 10
    assert read_line(io.BytesIO(b"y" * (MAX_LINE + 5))) == b"y" * (MAX_LINE + 2)
    with pytest.raises(InvalidInput, match="longer than"):
        parse_line(lines[1], "run:2")


@pytest.mark.parametrize("newline", [True, False])
def test_a_huge_line_is_refused_in_bounded_memory(tmp_path, newline):
    """A transcript holding a 64 MiB line (the file's last, with or without its newline): exit
    2 naming the line, after every earlier step was audited, and the audit never holds the
    line (tracemalloc peak under 48 MiB; planted: ``fh.readlines``/``fh.readline()`` held
    the whole line, a peak over 64 MiB, and a 1 GB line took 2.2 GB)."""
    import tracemalloc
    from mechanism.records import MAX_LINE
    run = record(tmp_path / "run", n=3, steps=20)
    path = run / JSONL
    lines = path.read_bytes().splitlines(keepends=True)
    with open(path, "wb") as fh:
        fh.write(b"".join(lines[:11]))
        fh.write(b'{"a":"' + b"x" * (4 * MAX_LINE) + (b'"}\n' if newline else b""))
    tracemalloc.start()
    try:
        report = run_module.audit_run(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.exit_code == 2 and report.error_line == 12, report.summary()
    assert "longer than" in report.error and report.steps_read == 10, report.error
    assert peak < 3 * MAX_LINE, peak


@pytest.mark.parametrize("length", [0, 1, 3])
def test_a_block_of_under_four_bytes_is_an_inputs_divergence(tmp_path, line_by_line, length):
    """A step whose reports block is 0-3 bytes (its SHA-256 matching, the chain recomputed):
    an ``inputs`` divergence in every path (planted: _walk_words read word 0 of an empty
    region, an IndexError, exit 3)."""
    from tests.helpers.recording import tamper
    run = record(tmp_path / "run", n=3, steps=4)
    side = side_path(run).read_bytes()

    def edit(recs):
        loc = recs[1]["reports"]
        loc["length"] = length
        loc["sha256"] = hashlib.sha256(side[loc["offset"]:loc["offset"] + length]).hexdigest()
    tamper(run, edit, rechain=True)
    report = agree(run, line_by_line)
    assert report.exit_code == 1 and report.first_divergence.check == "inputs", report.summary()
    assert blocks.decode_blocks(b"", [(0, 0)], 3, 12) == [None]
