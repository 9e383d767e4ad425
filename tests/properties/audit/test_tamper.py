"""Tampering and faults: each is detected by the right check, with the first divergence
naming step, line, agent, field, expected and recorded values.

Every audit in this module runs twice -- vectorized (the default) and serial -- and the
two reports must agree (the chunked path changes speed, never a verdict)."""

from __future__ import annotations

import json
import struct

import pytest

from mechanism.transcript import JSONL, folder_digest
from properties.audit import replay as run_module

from tests.helpers.audit_compare import same_reports
from tests.helpers.recording import record, records, side_path, tamper


def audit_run(run_dir, **kw):
    """The vectorized audit, checked against the serial one on the same run."""
    new = run_module.audit_run(run_dir, **kw)
    old = run_module.audit_run(run_dir, vectorized=False, **kw)
    same_reports(new, old)
    return new


@pytest.fixture
def run(tmp_path):
    return record(tmp_path / "run", n=3, steps=8)


def first(report):
    assert report.exit_code == 1, report.summary()
    return report.first_divergence


def set_payment(recs, line=4, agent=1, delta=0.01):
    recs[line - 1]["payments"][agent] += delta


@pytest.mark.parametrize("rechain", [False, True])
def test_changed_payment(run, rechain):
    tamper(run, set_payment, rechain=rechain)
    d = first(audit_run(run))
    if not rechain:
        assert (d.check, d.line, d.step, d.field) == ("chain", 4, 2, "hash")
    else:  # the chain is valid again, but the replay recomputes the payment
        assert (d.check, d.line, d.step, d.agent, d.field) == ("replay_payments", 4, 2, 1,
                                                               "payments[1]")
        assert d.recorded == pytest.approx(d.expected + 0.01)
        assert "payments[1]" in str(d) and "step 2" in str(d)


@pytest.mark.parametrize("rechain", [False, True])
def test_changed_token(run, rechain):
    def edit(recs):
        recs[5]["token"] = (recs[5]["token"] + 1) % 12
    tamper(run, edit, rechain=rechain)
    d = first(audit_run(run))
    assert (d.check, d.line, d.step) == (("chain", 6, 4) if not rechain else
                                         ("replay_token", 6, 4))


@pytest.mark.parametrize("rechain", [False, True])
def test_changed_bid(run, rechain):
    def edit(recs):
        recs[3]["bids"][0] = 1.25
    tamper(run, edit, rechain=rechain)
    d = first(audit_run(run))
    assert d.line == 4 and d.step == 2
    assert d.check == ("chain" if not rechain else "replay_payments")


@pytest.mark.parametrize("rechain", [False, True])
def test_dropped_step(run, rechain):
    tamper(run, lambda recs: recs.pop(4), rechain=rechain)
    report = audit_run(run)
    d = first(report)
    assert d.line == 5 and d.step == 4
    assert d.check == ("chain" if not rechain else "sequence")
    if rechain:
        assert (d.field, d.expected, d.recorded) == ("step", 3, 4)
        assert report.tallies["side_file"].failed == 1  # the block offsets jump too


@pytest.mark.parametrize("rechain", [False, True])
def test_duplicated_step(run, rechain):
    tamper(run, lambda recs: recs.insert(4, dict(recs[3])), rechain=rechain)
    d = first(audit_run(run))
    assert d.line == 5 and d.step == 2
    assert d.check == ("chain" if not rechain else "sequence")


@pytest.mark.parametrize("rechain", [False, True])
def test_reordered_steps(run, rechain):
    def edit(recs):
        recs[3], recs[4] = recs[4], recs[3]
    tamper(run, edit, rechain=rechain)
    d = first(audit_run(run))
    assert d.line == 4 and d.step == 3
    assert d.check == ("chain" if not rechain else "sequence")


def test_changed_uniforms_with_rechain(run):
    def edit(recs):
        recs[2]["uniforms"][0] = 0.999
    tamper(run, edit, rechain=True)
    d = first(audit_run(run))
    assert (d.check, d.step, d.field, d.recorded) == ("uniforms", 1, "uniforms[0]", 0.999)


def _edit_value(run, step=3, row=1):
    """Overwrite one probability of agent ``row`` at ``step`` in reports.bin."""
    loc = records(run)[step + 1]["reports"]
    data = bytearray(side_path(run).read_bytes())
    pos = loc["offset"]
    for _ in range(row):
        (nnz,) = struct.unpack_from("<i", data, pos)
        pos += 4 + 12 * nnz
    (nnz,) = struct.unpack_from("<i", data, pos)
    vals = pos + 4 + 4 * nnz
    a, b = struct.unpack_from("<dd", data, vals)
    struct.pack_into("<dd", data, vals, a + 0.05, b - 0.05)  # still sums to 1
    side_path(run).write_bytes(bytes(data))
    return data, loc


def test_edited_distribution(run):
    _edit_value(run)
    d = first(audit_run(run))
    assert (d.check, d.step, d.field) == ("side_file", 3, "reports.sha256")


def test_edited_distribution_with_updated_hashes_is_still_replayed(run):
    import hashlib
    data, loc = _edit_value(run)
    blob = bytes(data[loc["offset"]: loc["offset"] + loc["length"]])

    def edit(recs):
        recs[4]["reports"]["sha256"] = hashlib.sha256(blob).hexdigest()
    tamper(run, edit, rechain=True)
    report = audit_run(run)
    d = first(report)
    assert d.step == 3 and d.check in ("replay_payments", "replay_token")


def test_truncated_mid_line_reports_every_step_before(run):
    path = run / JSONL
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:8]) + lines[8][:40])  # cut the last step's line
    report = audit_run(run)
    assert report.exit_code == 2 and report.error_line == 9
    assert f"{JSONL}:9" in report.error and "truncated" in report.error
    assert report.steps_read == report.steps_replayed == 7  # every step before line 9
    assert report.first_divergence is None


def test_corrupted_line_in_the_middle(run):
    path = run / JSONL
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = "{not json\n"
    path.write_text("".join(lines))
    report = audit_run(run)
    assert report.exit_code == 2 and report.error_line == 5 and report.steps_read == 3
    assert f"{JSONL}:5" in report.error and "corrupted" in report.error


def test_truncated_at_a_line_boundary_is_detected(run):
    tamper(run, lambda recs: (recs.pop(), recs.pop()), rechain=False)  # end record + last step
    report = audit_run(run)
    assert report.exit_code == 1 and report.steps_read == 7
    fields = {(d.check, d.field) for d in report.divergences}
    assert ("sequence", "end") in fields and ("sequence", "steps") in fields


def test_end_record_catches_a_dropped_last_step(run):
    report = audit_run(run)
    assert report.exit_code == 0 and not report.warnings
    tamper(run, lambda recs: recs.pop(-2), rechain=True)  # drop the last step, keep the end
    d = first(audit_run(run))
    assert (d.check, d.field, d.expected, d.recorded) == ("sequence", "steps", 8, 7)
    fields = {(d.field, d.expected, d.recorded) for d in audit_run(run).divergences}
    assert ("end.steps", 8, 7) in fields


def test_end_record_contradicting_the_run(run):
    def edit(recs):
        recs[-1]["stopped"] = "stop_token"
    tamper(run, edit, rechain=True)
    d = first(audit_run(run))
    assert (d.check, d.field) == ("sequence", "end.stopped")


def test_max_tokens_in_header_catches_truncation(run):
    def edit(recs):
        recs[0]["max_tokens"] = 10
    tamper(run, edit, rechain=True)
    d = first(audit_run(run))
    assert (d.check, d.field, d.expected, d.recorded) == ("sequence", "steps", 10, 8)


def test_side_file_truncated(run):
    data = side_path(run).read_bytes()
    side_path(run).write_bytes(data[: len(data) - 10])
    report = audit_run(run)
    assert report.exit_code == 2 and report.error_line == 9 and report.steps_read == 7
    assert "truncated" in report.error


def test_missing_side_file(run):
    side_path(run).unlink()
    report = audit_run(run)
    assert report.exit_code == 2 and "reports.bin" in report.error


# -- bad inputs: clear errors -----------------------------------------------------------

def unreadable(report, *words):
    """Malformed input: exit 2, one line naming the file, the line and each word."""
    assert report.exit_code == 2, report.summary()
    assert "\n" not in report.error and JSONL in report.error
    for word in words:
        assert word in report.error, report.error
    return report.error


def test_nan_bid(run):
    def edit(recs):
        recs[2]["bids"][1] = float("nan")
    tamper(run, edit, rechain=True)
    unreadable(audit_run(run), ":3:", "NaN")


def test_huge_bid(run):
    def edit(recs):
        recs[2]["bids"] = [1e308, 1e308, 1.0]
    tamper(run, edit, rechain=True)
    d = first(audit_run(run))
    assert (d.check, d.step) == ("inputs", 1) and d.field in ("bids", "replay")
    assert "overflow" in str(d.recorded) + d.message


def test_wrong_number_of_bids(run):
    def edit(recs):
        recs[2]["bids"] = [1.0, 2.0]
    tamper(run, edit, rechain=True)
    unreadable(audit_run(run), ":3:", "field bids = [1.0, 2.0]", "list of 3 numbers")


def test_wrong_payment_shape(run):
    def edit(recs):
        recs[2]["payments"] = [0.1]
    tamper(run, edit, rechain=True)
    unreadable(audit_run(run), ":3:", "field payments = [0.1]")


def test_mismatched_vocabulary(run):
    def edit(recs):
        recs[0]["V"] = 6  # agents report over 12 tokens
    tamper(run, edit, rechain=True)
    unreadable(audit_run(run), ":2:", "field reports.length = 444", "0..228")


def test_wrong_row_count(run):
    def edit(recs):
        recs[0]["has_reference"] = True  # one row per step missing
    tamper(run, edit, rechain=True)
    unreadable(audit_run(run), ":2:", "field reports.rows = 3", "integer 4")


@pytest.mark.parametrize("value", [-1, 0, 1 << 40, "12", 1.5])
def test_bad_header_sizes(run, value):
    def edit(recs):
        recs[0]["V"] = value
    tamper(run, edit, rechain=True)
    unreadable(audit_run(run), ":1:", f"field V = {value!r}")


def test_header_not_json_and_unknown_rule(run):
    def edit(recs):
        recs[0]["rule"] = "nope"
    tamper(run, edit, rechain=True)
    report = audit_run(run)
    assert report.exit_code == 2 and "unknown rule 'nope'" in report.error
    assert f"{JSONL}:1 (the header): field rule" in report.error   # was: no line, no field
    (run / JSONL).write_text("garbage\n")
    report = audit_run(run)
    assert report.exit_code == 2 and ":1" in report.error


def test_nan_probability_in_side_file(tmp_path):
    import hashlib
    run = record(tmp_path / "run", n=2, steps=3)
    loc = records(run)[2]["reports"]
    data = bytearray(side_path(run).read_bytes())
    (nnz,) = struct.unpack_from("<i", data, loc["offset"])
    struct.pack_into("<d", data, loc["offset"] + 4 + 4 * nnz, float("nan"))
    side_path(run).write_bytes(bytes(data))
    blob = bytes(data[loc["offset"]: loc["offset"] + loc["length"]])

    def edit(recs):
        recs[2]["reports"]["sha256"] = hashlib.sha256(blob).hexdigest()
    tamper(run, edit, rechain=True)
    d = first(audit_run(run))
    assert d.check == "inputs" and d.agent == 0 and "nan" in d.message


def test_audit_of_tampered_run_modifies_nothing(run):
    tamper(run, set_payment, rechain=True)
    before = folder_digest(run)
    audit_run(run)
    assert folder_digest(run) == before


def test_json_report_of_divergence(run):
    tamper(run, set_payment, rechain=True)
    out = audit_run(run).to_json()
    json.dumps(out)
    fd = out["first_divergence"]
    assert fd["step"] == 2 and fd["agent"] == 1 and fd["check"] == "replay_payments"
    assert out["checks"]["replay_payments"]["verdict"] == "REFUTED"


def test_expect_head_catches_a_consistent_rewrite(run):
    head = audit_run(run).head_hash
    assert audit_run(run, expect_head=head).exit_code == 0
    tamper(run, set_payment, rechain=True)
    report = audit_run(run, expect_head=head)
    heads = [d for d in report.divergences if d.field == "head"]
    assert heads and heads[0].expected == head and heads[0].check == "chain"
