"""The forgery corpus of imported logs and of third-party code (docs/audit.md): malformed
logs are exit 2 with one line, user code that exits, hangs, crashes or patches the auditor
is a finding about that code (exit 1), never the auditor's exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers.recording import run_cli

HEADER = {"format": "tokenauction-log", "version": 1, "mechanism": "m", "rule": "linear"}
STEP = {"step": 0, "bids": [1.0, 2.0], "reports": [[0.8, 0.2], [0.1, 0.9]],
        "outcome": [1 / 3 * 0.8 + 2 / 3 * 0.1, 1 / 3 * 0.2 + 2 / 3 * 0.9], "token": 1,
        "payments": [0.1, 0.2]}


def log_file(tmp_path, *rows, raw: bytes | None = None):
    path = tmp_path / "log.jsonl"
    path.write_bytes(raw if raw is not None else
                     b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    return str(path)


def _step(**kw):
    return {**STEP, **kw}


BAD_LOGS = [  # (rows, words)
    ([[1, 2]], "not a JSON object"),
    ([HEADER, _step(bids=3.0)], "field bids = 3.0"),
    ([HEADER, _step(reports=[[0.8, 0.2], [0.1]])], "reports[1]"),
    ([HEADER, _step(token="1")], "field token = '1'"),
    ([HEADER, _step(payments=[0.1])], "field payments = [0.1]"),
    ([HEADER, _step(extra=1)], "field extra = 1 is not a field"),
    ([HEADER, _step(bids=[-1.0, 2.0])], "field bids[0] = -1.0"),
    ([HEADER, _step(reports="x")], "field reports = 'x'"),
    ([HEADER, _step(outcome=[1.0])], "field outcome = [1.0]"),
    ([HEADER, _step(token=5)], "field token = 5"),
    ([HEADER, _step(step=True)], "field step = True"),
    ([{**HEADER, "sampler": "nope"}, STEP], "field sampler = 'nope'"),
    ([HEADER, STEP, _step(bids=[1.0, 2.0, 3.0], payments=[0.1, 0.1, 0.1])], "bids"),
    ([{**HEADER, "value_model": "nope"}, STEP], "nope"),
]


@pytest.mark.parametrize("rows,words", BAD_LOGS)
def test_malformed_log_is_exit_2_with_one_line(capsys, tmp_path, rows, words):
    rc, text = run_cli(capsys, "audit", "--log", log_file(tmp_path, *rows))
    assert rc == 2 and words in text and len(text.strip().splitlines()) == 1, text


def test_log_duplicate_key_and_nan_are_exit_2(capsys, tmp_path):
    head = json.dumps(HEADER).encode()
    for bad in (b'{"bids": [1.0, 2.0], "bids": [1.0, 1.0], "payments": [0.1, 0.2]}',
                b'{"bids": [1.0, NaN], "payments": [0.1, 0.2]}'):
        rc, text = run_cli(capsys, "audit", "--log",
                           log_file(tmp_path, raw=head + b"\n" + bad + b"\n"))
        assert rc == 2 and "log.jsonl:2" in text


def test_log_with_zero_steps_is_nothing_to_audit(capsys, tmp_path):
    rc, text = run_cli(capsys, "audit", "--log", log_file(tmp_path, HEADER))
    assert rc == 2 and "nothing to audit" in text


def test_log_outcome_not_the_rules_aggregate_is_a_divergence(capsys, tmp_path):
    rc, text = run_cli(capsys, "audit", "--log", log_file(tmp_path, HEADER, STEP))
    assert "outcome_matches_rule   -      NOT_REFUTED" in text, text
    rc, text = run_cli(capsys, "audit", "--log",
                       log_file(tmp_path, HEADER, _step(outcome=[0.5, 0.5])))
    assert rc == 1 and "outcome_matches_rule   -      REFUTED" in text


def test_log_header_value_model_is_honoured(capsys, tmp_path):
    rc, text = run_cli(capsys, "audit", "--log",
                       log_file(tmp_path, {**HEADER, "value_model": "kl"}, STEP))
    assert "(value model kl_forward)" in text.splitlines()[0]
    rc, text = run_cli(capsys, "audit", "--valuation", "tv", "--log",
                       log_file(tmp_path, {**HEADER, "value_model": "kl"}, STEP))
    assert "(value model tv)" in text.splitlines()[0]


# -- user code in a cage ------------------------------------------------------------------

EVIL = textwrap.dedent('''
    import os, sys, time
    import numpy as np
    from mechanism import get_rule

    def _lin(dists, bids):
        b = np.asarray(bids, dtype=float) ** 2
        return b @ np.asarray(dists) / b.sum()

    class Hang:
        def aggregate(self, dists, bids):
            time.sleep(60)

    class Exits:
        name = "fake\\n\\x1b[32mnothing refuted\\x1b[0m"
        def aggregate(self, dists, bids):
            raise SystemExit(0)

    class HardExit:
        def aggregate(self, dists, bids):
            os._exit(0)

    class BytesBomb:
        def aggregate(self, dists, bids):
            return bytes(50_000_000)

    def _send(data):
        """Write ``data`` as a message on the worker's own connection to the auditor."""
        import gc
        from multiprocessing.connection import Connection
        next(o for o in gc.get_objects() if isinstance(o, Connection)).send_bytes(data)

    class PickleBomb:
        def aggregate(self, dists, bids):
            _send(b"\\x80\\x05cbuiltins\\nbytes\\nJ\\x00\\xe1\\xf5\\x05\\x85R.")
            return np.full(np.asarray(dists).shape[1], 1 / np.asarray(dists).shape[1])

    class LongReply:
        def aggregate(self, dists, bids):
            _send(b"x" * 3_000_000)
            return np.full(np.asarray(dists).shape[1], 1 / np.asarray(dists).shape[1])

    class Patches:
        def __init__(self):
            import properties.audit.cli as c, properties.audit.implementation as i
            c.audit_mechanism = i.audit_mechanism = lambda *a, **k: None
        def aggregate(self, dists, bids):
            return np.full(np.asarray(dists).shape[1], np.nan)

    class _PaysLinear:
        def aggregate(self, dists, bids):
            return get_rule("linear")(dists, bids)

    class PaymentsRaiseBase(_PaysLinear):
        def payments(self, dists, bids):
            raise BaseException("boom")

    class PaymentsHang(_PaysLinear):
        def payments(self, dists, bids):
            time.sleep(60)

    class PaymentsNaN(_PaysLinear):
        def payments(self, dists, bids):
            return np.full(len(bids), np.nan)

    CALLS = [0]
    def exit_after_30(dists, bids):
        CALLS[0] += 1
        if CALLS[0] > 30:
            sys.exit(0)
        return _lin(dists, bids)

    def hard_exit_after_30(dists, bids):
        CALLS[0] += 1
        if CALLS[0] > 30:
            os._exit(0)
        return _lin(dists, bids)
''')


@pytest.fixture
def evil(tmp_path):
    path = tmp_path / "evil.py"
    path.write_text(EVIL)
    return str(path)


@pytest.mark.parametrize("name,timeout,words", [("Hang", "0.3", "did not return within 0.3 s"),
                                                ("Exits", "1", "raised SystemExit"),
                                                ("HardExit", "1", "ended its worker process"),
                                                ("BytesBomb", "5", "not numbers"),
                                                ("PickleBomb", "5", "not data"),
                                                ("LongReply", "5", "reply of more than"),
                                                ("Patches", "1", "aggregate_valid")])
def test_mechanism_misbehaviour_is_a_finding(capsys, evil, name, timeout, words, monkeypatch):
    """Each is REFUTED (exit 1) saying why. LongReply sends 3 MB past a 1 MB cap (the cap is
    256 MiB: a reply is never held whole beyond it); PickleBomb a 30-byte pickle calling
    ``bytes(10**8)`` in the auditor (planted: the old allow-list unpickled it)."""
    from properties import cage
    monkeypatch.setattr(cage, "MAX_REPLY_BYTES", 1 << 20, raising=False)
    rc, text = run_cli(capsys, "audit", "--mechanism", f"{evil}:{name}", "--timeout", timeout,
                       "--max-examples", "2", "--no-suite")
    flat = " ".join(text.split())   # report cells wrap at 100 columns
    assert rc == 1 and words in flat and "REFUTED: aggregate_valid" in text


@pytest.mark.parametrize("body,rc,words", [
    ("raise SystemExit(0)", 2, "SystemExit: 0"), ("raise GeneratorExit()", 2, "GeneratorExit"),
    ("import sys\nsys.exit(0)", 2, "SystemExit: 0"),
    ("import os\nos._exit(0)", 1, "ended its worker process while loading")])
def test_an_import_that_raises_is_a_usage_error_one_that_ends_the_worker_a_finding(
        capsys, tmp_path, body, rc, words):
    """The module's import raises: the target cannot be loaded (exit 2, naming the
    exception, as docs/audit.md says); it ends the worker: REFUTED (exit 1). Neither is
    the module's own exit status 0."""
    path = tmp_path / "mod.py"
    path.write_text(body + "\nclass M:\n    pass\n")
    got, text = run_cli(capsys, "audit", "--mechanism", f"{path}:M", "--max-examples", "2",
                        "--no-suite")
    assert got == rc and words in " ".join(text.split()), text


@pytest.mark.parametrize("name,words", [("PaymentsRaiseBase", "raised BaseException"),
                                        ("PaymentsHang", "did not return within 0.3 s"),
                                        ("PaymentsNaN", "not a finite number")])
def test_payments_misbehaviour_is_a_finding_about_the_payments(capsys, evil, name, words):
    """A payments method that raises BaseException, hangs or answers NaN: payments_valid is
    REFUTED (exit 1, never the auditor's exit 2), the aggregate is not blamed, and after a
    hang nothing is judged on the dead worker (planted: the payments call outside the
    tally, the old code, exits 2; no fatal check blames the aggregate and REFUTES the
    suite's rows on calls the dead worker never answered)."""
    rc, text = run_cli(capsys, "audit", "--mechanism", f"{evil}:{name}", "--timeout", "0.3",
                       "--max-examples", "3")
    flat = " ".join(text.split())
    assert rc == 1 and words in flat, text
    summary = text.strip().splitlines()[-1]
    assert summary.startswith("REFUTED") and "payments_valid" in summary, summary
    assert "aggregate_valid" not in summary and "normalized" not in summary, summary
    if name == "PaymentsHang":
        assert "property_suite" in text and "worker earlier" in flat, text


def test_names_from_user_code_are_escaped(capsys, evil):
    rc, text = run_cli(capsys, "audit", "--mechanism", f"{evil}:Exits", "--max-examples", "2",
                       "--no-suite")
    assert "\x1b" not in text and "fake\\x0a\\x1b[32mnothing refuted" in text
    assert not any(line.startswith("nothing refuted") for line in text.splitlines())


@pytest.mark.parametrize("name", ["exit_after_30", "hard_exit_after_30"])
def test_check_target_that_exits_is_refuted(capsys, evil, name):
    rc, text = run_cli(capsys, "check", f"{evil}:{name}", "--max-examples", "20")
    assert rc == 1 and "REFUTED" in text


def test_check_exit_in_a_real_process_has_no_traceback(evil):
    out = subprocess.run([sys.executable, "-m", "tokenauction", "check",
                          f"{evil}:hard_exit_after_30", "--max-examples", "20"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    assert "ended its worker process" in out.stdout
