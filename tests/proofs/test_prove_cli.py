"""``tokenauction prove``: table, --json schema, claim filter, exit codes."""

import json

import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.verdicts import Scope, Verdict
from tokenauction.cli import main as cli_main
from proofs import cli as prove_cli
from proofs.registry import CLAIMS, ProofResult, claim

FAST = ["blog_example", "loglinear_mon_box_v3", "rule_overbid_mon_box", "rule_wta_mon_box",
        "payment_wta_closed_form"]


def run(capsys, *argv):
    rc = cli_main(["prove", *argv])
    return rc, capsys.readouterr()


def test_table_lists_claims_and_counterexamples(capsys):
    rc, out = run(capsys, *sum((["--claim", c] for c in FAST), []))
    assert rc == 0, out.out
    head = out.out.splitlines()[0].split()
    assert head == ["claim", "order", "expected", "verdict", "engine", "seconds", "scope;", "size"]
    for c in FAST:
        assert c in out.out
    # claims expected to fail are printed with their counterexamples
    assert "[loglinear_mon_box_v3]" in out.out and "counterexample:" in out.out
    assert "all as expected" in out.out


def test_json_schema(capsys):
    rc, out = run(capsys, "--json", "--no-cvc5", "--max-tokens", "3", "--claim", "rule_linear_mon_*",
                  "--claim", "rule_greedy_mon_box", "--claim", "loglinear_mon_box_v3")
    assert rc == 0
    doc = json.loads(out.out)
    rows = doc["claims"]
    assert {r["claim"] for r in rows} == {"rule_linear_mon_box", "rule_linear_mon_segment",
                                          "rule_greedy_mon_box", "loglinear_mon_box_v3"}
    want = {"rule_linear_mon_box": ("holds", "PROVED"),
            "rule_linear_mon_segment": ("holds", "PROVED"),
            "rule_greedy_mon_box": ("fails", "REFUTED"),
            "loglinear_mon_box_v3": ("fails", "REFUTED")}
    for r in rows:
        assert set(r) >= {"claim", "order", "size", "expected", "verdict", "seconds",
                          "counterexample"}
        assert (r["expected"], r["verdict"]) == want[r["claim"]], r
        assert isinstance(r["seconds"], float)
        # a REFUTED carries its counterexample, a PROVED none
        assert bool(r["counterexample"]) == (r["verdict"] == Verdict.REFUTED.value), r
    assert doc["ok"] is True


def test_unknown_claim_is_a_usage_error(capsys):
    rc, out = run(capsys, "--claim", "no_such_claim")
    assert rc == 2 and "unknown claim" in out.err
    rc, out = run(capsys, "--max-tokens", "1")
    assert rc == 2


@pytest.fixture
def planted_claims():
    made = []

    def add(cid, expected, verdict):
        claim(cid, f"planted: {verdict}", expected=expected, scope=Scope(1, 2))(
            lambda limits, v=verdict: ProofResult(v, "test", "planted", "toy",
                                                  {"x": 1} if v is Verdict.REFUTED else None))
        made.append(cid)

    yield add
    for cid in made:
        CLAIMS.pop(cid, None)


@pytest.mark.parametrize("expected,verdict,rc", [("holds", Verdict.REFUTED, 1),
                                                 ("fails", Verdict.PROVED, 1),
                                                 ("holds", Verdict.UNKNOWN, 1),
                                                 ("fails", Verdict.UNKNOWN, 1),
                                                 ("holds", Verdict.PROVED, 0),
                                                 ("fails", Verdict.REFUTED, 0)])
def test_exit_code_follows_expectations(capsys, planted_claims, expected, verdict, rc):
    planted_claims("zz_planted", expected, verdict)
    got, out = run(capsys, "--claim", "zz_planted")
    assert got == rc
    if rc:
        assert "UNEXPECTED" in out.out and "NOT AS EXPECTED: zz_planted" in out.out
        assert "planted" in out.out.split("[zz_planted]")[1]  # the reason is printed


def test_proved_without_scope_is_not_as_expected(capsys):
    """A claim that reports PROVED without a declared scope is a bug: UNKNOWN, exit 1."""
    claim("zz_noscope", "no scope")(lambda limits: ProofResult(Verdict.PROVED, "test", "x"))
    try:
        rc, out = run(capsys, "--claim", "zz_noscope")
    finally:
        CLAIMS.pop("zz_noscope")
    assert rc == 1 and "no recorded scope" in out.out


def test_crashing_claim_is_reported_and_fails(capsys):
    def boom(limits):
        raise RuntimeError("bug in a proof")
    claim("zz_crash", "crashes")(boom)
    try:
        rc, out = run(capsys, "--claim", "zz_crash")
    finally:
        CLAIMS.pop("zz_crash")
    assert rc == 1 and "crashed: RuntimeError" in out.out


def test_every_claim_module_is_loaded():
    assert len(prove_cli.load_claims()) >= 10
    ids = set(CLAIMS)
    assert any(i.startswith("z3.theorem.") for i in ids) and "linear_mon_box" in ids

@pytest.mark.parametrize("flag,value", [("--max-tokens", "100000000"), ("--max-agents", "65"),
                                        ("--max-grid", "10000000"), ("--max-tokens", "1"),
                                        ("--timeout", "inf"), ("--timeout", "nan")])
def test_a_size_or_timeout_out_of_range_is_a_usage_error(capsys, flag, value):
    """Was (red team): --max-tokens 100000000 built every size's query before any timeout
    applied, 22 GB and SIGKILL; now exit 2 naming the range, before any claim runs."""
    rc = cli_main(["prove", flag, value, "--claim", "rule_linear_mon_box"])
    err = capsys.readouterr().err
    assert rc == 2 and flag in err and "prove: [1/1]" not in err, err
