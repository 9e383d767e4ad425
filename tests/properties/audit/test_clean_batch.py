"""The stream's batch check (properties/audit/clean_batch.py) against one line at a time:
on clean and forged runs, read in batches of a few lines, the report with the batch check
equals the report with every batch read line by line -- same divergences in the same
order, same tallies, same error and head -- and a forged batch is never counted clean."""

from __future__ import annotations

import pytest

from mechanism.transcript import JSONL
from properties.audit import clean_batch, stream
from properties.audit import replay as run_module

from tests.helpers.audit_compare import same_reports
from tests.helpers.recording import record, records, side_path, tamper, write


def _flip_side(run, at):
    data = bytearray(side_path(run).read_bytes())
    data[at] ^= 0x01
    side_path(run).write_bytes(bytes(data))


def _edit(key, value, step=11):
    return lambda recs: recs[1 + step].__setitem__(key, value)


FORGERIES = {
    "clean": lambda recs: None,
    "dropped line": lambda recs: recs.pop(1 + 9),
    "duplicated line": lambda recs: recs.insert(1 + 9, dict(recs[1 + 9])),
    "swapped lines": lambda recs: recs.__setitem__(slice(10, 12), [recs[11], recs[10]]),
    "payment": lambda recs: recs[1 + 11]["payments"].__setitem__(1, 0.5),
    "step number": _edit("step", 40),
    "token": lambda recs: recs[1 + 11].__setitem__("token", (recs[1 + 11]["token"] + 1) % 12),
    "offset": lambda recs: recs[1 + 13]["reports"].__setitem__("offset", 4),
    "rows": lambda recs: recs[1 + 13]["reports"].__setitem__("rows", 2),
    "sha256": lambda recs: recs[1 + 13]["reports"].__setitem__("sha256", "0" * 64),
    "no end record": lambda recs: recs.pop(),
    "line after the end": lambda recs: recs.append(dict(recs[-2])),
    "fewer max_tokens": lambda recs: recs[0].__setitem__("max_tokens", 17),
    "stop token mid-run": lambda recs: recs[0].__setitem__("stop_tokens", [recs[1 + 12]["token"]]),
}


def _reports(run, monkeypatch, **kw):
    """The audit with the batch check, then with every batch read line by line."""
    monkeypatch.setattr(stream, "BATCH_BYTES", 3000)   # a few lines a batch
    new = run_module.audit_run(run, **kw)
    monkeypatch.setattr(stream, "clean_batch", lambda *a: None)
    old = run_module.audit_run(run, **kw)
    return new, old


@pytest.mark.parametrize("rechain", [True, False])
@pytest.mark.parametrize("name", list(FORGERIES))
def test_batch_check_equals_line_by_line(tmp_path, monkeypatch, name, rechain):
    run = record(tmp_path / "run", n=3, steps=30)
    tamper(run, FORGERIES[name], rechain=rechain)
    for vectorized in (True, False):
        new, old = _reports(run, monkeypatch, vectorized=vectorized)
        same_reports(new, old)
        monkeypatch.undo()
        if name == "clean":
            assert new.exit_code == 0 and new.steps_replayed == 30
        else:
            assert new.exit_code != 0, name


@pytest.mark.parametrize("at", [0, 5, 200, -1])
def test_edited_side_file(tmp_path, monkeypatch, at):
    run = record(tmp_path / "run", n=3, steps=30)
    size = side_path(run).stat().st_size
    _flip_side(run, at % size)
    new, old = _reports(run, monkeypatch)
    same_reports(new, old)
    assert new.exit_code != 0 and new.tallies["side_file"].failed >= 1


def test_truncated_side_file_and_cut_line(tmp_path, monkeypatch):
    run = record(tmp_path / "run", n=3, steps=30)
    side_path(run).write_bytes(side_path(run).read_bytes()[:-40])
    new, old = _reports(run, monkeypatch)
    same_reports(new, old)
    assert new.exit_code == 2
    run2 = record(tmp_path / "run2", n=3, steps=30)
    text = (run2 / JSONL).read_bytes()
    (run2 / JSONL).write_bytes(text[: text.index(b"\n", len(text) // 2) + 30])
    monkeypatch.undo()
    new, old = _reports(run2, monkeypatch)
    same_reports(new, old)
    assert new.exit_code == 2 and new.steps_read > 0


def test_a_batch_check_that_ignores_the_chain_is_caught(tmp_path, monkeypatch):
    """Planted bug: a batch check that skips the line hashes passes an edited line, so
    the reports differ (the test above would fail)."""
    run = record(tmp_path / "run", n=3, steps=30)
    tamper(run, FORGERIES["payment"], rechain=False)
    monkeypatch.setattr(clean_batch, "_chain_ok", lambda lines, recs, prev: True)
    new, old = _reports(run, monkeypatch)
    assert new.tallies["chain"].failed == 0 < old.tallies["chain"].failed
    with pytest.raises(AssertionError):
        same_reports(new, old)


def test_clean_batch_changes_no_state(tmp_path):
    """A refused batch leaves the walk as it was (the stream then reads it line by line)."""
    run = record(tmp_path / "run", n=3, steps=12)
    recs = records(run)
    recs[1 + 5]["token"] = 3
    write(run, recs, rechain=False)
    lines = (run / JSONL).read_bytes().splitlines(keepends=True)[1:]
    header = stream.read_run_header(run)
    walk = stream._Walk(header)
    before = dict(vars(walk))
    with open(side_path(run), "rb") as fh:
        side = stream._Side(fh, side_path(run).stat().st_size, header, True)
        parsed = stream._batch(lines, 2, run / JSONL, header)
        assert parsed is not None
        assert clean_batch.clean_batch(lines, parsed, walk, side, header["max_tokens"]) is None
    assert vars(walk) == before


def test_a_block_read_twice(tmp_path, monkeypatch):
    """Step 12 points at step 11's block (same bytes, same SHA-256, rechained): only the
    offsets show it, and the batch check must not count that batch clean."""
    run = record(tmp_path / "run", n=3, steps=30)
    recs = records(run)
    a, b = recs[1 + 11]["reports"], recs[1 + 12]["reports"]
    assert a["length"] == b["length"]
    b["offset"], b["sha256"] = a["offset"], a["sha256"]
    write(run, recs, rechain=True)
    new, old = _reports(run, monkeypatch)
    same_reports(new, old)
    assert new.first_divergence.field == "reports.offset"
