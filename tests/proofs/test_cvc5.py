"""SMT-LIB2 copies of the z3 queries and their cvc5 re-check (docs/theory.md section 10)."""

from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import z3

from mechanism.verdicts import Verdict
from proofs.encode import encode_z3 as E
from proofs.mechanized import cvc5_check, prove_hooks, smt2
from proofs.mechanized.smt2 import Query
from proofs.registry import ProofResult

needs_cvc5 = pytest.mark.skipif(cvc5_check.installed() is None, reason="cvc5 not installed "
                                "(pip install 'tokenauction[solvers]'; scripts/setup.sh does)")
ROOT = Path(__file__).resolve().parents[2]


def test_standard_drops_one_argument_sums_only():
    text = '(assert (> (+ (+ s) 0.0) (* x) (* x y)))\n; comment (+ a)\n(assert (= "a ( b" |x y|))'
    assert cvc5_check.standard(text) == \
        '(assert (> (+ s 0.0) x (* x y)))\n(assert (= "a ( b" |x y|))\n'.replace(")\n(", ") (")
    with pytest.raises(ValueError, match="unbalanced"):
        cvc5_check.standard("(assert (> x 0)")


def test_standard_handles_deep_nesting():
    deep = "(assert " + "(not " * 5000 + "p" + ")" * 5000 + ")"
    assert cvc5_check.standard(deep).count("(not") == 5000


def test_queries_are_recorded_inside_a_recording_only():
    x = z3.Real("x")
    E.prove([x > 0], x + 1 > 0, 5)  # outside: nothing kept
    with smt2.recording() as qs:
        assert E.prove([x > 0], x + 1 > 0, 5)[0] is Verdict.PROVED
    assert len(qs) == 1 and qs[0].z3 == "unsat" and qs[0].smt2.startswith("(set-logic ALL)")
    assert "(check-sat)" in qs[0].smt2 and not smt2.active()


@needs_cvc5
def test_a_wrong_claim_is_refuted_by_both_solvers():
    """Planted: 'x > 0 implies x^2 > x' is false (x = 1/2): z3 and cvc5 both find a model."""
    x = z3.Real("x")
    with smt2.recording() as qs:
        verdict, model = E.prove([x > 0], x * x > x, 5)
    assert verdict is Verdict.REFUTED and model is not None
    [q] = qs
    assert q.z3 == "sat"
    assert cvc5_check.answer(q.smt2, 5.0) == "sat"
    [check] = cvc5_check.recheck({"planted": qs}, 20.0).values()
    assert check.counts == {"agree": 1} and check.disagreements == []


@needs_cvc5
def test_a_disagreement_is_an_internal_error():
    """A recorded answer that is wrong (a forged 'unsat' on a satisfiable query) must be
    caught by cvc5 and turned into exit 3."""
    x = z3.Real("x")
    s = z3.Solver()
    s.add(x > 0, z3.Not(x * x > x))
    row = (Namespace(id="planted.forged"), ProofResult(Verdict.PROVED, "z3"), False)
    row[1].queries = [Query(smt2.script(s), "unsat")]
    args = Namespace(emit_smt2=None, no_cvc5=False, cvc5_budget=20.0)
    errors = []

    class Err:
        def write(self, text):
            errors.append(text)

    assert prove_hooks.after_table(args, [row], Err()) == prove_hooks.INTERNAL_ERROR
    assert row[1].second_solver.counts == {"DISAGREE": 1}
    assert "z3 and cvc5 disagree" in "".join(errors)


@needs_cvc5
def test_a_hard_query_is_an_explicit_timeout():
    text = ("(set-logic ALL)(declare-fun x () Int)(declare-fun y () Int)(declare-fun z () Int)"
            "(assert (> x 0))(assert (> y 0))(assert (> z 0))"
            "(assert (= (+ (* x x x) (* y y y)) (* z z z)))(check-sat)")
    assert cvc5_check.answer(text, 0.3) == "timeout"
    [check] = cvc5_check.recheck({"hard": [Query(text, "unsat")]}, 0.5, 0.3).values()
    assert check.counts == {"timeout": 1} and "timeout" in check.line()


@pytest.mark.parametrize("budget, limit, asked", [
    (10.0, 0.3, [0.3]),        # the whole per-query limit in pass 1: not asked again
    (1.0, 2.0, [0.5, 1.0]),    # half the budget in pass 1, the rest in pass 2
])
def test_a_timeout_is_asked_again_only_with_a_longer_limit(monkeypatch, capsys, budget,
                                                           limit, asked):
    """The worker's two passes (a fake cvc5 that always times out, so no clock decides):
    a query that timed out under the whole ``limit_s`` is not asked twice with it."""
    import io
    seen = []
    monkeypatch.setattr(cvc5_check, "answer", lambda text, s: seen.append(s) or "timeout")
    job = {"texts": ["(check-sat)"], "limit_s": limit, "budget_s": budget}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(job)))
    cvc5_check._worker()
    assert seen == pytest.approx(asked, abs=0.01)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines == [[0, "timeout"]] * len(asked)


def test_without_cvc5_the_claim_says_so(monkeypatch):
    monkeypatch.setattr(cvc5_check, "installed", lambda: None)
    [check] = cvc5_check.recheck({"c": [Query("(check-sat)", "unsat")]}).values()
    assert check.solver == "cvc5 not installed" and "cvc5 not installed" in check.line()


def test_emit_refuses_an_unwritable_directory(tmp_path):
    from mechanism.errors import InvalidInput
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInput, match="--emit-smt2"):
        smt2.emit(str(blocker / "sub"), {"c": [Query("(check-sat)", "unsat")]})


@needs_cvc5
def test_prove_emits_smt2_and_records_both_answers(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tokenauction", "prove", "--claim",
                          "z3.box.order_laws", "--json", "--emit-smt2", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=600,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    [row] = json.loads(out.stdout)["claims"]
    files = sorted(tmp_path.rglob("*.smt2"))
    counts = row["second_solver"]["counts"]
    assert files and sum(counts.values()) == len(files)
    assert set(counts) <= {"agree", "timeout"} and counts.get("agree", 0) > 0, counts
    answers = row["second_solver"]["answers"]
    assert len(answers) == len(files) and all(z == "unsat" for z, _ in answers)
    assert sum(c == "unsat" for _, c in answers) == counts["agree"]
    assert all("z3 answered unsat" in f.read_text().splitlines()[0] for f in files)


def test_prove_exits_3_when_the_solvers_disagree(monkeypatch, capsys):
    """The CLI path: a (simulated) disagreement on a real claim's query is exit 3."""
    from tokenauction.cli import main as cli_main

    def forged(batches, budget):
        out = {}
        for cid, qs in batches.items():
            if qs:
                out[cid] = cvc5_check.Recheck("cvc5 (planted)", {"DISAGREE": 1},
                                              [{"query": 0, "z3": qs[0].z3, "cvc5": "sat"}])
        return out

    monkeypatch.setattr(prove_hooks, "recheck", forged)
    assert cli_main(["prove", "--claim", "z3.box.order_laws"]) == prove_hooks.INTERNAL_ERROR
    assert "z3 and cvc5 disagree on query 0 of z3.box.order_laws" in capsys.readouterr().err


def test_a_bad_budget_is_a_usage_error(capsys):
    from tokenauction.cli import main as cli_main
    with pytest.raises(SystemExit) as exc:
        cli_main(["prove", "--cvc5-budget", "-1", "--claim", "z3.box.order_laws"])
    assert exc.value.code == 2 and "--cvc5-budget must be a positive" in capsys.readouterr().err


def test_an_unwritable_emit_directory_is_a_usage_error_before_the_table(tmp_path, capsys):
    from tokenauction.cli import main as cli_main
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exc:
        cli_main(["prove", "--emit-smt2", str(blocker / "sub"), "--claim", "z3.box.order_laws"])
    assert exc.value.code == 2 and "give a writable directory" in capsys.readouterr().err


def test_nested_recordings_and_a_cached_lemma_replayed():
    """A lemma's queries count for every claim that uses it, also when cached."""
    from proofs.unbounded import chains as L
    L.clear_cache()
    with smt2.recording() as first:
        with smt2.recording() as inner:
            pass
        assert L.verdict_of("znd_trans") == "PROVED"
    with smt2.recording() as second:
        assert L.verdict_of("znd_trans") == "PROVED"  # from the cache: no new z3 call
    assert inner == [] and len(first) == 1 and second == first and not smt2.active()


#: sat (s=1, t=2, b=0): weights w(x) = x/(1+x^2) fall past x=1. cvc5's coverings do not
#: stop at their time limit on it, its defaults answer it
FALLING_WEIGHT = (
    "(set-logic ALL)(declare-fun s () Real)(declare-fun t () Real)(declare-fun b () Real)"
    "(assert (>= s 0.0))(assert (> t s))(assert (>= b 0.0))"
    "(assert (< (/ t (+ (/ t (+ 1.0 (* t t))) (/ b (+ 1.0 (* b b)))))"
    " (/ s (+ (/ s (+ 1.0 (* s s))) (/ b (+ 1.0 (* b b)))))))(check-sat)")


@needs_cvc5
def test_a_configuration_that_ignores_its_limit_is_killed_and_the_next_answers():
    """The first configuration runs in a forked child killed past its limit; the defaults
    then answer (planted: the coverings called in the worker itself hang this test)."""
    assert cvc5_check.answer(FALLING_WEIGHT, 3.0) == "sat"


@needs_cvc5
def test_a_child_that_never_answers_is_a_timeout(monkeypatch):
    import time
    monkeypatch.setattr(cvc5_check, "_check", lambda *a: time.sleep(60) or "sat")
    assert cvc5_check._forked("(check-sat)", 0.05, (("nl-cov", "true"),)) == "timeout"


@needs_cvc5
def test_coverings_answer_the_nonlinear_rule_queries():
    """A query of the planted rule b/(1+b^2) at n=2, V=1 (z3: sat): the first configuration
    decides it, so it is sat within the limit (cvc5's defaults alone ran out of 2 s)."""
    from proofs.bounded.planted import planted_rule
    from proofs.bounded.rule_level import prove_rule
    with smt2.recording() as qs:
        prove_rule(planted_rule("overbid_penalty"), "monotone", "box", max_agents=2,
                   max_tokens=2, timeout_s=60)
    sat = [q for q in qs if q.z3 == "sat"]
    assert sat, [q.z3 for q in qs]
    assert cvc5_check._forked(cvc5_check.standard(sat[0].smt2), 5.0,
                              cvc5_check.ATTEMPTS[0][0]) == "sat"
