"""Regression tests of two user-visible bugs found on ``ef344f1``; both fail there.

1. An honest run of ``log_linear`` with smoothing and the valuation payment failed its own
   audit (``payment_identity``): the audit integrated the raw report, the payment the
   smoothed one (docs/theory.md, smoothing: the ideal is the smoothed report).
2. ``tokenauction audit --mechanism file.py:X`` on a file that raises while loading printed a
   traceback and exited 1 ("diverged"); it is a usage error (exit 2, one line), as in
   ``tokenauction check``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mechanism import get_rule
from properties import checks as C
from properties.audit.replay import audit_run
from tokenauction.cli import main as cli

from tests.helpers.recording import record


@pytest.mark.parametrize("epsilon", [0.1, 1e-4])
def test_smoothed_valuation_run_audits_clean(tmp_path, epsilon):
    run = record(tmp_path / "run", n=2, steps=3, rule=get_rule("log_linear", epsilon=epsilon),
                 payment="valuation")
    report = audit_run(run)
    assert report.exit_code == 0, report.summary()


def test_valuation_curve_uses_the_smoothed_report():
    """The identity of the valuation payment, computed by the audit, equals the charge
    (on ef344f1: 0.278 against 0.214 at epsilon 0.1)."""
    from mechanism.payments import valuation_payment
    rule = get_rule("log_linear", epsilon=0.1)
    P = np.array([[0.7, 0.3, 0.0], [0.1, 0.2, 0.7]])
    b = np.array([1.0, 2.0])
    for i in range(2):
        charged, _ = valuation_payment(rule, P, b, i)
        identity, err = C.identity_payment(rule, P, b, i, "valuation")
        assert identity == pytest.approx(charged, abs=1e-8 + 10 * err)


BROKEN = {
    "syntax": "def broken(:\n    pass\n",
    "runtime": "raise RuntimeError('boom at import')\n",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("command", ["audit", "check"])
def test_loading_a_broken_file_is_a_usage_error(tmp_path, capsys, kind, command):
    path = tmp_path / f"{kind}.py"
    path.write_text(BROKEN[kind])
    argv = ["audit", "--mechanism", f"{path}:X"] if command == "audit" else \
        ["check", f"{path}:X"]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and str(path) in err
    assert ("SyntaxError" if kind == "syntax" else "RuntimeError") in err
