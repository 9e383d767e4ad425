"""``tokenauction prove``: the scope column and ``--explain CLAIM`` (the lemma chain)."""

import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from tokenauction.cli import main as cli_main


def run(capsys, *argv):
    rc = cli_main(["prove", *argv])
    return rc, capsys.readouterr().out


def test_scope_column_says_every_n_and_V(capsys):
    rc, out = run(capsys, "--claim", "unbounded.linear.mon_box", "--claim", "rule_wta_mon_box")
    assert rc == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:4]}
    assert "every n, every V" in rows["unbounded.linear.mon_box"]


def test_explain_prints_each_lemma_with_verdict_and_engine(capsys, monkeypatch):
    from proofs.mechanized import coq
    monkeypatch.setattr(coq.shutil, "which", lambda name: None)  # no Coq: ARGUED stays
    coq.status.cache_clear()
    try:
        rc, out = run(capsys, "--explain", "unbounded.theorem.box.grid_second_price_witness")
    finally:   # Coq back, then no status without it is left cached for the next test
        monkeypatch.undo()
        coq.status.cache_clear()
    assert rc == 0
    assert "scope: every n, every V; symbolic grid" in out
    lines = [x.split() for x in out.splitlines() if x.startswith("  ") and ":" in x]
    by_id = {parts[2].rstrip(":"): parts[:2] for parts in lines if len(parts) > 2}
    assert by_id["step_sign"] == ["PROVED", "z3"] and by_id["z_step"] == ["PROVED", "z3"]
    assert by_id["pairs_to_grid"] == ["ARGUED", "argument"]


def test_explain_of_a_bounded_claim_says_so(capsys):
    rc, out = run(capsys, "--explain", "rule_wta_mon_box", "--max-agents", "2",
                  "--max-tokens", "2")
    assert rc == 0 and "no lemma chain (a bounded proof" in out


def test_explain_unknown_claim_is_a_usage_error(capsys):
    assert cli_main(["prove", "--explain", "no.such.claim"]) == 2
