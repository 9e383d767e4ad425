"""The forgery corpus of recorded runs: every forged or malformed transcript is caught with
the documented exit code (2 malformed, 1 well-formed but wrong), one line naming the file,
line, field and value, and no traceback (docs/audit.md, "Threat model")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mechanism.transcript import JSONL
from tests.helpers.recording import record, records, run_cli, write


def audit(capsys, run, *extra) -> tuple[int, str]:
    return run_cli(capsys, "audit", run, "--quiet", *extra)


def lines(run) -> list[bytes]:
    return (run / JSONL).read_bytes().splitlines(keepends=True)


def put(run, rows: list[bytes]) -> None:
    (run / JSONL).write_bytes(b"".join(rows))


def edit_line(run, k: int, old: bytes, new: bytes) -> None:
    rows = lines(run)
    assert old in rows[k - 1], rows[k - 1]
    rows[k - 1] = rows[k - 1].replace(old, new, 1)
    put(run, rows)


def rechained(run, edit) -> None:
    recs = records(run)
    edit(recs)
    write(run, recs, rechain=True)


def head_of(run) -> str:
    return json.loads(lines(run)[-1])["hash"]


@pytest.fixture
def run(tmp_path):
    return record(tmp_path / "run", n=3, steps=8)


# -- bytes are the record ---------------------------------------------------------------------

def test_duplicate_key_is_refused_even_with_expect_head(capsys, run):
    head = head_of(run)
    edit_line(run, 3, b"}\n", b',"token":0}\n')  # the chain untouched: it hashed the bytes
    for extra in ((), ("--expect-head", head)):
        rc, text = audit(capsys, run, *extra)
        assert rc == 2 and "transcript.jsonl:3" in text and "duplicate key 'token'" in text


@pytest.mark.parametrize("old,new", [(b"1.0,", b"1.00,"), (b"1.0,", b"1e0,"),
                                     (b'"step":1', b'"step": 1'), (b"}\n", b"}\r\n"),
                                     (b'{"bids"', b' {"bids"')])
def test_non_canonical_bytes_are_refused(capsys, run, old, new):
    edit_line(run, 3, old, new)
    rc, text = audit(capsys, run)
    assert rc == 2 and "transcript.jsonl:3" in text and "canonical" in text


def test_blank_line_is_refused(capsys, run):
    rows = lines(run)
    put(run, rows[:3] + [b"\n"] + rows[3:])
    rc, text = audit(capsys, run)
    assert rc == 2 and "transcript.jsonl:4" in text and "blank line" in text


def test_a_last_line_without_its_newline_is_refused(capsys, run):
    """Other bytes, the same records and the same chain head: not the record (planted: the
    old warning and exit 0 fails this)."""
    rows = lines(run)
    rows[-1] = rows[-1][:-1]
    put(run, rows)
    rc, text = audit(capsys, run)
    assert rc == 2 and f"transcript.jsonl:{len(rows)}" in text and "no final newline" in text


def test_a_byte_order_mark_is_refused(capsys, run):
    rows = lines(run)
    put(run, [b"\xef\xbb\xbf" + rows[0]] + rows[1:])
    rc, text = audit(capsys, run)
    assert rc == 2 and "transcript.jsonl:1" in text and "BOM" in text


def test_deep_nesting_is_refused(capsys, run):
    rows = lines(run)
    rows[2] = rows[2].replace(b"}\n", b',"x":' + b"[" * 1000 + b"]" * 1000 + b"}\n")
    put(run, rows)
    rc, text = audit(capsys, run)
    assert rc == 2 and "transcript.jsonl:3" in text and ("nested" in text or "JSON" in text)


def test_nan_and_invalid_utf8_are_refused(capsys, run):
    edit_line(run, 4, b"1.0,", b"NaN,")
    rc, text = audit(capsys, run)
    assert rc == 2 and ":4:" in text and "NaN" in text
    edit_line(run, 4, b"NaN,", b"\xff,")
    rc, text = audit(capsys, run)
    assert rc == 2 and ":4:" in text


def test_unreadable_transcript_is_exit_2(capsys, run):
    (run / JSONL).unlink()
    (run / JSONL).mkdir()
    rc, text = audit(capsys, run)
    assert rc == 2 and JSONL in text


# -- the strict schema ----------------------------------------------------------------------

def _set(line, key, value):
    def edit(recs):
        recs[line - 1][key] = value
    return edit


SCHEMA = [  # (line, field, value, words the error must hold)
    (3, "token", 2.0, "field token = 2.0"), (3, "step", True, "field step = True"),
    (3, "step", -1, "field step = -1"), (3, "token", [2], "field token = [2]"),
    (3, "payments", ["x", "y", "z"], "field payments[0] = 'x'"),
    (3, "uniforms", "0.5", "field uniforms = '0.5'"), (3, "bids", ["1", 2.0, 0.5], "bids[0]"),
    (3, "extra", 1, "field extra = 1 is not a field"), (1, "seed", -1, "field seed = -1"),
    (1, "stop_tokens", [[0]], "stop_tokens[0]"), (1, "stop_tokens", 5, "field stop_tokens = 5"),
    (1, "V", 6, "field reports.length"), (1, "V", 4194304, "memory budget"),
    (1, "format", "tokenauction-transcript/0", "is not a transcript format"),
]


@pytest.mark.parametrize("line,field,value,words", SCHEMA)
def test_schema_violation_is_exit_2_naming_line_field_value(capsys, run, line, field, value,
                                                            words):
    rechained(run, _set(line, field, value))
    rc, text = audit(capsys, run)
    assert rc == 2 and words in text
    error = [x for x in text.splitlines() if "error:" in x]
    assert len(error) == 1 and JSONL in error[0]


def test_header_sizes_over_the_memory_budget_allocate_nothing(capsys, run):
    def edit(recs):
        recs[0]["n"], recs[0]["V"] = 4096, 1 << 24
    rechained(run, edit)
    rc, text = audit(capsys, run)
    assert rc == 2 and "field V = 16777216" in text and "GiB" in text


def test_payment_errors_are_replayed_not_trusted(capsys, run):
    rechained(run, _set(3, "payment_errors", [1e9, 1e9, 1e9]))
    rc, text = audit(capsys, run)
    assert rc == 1 and "payment_errors[0]" in text


# -- well-formed but wrong: divergences ------------------------------------------------------

def test_step_beyond_max_tokens_is_a_divergence(capsys, tmp_path):
    long = record(tmp_path / "long", n=3, steps=9)   # a correctly computed 9th step
    rechained(long, _set(1, "max_tokens", 8))         # and a header that allows 8
    rc, text = audit(capsys, long)
    assert rc == 1 and "a step beyond the header's max_tokens" in text


def test_missing_end_record_is_a_divergence(capsys, run):
    put(run, lines(run)[:-1])
    rc, text = audit(capsys, run)
    assert rc == 1 and "no end record" in text


def test_small_payment_lowered_by_9e_10_is_caught(capsys, tmp_path):
    small = record(tmp_path / "small", n=3, steps=6, bids=[1e-6, 2e-6, 5e-7])

    def edit(recs):
        for rec in recs[1:-1]:
            rec["payments"] = [z - 9e-10 for z in rec["payments"]]
    rechained(small, edit)
    rc, text = audit(capsys, small)
    assert rc == 1 and "FIRST DIVERGENCE: [replay_payments]" in text


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e-6, 1.0, 1e6, 1e150, 1e300])
def test_tolerances_relative_from_1e_minus_300_to_1e300(capsys, tmp_path, scale):
    r = record(tmp_path / "r", n=3, steps=4, bids=[scale, 2 * scale, 0.5 * scale])
    rc, text = audit(capsys, r)
    assert rc == 0, text
    assert "tolerances: replayed payments within 1e-09 x max(|replayed|, |recorded|) + 32 ulps " \
        "x (V + n) x total weight" in " ".join(text.split())

    def edit(recs):  # one part in 1e6 of one payment, at any scale
        recs[2]["payments"][1] *= 1 + 1e-6
    rechained(r, edit)
    rc, text = audit(capsys, r)
    assert rc == 1 and "payments[1]" in text


def _provider(similar: bool):
    rng = np.random.default_rng(0)

    def provider(prefix):
        base = rng.dirichlet(np.ones(12))
        P = np.vstack([base, rng.dirichlet(np.ones(12)), rng.dirichlet(np.ones(12))])
        if similar:   # agent 0 reports what the others report, to one part in 1e9
            P[1] = P[2] = base
            P[0] = base * (1 + 1e-9 * rng.standard_normal(12))
            P[0] /= P[0].sum()
        return P
    return provider


@pytest.mark.parametrize("serial", [False, True])
@pytest.mark.parametrize("similar,bids,forged", [
    (False, [1e12, 1.0, 1.0], 0.0),      # a dominant bidder's payment of ~34 forged to 0
    (True, [1.0, 2.0, 0.5], 9e-10)])     # a payment of ~3e-11 charged 30 times over
def test_a_payment_far_below_its_bid_is_compared_to_itself(capsys, tmp_path, serial, similar,
                                                            bids, forged):
    """Was (red team): the slack was tol x max(|replayed|, |recorded|, b_i), and b_i swamped
    a payment far below it: both forgeries audited CLEAN, serially and in chunks."""
    from mechanism import TokenAuction
    run = tmp_path / "run"
    TokenAuction("linear").run(_provider(similar), bids, seed=3, max_tokens=12, record_to=run)
    flags = ["--serial"] if serial else []
    rc, text = audit(capsys, run, *flags)
    assert rc == 0, text                                   # the honest run stays clean

    def edit(recs):
        for r in recs[1:-1]:
            r["payments"][0] = forged
    rechained(run, edit)
    rc, text = audit(capsys, run, *flags)
    assert rc == 1 and "payments[0]" in text, text


def test_an_audit_of_a_line_with_an_overflowing_number_is_exit_2(tmp_path):
    from mechanism.transcript import JSONL
    from properties.audit.replay import audit_run
    from tests.helpers.recording import record
    run = record(tmp_path / "run", steps=4)
    lines = (run / JSONL).read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"bids":[', b'"bids":[1e400,', 1)
    (run / JSONL).write_bytes(b"\n".join(lines))
    report = audit_run(run)
    assert report.exit_code == 2 and report.error_line == 3 and "float64 range" in report.error


@pytest.mark.parametrize("rule", ["winner_take_all", "log_linear"])
def test_a_race_under_another_rule_is_refused_recorded_or_replayed(capsys, tmp_path, rule):
    """Was (red team): the exponential race draws from the linear mixture whatever the rule;
    a run under winner_take_all drew tokens of probability 0 and audited CLEAN. Refused
    when built, and a header claiming it (a forged run) is refused by the audit."""
    from mechanism import InvalidInput, TokenAuction
    with pytest.raises(InvalidInput, match="linear mixture"):
        TokenAuction(rule, sampler="exponential_race")
    run = record(tmp_path / "run", n=3, steps=3, sampler="exponential_race")

    def edit(recs):
        recs[0]["rule"] = rule
    rechained(run, edit)
    rc, text = audit(capsys, run)
    assert rc != 0 and "CLEAN" not in text, text


def test_a_user_rule_named_like_a_built_in_is_recorded_as_a_user_rule(capsys, tmp_path):
    """Was (red team): a file's `linear` (weights b**2) was recorded as rule=linear; the
    command-line audit rebuilt the built-in and reported a divergence of an honest run."""
    import numpy as np
    from mechanism import TokenAuction, as_rule
    from properties.audit.replay import audit_run

    def squared(dists, bids):
        w = np.asarray(bids, float) ** 2
        return w @ np.asarray(dists, float) / w.sum()
    auction = TokenAuction(as_rule(squared, name="linear"))
    assert auction.header()["rule"] == "user-rule:linear"
    assert TokenAuction("linear").header()["rule"] == "linear"
    run = tmp_path / "run"
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    auction.run(lambda prefix: P, [1.0, 2.0], seed=0, max_tokens=4, record_to=run)
    rc, text = audit(capsys, run)
    assert rc == 2 and "not built in" in text and "DIVERGED" not in text, text
    assert audit_run(run, auction=auction).exit_code == 0     # with the rule: clean
