"""Red-team findings on the signature check and on imported logs (docs/audit.md, "Signing
runs" and "Imported logs"): each was an internal error (exit 3) or a silent default."""

from __future__ import annotations

import json

import pytest

from mechanism.records import canonical
from properties.audit.signing import SIG_FILE, generate_key, load_key, sign_run
from tests.helpers.recording import record, run_cli


@pytest.mark.parametrize("alg", ["hmac-sha256", "ed25519"])
@pytest.mark.parametrize("field,value", [("signature", "\u00e9"), ("signature", "\ud800"),
                                         ("head", "\ud800"), ("head", "\u00e9")])
def test_a_non_ascii_signature_or_head_is_a_divergence(capsys, tmp_path, alg, field, value):
    generate_key(tmp_path / "k", alg)
    run = record(tmp_path / "run", n=3, steps=4)
    sign_run(run, load_key(tmp_path / "k", alg))
    rec = json.loads((run / SIG_FILE).read_text())
    rec[field] = value
    (run / SIG_FILE).write_bytes(canonical(rec) + b"\n")
    flag, key = ("--hmac-key", "k") if alg == "hmac-sha256" else ("--public-key", "k.pub")
    rc, text = run_cli(capsys, "audit", run, "--quiet", flag, tmp_path / key)
    assert rc == 1 and "does not verify" in text, text


HEADER = {"format": "tokenauction-log", "version": 1, "mechanism": "m", "payments": "expected"}
GOOD = {"step": 0, "bids": [1.0, 2.0], "reports": [[0.8, 0.2], [0.1, 0.9]],
        "outcome": [1 / 3, 2 / 3], "token": 1, "payments": [0.1, 0.3], "uniforms": [0.42]}


def _log(tmp_path, header, steps):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [{**HEADER, **header}, *steps]))
    return path


def test_same_digest_outcomes_of_two_lengths_are_refused(capsys, tmp_path):
    """Was an inconsistency finding; a log has one vocabulary (a malformed log, exit 2)."""
    step = {"bids": [1.0, 2.0], "reports_digest": "ab" * 32, "payments": [0.1, 0.1]}
    path = _log(tmp_path, {}, [{**step, "step": 0, "outcome": [0.5, 0.5]},
                               {**step, "step": 1, "outcome": [0.2, 0.3, 0.5]}])
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "field outcome" in text and "one vocabulary" in text, text


@pytest.mark.parametrize("rule", ["linear", "winner_take_all"])
def test_epsilon_for_a_rule_without_smoothing_is_an_error(capsys, tmp_path, rule):
    path = _log(tmp_path, {"rule": rule, "epsilon": 0.5}, [GOOD])
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "takes no smoothing epsilon" in text and str(path) in text, text


def test_an_empty_rule_is_an_error_not_no_rule(capsys, tmp_path):
    path = _log(tmp_path, {"rule": ""}, [GOOD])
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "unknown rule ''" in text and str(path) in text, text


def test_a_log_that_never_ends_is_refused_in_bounded_memory(capsys, tmp_path, monkeypatch):
    """``--log /dev/zero`` read without end (planted: ``fh.read()``); a log over the budget
    is refused when that many bytes are read, naming it; a good log still audits."""
    import os
    from properties.audit import log_schema
    assert os.path.exists("/dev/zero")
    rc, text = run_cli(capsys, "audit", "--log", "/dev/zero", "--quiet")
    assert rc == 2 and "/dev/zero:1" in text and "longer than" in text, text
    path = _log(tmp_path, {}, [{**GOOD, "step": k} for k in range(40)])
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 0, text
    monkeypatch.setattr(log_schema, "MAX_LOG_BYTES", path.stat().st_size // 2)
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "more than" in text and "split the log" in text, text


@pytest.mark.parametrize("row,words", [([2.0 ** 1023, 0.0], "must be a probability in [0, 1]"),
                                       ([0.5, 0.4], "a report is a distribution")])
def test_log_reports_that_are_not_distributions_are_refused(capsys, tmp_path, row, words):
    """A report row must sum to 1 within SUM_TOL, as the mechanism's validation asks
    (planted: no such check; [2**1023, 0] was judged, an identity of -inf)."""
    path = _log(tmp_path, {}, [{**GOOD, "step": 0, "reports": [row, [0.1, 0.9]]}])
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "reports[0]" in text and words in text, text


@pytest.mark.parametrize("header,step,words", [
    ({"sampler": "race"}, {"outcome": [0.5, 0.5], "uniforms": [0.5]}, "needs 2 uniforms")])
def test_a_token_no_sampler_can_draw_is_a_sampler_finding(capsys, tmp_path, header, step,
                                                          words):
    """Too few uniforms for the logged sampler: the logged token cannot have been drawn,
    REFUTED ``sampler`` (planted: the sampler's InvalidInput escaped audit_log as a usage
    error, exit 2). An outcome of total 0 is no distribution: refused by the schema (below)."""
    path = tmp_path / "log.jsonl"
    rows = [{"format": "tokenauction-log", **header},
            {"step": 0, "bids": [1.0, 2.0], "payments": [0.1, 0.2], "token": 0, **step}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 1 and "REFUTED: sampler" in text and words in " ".join(text.split()), text


@pytest.mark.parametrize("scale", [1.0, 1e-10, 1e-200])
def test_a_log_is_judged_at_the_scale_of_its_bids(capsys, tmp_path, scale):
    """Pay-your-bid (0.99 b_i, not individually rational, not Myerson's payment) is refuted
    whatever the bids' unit (planted: the tolerances were ``tol * max(1, b_i)``, absolute
    below a bid of 1, and a log at bids of 1e-10 audited clean)."""
    P = [[0.8, 0.2], [0.1, 0.9]]
    b = [1.0 * scale, 2.0 * scale]
    q = [(b[0] * P[0][t] + b[1] * P[1][t]) / (b[0] + b[1]) for t in range(2)]
    rows = [{"format": "tokenauction-log", "version": 1, "mechanism": "pay-your-bid",
             "rule": "linear", "payments": "expected"},
            {"step": 0, "bids": b, "reports": P, "outcome": q,
             "payments": [0.99 * x for x in b]}]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, text = run_cli(capsys, "audit", "--log", path)
    assert rc == 1, text
    for prop in ("individually_rational", "payment_identity"):
        assert any(line.split()[:1] == [prop] and "REFUTED" in line.split()
                   for line in text.splitlines()), (prop, text)


@pytest.mark.parametrize("rule,step,words", [
    ("linear", {"reports": [[2 ** 1023, 2 ** 1023], [0.5, 0.5]]},
     "field reports[0][0] = 898846567431157953864652595394512366808988489471153286367"),
    (None, {"outcome": [2 ** 1023, 2 ** 1023]}, "field outcome[0] = 8988465674311579538"),
    (None, {"outcome": [0.0, 0.0], "token": 0}, "field outcome = [0.0, 0.0] sums to 0.0"),
    (None, {"outcome": [0.5, 0.4]}, "an outcome is a distribution")])
def test_an_outcome_or_report_that_is_no_distribution_is_exit_2(capsys, tmp_path, rule, step,
                                                                words):
    """Integers of 2**1023 in a report made fsum overflow (exit 3, internal error); an
    outcome was never checked to be a distribution without a rule (nothing refuted)."""
    head = {"format": "tokenauction-log", **({"rule": rule} if rule else {})}
    path = tmp_path / "log.jsonl"
    rows = [head, {"step": 0, "bids": [1.0, 2.0], "payments": [0.1, 0.2], **step}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and words in text and "internal error" not in text, text


def test_a_log_has_one_vocabulary(capsys, tmp_path):
    path = tmp_path / "log.jsonl"
    rows = [{"format": "tokenauction-log"},
            {"step": 0, "bids": [1.0, 2.0], "payments": [0.1, 0.2], "outcome": [0.5, 0.5]},
            {"step": 1, "bids": [1.0, 2.0], "payments": [0.1, 0.2], "outcome": [1.0, 0, 0]},
            {"step": 2, "bids": [1.0, 2.0], "payments": [0.1, 0.2], "token": 2}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "log.jsonl:3" in text and "one vocabulary" in text, text
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2] + rows[3:]))
    rc, text = run_cli(capsys, "audit", "--log", path, "--quiet")
    assert rc == 2 and "log.jsonl:3" in text and "field token = 2" in text, text


@pytest.mark.parametrize("argv", [
    ["audit", "--log", "{fifo}"],
    ["audit", "{run}", "--hmac-key", "{fifo}"],
    ["audit", "{run}", "--public-key", "{fifo}"],
    ["check", "linear", "--config", "{fifo}", "--property", "monotone", "--no-prove",
     "--max-examples", "5"],
    ["demo", "--config", "{fifo}"]])
def test_a_fifo_with_no_writer_is_read_as_empty_never_waited_on(tmp_path, argv):
    """Was (red team): open() of a FIFO blocks until a writer comes; ``--log FIFO`` (and the
    key, configuration and demo-config files) hung the tool for ever."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    run = record(tmp_path / "run", steps=2)
    argv = [a.format(fifo=fifo, run=run) for a in argv]
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-m", "tokenauction", *argv], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=str(root)))
    assert out.returncode in (0, 2), (out.returncode, out.stdout + out.stderr)
    assert "internal error" not in out.stderr, out.stderr


@pytest.mark.parametrize("mode,extra,words", [
    ("run", ["--valuation", "kl"], "--valuation is not read when auditing a run"),
    ("run", ["--orders", "box", "--arg", "a=1"], "--orders, --arg are not read"),
    ("run", ["--reports", "one_hot"], "--reports is not read"),
    ("log", ["--orders", "segment"], "--orders is not read when auditing a log"),
    ("log", ["--max-examples", "5"], "--max-examples is not read when auditing a log")])
def test_an_option_the_mode_does_not_read_is_a_usage_error(capsys, tmp_path, mode, extra, words):
    """Was (red team): `audit RUN --valuation kl` printed a clean report, as if the run had
    been judged under kl; mechanism-only options were dropped without a word."""
    if mode == "run":
        target = [str(record(tmp_path / "run", steps=2))]
    else:
        path = tmp_path / "log.jsonl"
        path.write_text(json.dumps({"format": "tokenauction-log"}) + "\n" + json.dumps(
            {"step": 0, "bids": [1.0, 2.0], "payments": [0.1, 0.2]}) + "\n")
        target = ["--log", str(path)]
    rc, text = run_cli(capsys, "audit", *target, *extra, "--quiet")
    assert rc == 2 and words in text, text


def test_signing_reads_the_transcripts_tail_only(tmp_path):
    """run_head read the whole transcript into memory; a run of any length signs in bounded
    memory now (a sparse 1 GiB file ahead of the end record: nothing of it is read)."""
    import tracemalloc
    from mechanism.transcript import JSONL
    from properties.audit.signing import run_head
    run = record(tmp_path / "run", steps=2)
    last = (run / JSONL).read_bytes().splitlines(keepends=True)[-1]
    big = tmp_path / "big"
    big.mkdir()
    with open(big / JSONL, "wb") as fh:
        fh.truncate(2 ** 30)
        fh.seek(2 ** 30)
        fh.write(b"\n" + last)
    tracemalloc.start()
    try:
        assert run_head(big) == run_head(run) == json.loads(last)["hash"]
        assert tracemalloc.get_traced_memory()[1] < 64 * 2 ** 20
    finally:
        tracemalloc.stop()
    (big / JSONL).write_bytes(b"")
    with pytest.raises(Exception, match="is empty; nothing to sign"):
        run_head(big)


def test_an_outcome_our_float64_cannot_recompute_is_not_refuted(capsys, tmp_path):
    """Bids of 1e308 overflow the rule's total in float64 (Float64Range): the logged outcome,
    the exact average, was REFUTED as 'rule_undefined'; it is not judged there now."""
    rows = [{"format": "tokenauction-log", "rule": "linear"},
            {"step": 0, "bids": [1e308, 1e308], "reports": [[0.8, 0.2], [0.1, 0.9]],
             "outcome": [0.45, 0.55], "payments": [0.0, 0.0]}]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, text = run_cli(capsys, "audit", "--log", path)
    row = next(line for line in text.splitlines() if line.startswith("outcome_matches_rule"))
    assert "SKIPPED" in row and "overflow" in row, text


@pytest.mark.parametrize("payments,prop", [([-5e-11, 1e-11], "payment_nonnegative"),
                                           ([3e-10, 1e-11], "payment_at_most_bid")])
def test_a_logs_payment_bounds_are_relative_to_its_bids(capsys, tmp_path, payments, prop):
    """The bounds used tol x max(1, b_i): at bids of 1e-10 a payment of -50% of the bid, or
    of three times it, passed as within 1e-9 (the log's other checks were relative)."""
    rows = [{"format": "tokenauction-log"},
            {"step": 0, "bids": [1e-10, 2e-10], "payments": payments}]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc, text = run_cli(capsys, "audit", "--log", path)
    row = next(line for line in text.splitlines() if line.startswith(prop))
    assert rc == 1 and "REFUTED" in row, text
