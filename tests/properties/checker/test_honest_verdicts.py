"""Honest verdicts (checker side): evidence counts, engine errors, determinism,
scope as data and exit 3, reproductions run in a fresh process, JSON settings.

Each test names the planted bug it catches (a variant of the checker that must fail it).
"""

from __future__ import annotations

import json
import sys
import textwrap
import types

import numpy as np
import pytest

from mechanism import get_payment_rule, get_rule
from mechanism.errors import InvalidInput
from mechanism.orders import ALL_ORDERS
from mechanism.payments import PaymentRule
from mechanism.verdicts import Scope, Verdict
from properties import check
from properties.checker import repro_imports as T
from properties.checker.shrink import fmt, shrink
from tokenauction.cli import main as cli_main


def _declines(dists, bids):
    raise InvalidInput("this rule is defined nowhere", value=None)


def _scalar(dists, bids):
    return 1.0


def test_no_valid_evaluation_is_unknown_with_the_reason():
    """Planted bug: counting failed or declined examples as evidence (the check before
    the check once said "100 examples, no violation" for these)."""
    props = ["normalized", "anonymous", "monotone:box", "scale_invariant", "stable_sampling"]
    r = check(_scalar, props, max_examples=10, run_reproductions=False)
    assert r.verdict("normalized") is Verdict.REFUTED   # a scalar is no distribution
    for f in r.findings[1:]:
        assert f.verdict is Verdict.UNKNOWN, (f.property, f.verdict, f.detail)
        assert f.valid == 0 and "no valid evaluation" in f.detail
    # a rule that declines every input (InvalidInput) earns no verdict at all (theory §8)
    r = check(_declines, props, max_examples=10, run_reproductions=False)
    for f in r.findings:
        assert f.verdict is Verdict.UNKNOWN, (f.property, f.verdict, f.detail)
        assert f.valid == 0 and f.declined == f.examples > 0, (f.property, f.detail)
        assert f"declined (InvalidInput) {f.declined} of {f.examples}" in f.detail
    # without `normalized` asked, the failure is reported on what was asked: never NOT_REFUTED
    r = check(_scalar, props[1:], max_examples=10, run_reproductions=False)
    assert all(f.verdict in (Verdict.REFUTED, Verdict.UNKNOWN) for f in r.findings)


def test_not_refuted_records_its_valid_evaluations():
    r = check(get_rule("linear"), ["scale_invariant"], max_examples=10)
    f = r.find("scale_invariant")[0]
    assert f.verdict is Verdict.NOT_REFUTED and 0 < f.valid <= f.examples
    assert f"{f.valid} valid examples" in f.detail


def test_an_engine_error_is_unknown_never_not_refuted(monkeypatch):
    """Planted bug: an error of the checker itself ("bid grid must start at 0") ending the
    search and the remaining examples read as "no violation"."""
    from properties.checker.sweeps import PathGroup

    def broken(self, arg):
        raise InvalidInput("bid grid must start at 0 and increase strictly", value=None)
    monkeypatch.setattr(PathGroup, "search", broken)
    r = check(get_rule("linear"), ["monotone:box"], max_examples=10, prove=False)
    f = r.find("monotone", "box")[0]
    assert f.verdict is Verdict.UNKNOWN and "bid grid must start at 0" in f.detail


def test_a_rule_declining_is_treated_alike_in_rule_and_payment_checks(tmp_path):
    """A judge rule loaded from a user's file that declines (InvalidInput) is "undefined"
    in payment checks too, never a failure of the payment (planted bug: the judge wrapped
    by mechanism.as_rule, which turned InvalidInput into InvalidRule)."""
    f = tmp_path / "judge.py"
    f.write_text("from mechanism.errors import InvalidInput\n"
                 "def rule(dists, bids):\n    raise InvalidInput('declined', value=None)\n")
    r = check(get_payment_rule("second_price"), ["payment_nonnegative"], rule=f"{f}:rule",
              max_examples=10)
    v = r.find("payment_nonnegative")[0]
    assert v.verdict is Verdict.UNKNOWN and v.valid == 0, v.detail


def test_a_raising_rule_suggests_invalid_input():
    r = check(lambda d, b: 1 / 0, ["normalized"], max_examples=5, run_reproductions=False)
    assert "raise mechanism.InvalidInput" in r.find("normalized")[0].detail


def _coin():
    state = np.random.default_rng()

    def rule(dists, bids):
        w = np.asarray(bids, float) if state.random() < 0.5 else 1 / (1 + np.asarray(bids))
        return w @ np.asarray(dists, float) / w.sum()
    return rule


def test_a_nondeterministic_target_is_reported_so_and_stably():
    """Planted bug: no determinism check (the verdict then flips between runs)."""
    tables = []
    for _ in range(3):
        r = check(_coin(), ["deterministic", "monotone:box", "anonymous"], max_examples=10,
                  run_reproductions=False)
        tables.append([(f.key, f.verdict) for f in r.findings])
        assert r.verdict("deterministic") is Verdict.REFUTED
        assert "means nothing" in r.find("monotone", "box")[0].detail
    assert tables[0] == tables[1] == tables[2]
    lin = check(get_rule("linear"), ["deterministic"], max_examples=5)
    assert lin.verdict("deterministic") is Verdict.NOT_REFUTED


def _generic_branchy(ops, dists, bids, reference=None, weight=0):
    w = [0.1 if b == 1 else b for b in bids]
    return sum(p * x for p, x in zip(dists, w)) / sum(w)


def _fake_prover(monkeypatch, scope):
    from proofs.registry import ProofResult
    mod = types.ModuleType("proofs.bounded.rule_level")
    detail = "a claimed proof " + "with a very long list of assumptions, " * 4

    def fake(rule, property_id, order, *, max_agents=3, max_tokens=4, timeout_s=10.0):
        return ProofResult(Verdict.PROVED, "z3", detail, "n<=3, V<=4", scope=scope)
    mod.prove_rule_property = fake
    monkeypatch.setitem(sys.modules, "proofs.bounded.rule_level", mod)


def test_a_proved_contradicted_inside_its_scope_is_an_internal_error(monkeypatch):
    """Planted bug: PROVED and REFUTED shown side by side silently (exit 1)."""
    scope = Scope(3, 4, assumptions=("a hypothesis that takes more than ninety characters "
                                     "to state, so that the old report cut it off",))
    _fake_prover(monkeypatch, scope)
    r = check(_generic_branchy, ["monotone:box"], max_examples=20, run_reproductions=False)
    proved = r.find("monotone", "box", engine="z3")[0]
    assert proved.scope == scope and proved.assumptions == scope.assumptions
    assert r.verdict("monotone", "box") is Verdict.REFUTED
    assert r.conflicts and r.exit_code == 3
    text = str(r)
    assert "INTERNAL ERROR" in text and "(exit 3)" in text
    flat = " ".join(text.split())  # lines wrap at 100 columns; the words are all there
    assert " ".join(str(scope).split()) in flat and " ".join(proved.detail.split()) in flat
    out = r.to_json()
    assert out["exit_code"] == 3 and out["internal_errors"]
    f = next(x for x in out["findings"] if x["engine"] == "z3")
    assert f["scope"]["max_agents"] == 3 and f["assumptions"] == list(scope.assumptions)


def test_a_counterexample_outside_the_scope_is_no_conflict(monkeypatch):
    _fake_prover(monkeypatch, Scope(1, 4))   # proved for one agent only: true here
    r = check(_generic_branchy, ["monotone:box"], max_examples=20, run_reproductions=False)
    assert r.verdict("monotone", "box") is Verdict.REFUTED and r.exit_code == 1
    assert not r.conflicts


def test_a_proved_without_scope_is_not_believed(monkeypatch):
    """Scopes travel as data: a PROVED without a Scope is UNKNOWN, never given a scope
    guessed from the limits or recovered from its prose (planted: the old bounded default
    makes this PROVED)."""
    _fake_prover(monkeypatch, None)
    r = check(get_rule("linear"), ["monotone:box"], max_examples=5)
    f = r.find("monotone", "box", engine="z3")[0]
    assert f.verdict is Verdict.UNKNOWN and f.scope is None
    assert "without a scope" in f.detail


_RULES = textwrap.dedent("""
    import numpy as np
    def greedy(dists, bids):
        b = np.asarray(bids, float)
        q = np.zeros(np.shape(dists)[1])
        q[int(np.argmax(b @ np.asarray(dists, float) / b.sum()))] = 1.0
        return q
    def wta_ish(dists, bids):
        b = np.asarray(bids, float)
        w = b ** 4
        return w @ np.asarray(dists, float) / w.sum()
""")


def test_reproductions_run_as_printed_in_a_fresh_process(tmp_path, capsys, monkeypatch):
    """Planted bug: marking every counterexample reproduced without running it (the audit
    printed `from mechanism.payments import  as payment`, a SyntaxError, "reproduced")."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myrules.py").write_text(_RULES)
    assert cli_main(["check", "myrules.py:greedy", "--property", "monotone:box",
                     "--max-examples", "20", "--json"]) == 1
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cex = out["findings"][-1]["counterexample"]
    # the target by its absolute path: the reproduction runs from any folder
    assert cex["reproduced"] is True and \
        f"load_target('{tmp_path / 'myrules.py'}:greedy')" in cex["repro"]
    # a payment judged under a rule from the user's file loads that rule by the same string
    assert cli_main(["check", "pay_your_bid", "--rule", "myrules.py:wta_ish", "--property",
                     "payment_monotone:box", "--max-examples", "20", "--json"]) == 1
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["judged_under"] == "myrules.py:wta_ish"
    cex = next(f for f in out["findings"] if f["verdict"] == "REFUTED")["counterexample"]
    assert "load_target('myrules.py:wta_ish')" in cex["repro"], cex["repro"]
    assert "_tokenauction_user_" not in cex["repro"] and cex["reproduced"] is True


def test_a_reproduction_that_does_not_fail_is_not_marked_reproduced():
    from properties.checker import reproduce
    from properties.report import Finding
    f = Finding("normalized", None, Verdict.REFUTED, "hypothesis", "x",
                {"repro": "import numpy as np\nassert np.ones(2).sum() == 2"})
    g = Finding("normalized", None, Verdict.REFUTED, "hypothesis", "x",
                {"repro": "assert 1 == 2, 'fails as printed'"})
    reproduce.confirm([f, g])
    assert f.counterexample["reproduced"] is False and "without failing" in \
        f.counterexample["repro_note"]
    assert g.counterexample["reproduced"] is True


def test_import_lines_never_print_a_broken_import():
    anon = PaymentRule("thirdparty.payments", lambda r, d, b: np.zeros(len(b)))
    line = T.import_lines(anon, None, "payment")[-1]
    assert "import  as" not in line and T.NOT_RUNNABLE in line
    user = types.FunctionType(_declines.__code__, {}, "f")
    user.__module__ = "_tokenauction_user_myrule"
    assert T.NOT_RUNNABLE in T.import_lines(user, None, "rule")[-1]
    lines = T.import_lines(get_rule("linear"), None, "rule")
    assert lines[-1] == "rule = get_rule('linear')"


def test_numbers_print_round_trip_exact():
    x = 0.1 + 0.2
    assert eval(fmt(x)) == x and eval(fmt(np.array([x, 1e-300, 1 / 3]))) == [x, 1e-300, 1 / 3]
    assert fmt(np.float64(2 / 3)) == repr(2 / 3)


def test_shrinking_keeps_the_violation_well_above_tolerance():
    """Planted bug: accepting any smaller counterexample that still "fails" (a 1.7e-3
    violation became a 2.4e-8 one that reads like rounding noise)."""
    def verify(c):   # a clear violation at bid >= 1.23; below, one at the rounding level
        s = float(c["bids"][0])
        return {**c, "margin": 1.7e-3 if s >= 1.23 else 2.4e-8} if s > 0 else None
    c0 = {"dists": np.array([[0.5, 0.5]]), "bids": np.array([1.23]), "agent": 0,
          "bid_from": None, "bid_to": None, "margin": 1.7e-3}
    out = shrink(c0, verify)
    assert out["margin"] == 1.7e-3 and out["bids"][0] == 1.23


def test_json_report_carries_the_settings():
    r = check(get_payment_rule("second_price"), ["payment_nonnegative"], rule="log_linear",
              max_examples=7, seed=4)
    out = r.to_json()
    assert out["seed"] == 4 and out["max_examples"] == 7 and out["budget_s"] is None
    assert out["judged_under"] == "log_linear"
    assert out["versions"]["numpy"] == np.__version__ and "hypothesis" in out["versions"]


def test_thorough_uses_several_seeds_and_a_larger_budget():
    r = check(get_rule("linear"), ["scale_invariant"], max_examples=5, thorough=True)
    assert len(r.settings["seeds"]) == 3 and r.settings["max_examples"] == 20
    assert r.find("scale_invariant")[0].valid > 20


def test_infinite_loss_on_both_sides_is_skipped_not_refuted(capsys):
    """Where the loss is infinite for both outcomes compared, PM says nothing (theory §3-4):
    the search records the skip and reports no violation (the same instance under tv is
    searched, not skipped). The paper's payment under the paper's rule, as CI runs it
    (`check second_price`), is then NOT_REFUTED on every order with valid evidence, and the
    kl_reverse finding names the skip."""
    from properties.checker.payment_checks import INFINITE_BOTH, PaymentGroup
    from properties.strategies import Instance
    from properties.target import Target
    P, b = np.array([[0.0, 1.0], [0.5, 0.5]]), np.array([1.0, 1.0])   # Q(s) > 0 where p_0 = 0
    for order, skipped in [("kl_reverse", True), ("tv", False)]:
        key = ("payment_monotone", order)
        g = PaymentGroup(Target(get_payment_rule("second_price")), [key])
        assert g.search(Instance(P, b, 0)) == {}
        assert g.skipped.get(key) == (INFINITE_BOTH if skipped else None)
    assert cli_main(["check", "second_price", "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    pm = {f["order"]: f for f in findings if f["property"] == "payment_monotone"}
    assert sorted(pm) == sorted(ALL_ORDERS)
    for order, f in pm.items():
        assert f["verdict"] == "NOT_REFUTED" and f["valid"] > 0, f
    assert "skipped where it does not apply" in pm["kl_reverse"]["detail"]


@pytest.mark.parametrize("order", ["kl_reverse"])
def test_pm_with_only_infinite_losses_is_skipped(order):
    from properties.checker.payment_checks import inapplicable, pm_violation
    p = np.array([0.0, 1.0])
    q0, q1 = np.array([0.5, 0.5]), np.array([0.4, 0.6])
    assert inapplicable(p, q0, q1, order) and pm_violation(p, q0, q1, 0.1, 0.2, order) is None
    assert pm_violation(p, q0, q1, 0.1, 0.2, "tv") is None        # better and dearer: fine
    assert pm_violation(p, q1, q0, 0.1, 0.2, "tv") == "dearer_not_better"
    # strictly better for a tiny price is no violation (a false REFUTED once: 9.2e-302 > 0
    # read as "not dearer" within an absolute tolerance)
    p, q0, q1 = np.array([0.5, 0.5 - 1e-300, 1e-300]), np.array([0.9, 0.1, 0.0]), \
        np.array([0.9, 0.1 - 1e-300, 1e-300])
    assert pm_violation(p, q0, q1, 0.0, 9.2e-302, "kl_forward") is None


_ONLY_HERE = textwrap.dedent("""
    import sys
    import numpy as np
    def rule(dists, bids):   # greedy inside this test process, linear anywhere else
        b = np.asarray(bids, float)
        q = b @ np.asarray(dists, float) / b.sum()
        if "pytest" in sys.modules:
            q = np.eye(len(q))[int(np.argmax(q))]
        return q
""")


def test_a_reproduction_that_passes_in_a_fresh_process_makes_the_finding_unknown(
        tmp_path, monkeypatch):
    """Planted bug: keeping REFUTED when the printed reproduction does not fail (the
    second price was once "REFUTED" on a 9.2e-302 payment its own reproduction accepted)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here.py").write_text(_ONLY_HERE)
    r = check("here.py:rule", ["monotone:box"], max_examples=20, prove=False)
    f = r.find("monotone", "box")[0]
    assert f.verdict is Verdict.UNKNOWN and "without failing" in f.detail, f.detail


def test_late_evidence_of_two_answers_refutes_deterministic():
    """The 'deterministic' row was decided when the search ended; evidence of two answers
    for one input that came later (a shrink, a sweep) left it NOT_REFUTED while every other
    row said 'answers differently (see deterministic)': a report that contradicted itself,
    exit 0. The row is decided again from all the evidence."""
    from properties.checker.engine import _adjust
    from properties.report import Finding
    from properties.target import Target
    from mechanism.valuations import get_value_model
    from mechanism.verdicts import Verdict
    t = Target(get_rule("linear"))
    P, b = np.array([[0.5, 0.5], [0.2, 0.8]]), np.array([1.0, 2.0])
    t.remember("rule", (P, b), np.array([0.3, 0.7]))
    t.remember("rule", (P, b), np.array([0.3, 0.7]))
    findings = [Finding("deterministic", None, Verdict.NOT_REFUTED, "hypothesis", "same"),
                Finding("monotone", "box", Verdict.NOT_REFUTED, "hypothesis", "ok")]
    t.remember("rule", (P, b), np.array([0.31, 0.69]))      # after the row was decided
    _adjust(t, findings, get_value_model("tv"))
    assert findings[0].verdict is Verdict.REFUTED and findings[0].counterexample, findings[0]
    assert findings[1].verdict is Verdict.UNKNOWN


def _nan_above_5(dists, bids):
    P, b = np.asarray(dists, float), np.asarray(bids, float)
    q = b @ P / b.sum()
    return q * np.nan if b[0] > 5 else q


def test_a_definition_is_no_proof_for_a_target_that_is_not_a_function_into_distributions():
    """Was (red team): consistent:tv PROVED "by definition" beside normalized REFUTED."""
    rep = check(_nan_above_5, properties=["consistent", "normalized"], orders=["tv"],
                max_examples=60)
    by = {(f.property, f.engine): f for f in rep.findings}
    assert by[("normalized", "hypothesis")].verdict is Verdict.REFUTED
    ca = by[("consistent", "definition")]
    assert ca.verdict is Verdict.UNKNOWN and "normalized" in ca.detail, ca.detail
    clean = check(get_rule("linear"), properties=["consistent", "normalized"], orders=["tv"],
                  max_examples=30)
    assert {f.verdict for f in clean.findings if f.engine == "definition"} == {Verdict.PROVED}


def test_a_caged_rule_returning_one_row_as_a_matrix_is_refuted(tmp_path, capsys):
    """Was (red team): a file's rule returning q as a (1, V) matrix got normalized
    NOT_REFUTED through the cage (its reply became a plain (1, V) array, which the quick
    output check took for a batch of rows), REFUTED in process."""
    path = tmp_path / "one_row.py"
    path.write_text("import numpy as np\n"
                    "def rule(dists, bids):\n"
                    "    P, b = np.asarray(dists, float), np.asarray(bids, float)\n"
                    "    return (b @ P / b.sum())[None, :]\n")
    code = cli_main(["check", f"{path}:rule", "--property", "normalized",
                     "--max-examples", "20"])
    out = capsys.readouterr().out
    assert code == 1 and "returned shape (1," in out, out
