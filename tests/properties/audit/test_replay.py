"""Audit of recorded runs: clean runs pass, nothing is modified, the CLI's exit codes."""

from __future__ import annotations

import json

import pytest

from mechanism.transcript import folder_digest
from properties.audit.replay import audit_run
from tokenauction.cli import main as cli

from tests.helpers.recording import record

CONFIGS = [
    dict(n=3, rule="linear"),
    dict(n=3, rule="linear", reference=True, reference_weight=0.5),
    dict(n=2, rule="linear"),                                   # joint_linear sampler
    dict(n=2, rule="linear", sampler="joint_linear", charge="realized"),
    dict(n=3, rule="winner_take_all"),
    dict(n=3, rule="linear", payment="race", sampler="exponential_race"),
    dict(n=3, rule="linear", payment="valuation", reference=True, reference_weight=0.5),
    dict(n=3, rule="linear", payment="pay_your_bid"),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_clean_runs_pass(tmp_path, cfg):
    run = record(tmp_path / "run", steps=6, **cfg)
    before = folder_digest(run)
    report = audit_run(run)
    assert report.exit_code == 0, report.summary()
    assert report.steps_read == report.steps_replayed == 6
    assert report.first_divergence is None
    assert report.tallies["replay_token"].checked == 6
    assert report.violation_rate() == 0.0
    assert folder_digest(run) == before  # an audit writes nothing


def test_linear_identity_checked_by_quadrature(tmp_path):
    report = audit_run(record(tmp_path / "run", steps=5))
    t = report.tallies["payment_identity"]
    assert t.checked == 5 and t.failed == 0 and t.max_error < 1e-8


def test_log_linear_violations_are_reported_not_failed(tmp_path):
    report = audit_run(record(tmp_path / "run", steps=5, rule="log_linear"))
    assert report.exit_code == 0
    assert report.tallies["monotone_box"].informational
    assert report.violation_rate() > 0  # theory §4: log-linear is not box-MON for V >= 3
    assert "violation rate" in report.table()


def test_progress_and_no_properties(tmp_path):
    seen = []
    report = audit_run(record(tmp_path / "run", steps=4), check_properties=False,
                       progress=lambda k, _s: seen.append(k))
    assert seen == [1, 2, 3, 4]
    assert report.tallies["monotone_box"].checked == 0 and report.exit_code == 0


def test_cli_clean_json_and_table(tmp_path, capsys):
    run = record(tmp_path / "run", steps=4)
    assert cli(["audit", str(run), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["exit_code"] == 0 and out["steps_replayed"] == 4
    assert out["checks"]["chain"]["verdict"] == "PROVED"
    assert cli(["audit", str(run)]) == 0
    captured = capsys.readouterr()
    assert "payment_identity" in captured.out and "CLEAN (exit 0)" in captured.out
    assert "audit: 4 steps" in captured.err


def test_cli_usage_errors(tmp_path, capsys):
    assert cli(["audit"]) == 2
    assert cli(["audit", str(tmp_path), "--mechanism", "x:y"]) == 2
    assert cli(["audit", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().out


def test_rule_bound_reference_is_replayable(tmp_path):
    import numpy as np

    from mechanism import TokenAuction, get_rule
    from tokenauction.demo.synthetic import SyntheticAgents
    rule = get_rule("linear", reference=np.full(12, 1 / 12), weight=0.5)
    TokenAuction(rule).run(SyntheticAgents(3), [1.0, 2.0, 0.5], seed=1, max_tokens=4,
                           record_to=tmp_path / "run")
    assert audit_run(tmp_path / "run").exit_code == 0
