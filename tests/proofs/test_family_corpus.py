"""The adversarial family corpus (tests/proofs/family_corpus.py): no target gets a false
PROVED or a PROVED beside a violation of its running code; the proof engines alone (the
float search switched off) are sound on every target that is bad in exact reals; planted
bugs in the calculus and in the type check make the judge fail."""

import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.errors import InvalidInput, InvalidRule  # noqa: E402
from mechanism.verdicts import Verdict  # noqa: E402
from proofs.bounded.rule_level import prove_rule_property  # noqa: E402
from proofs.compile import rule as api  # noqa: E402
from proofs.unbounded import calculus, families  # noqa: E402

from tests.proofs.family_corpus import (CORPUS, FLOAT_ONLY, GENERAL_BAD, judge,  # noqa: E402
                                        witness_holds)


def prove(rule):
    return prove_rule_property(rule, "monotone", "box", max_agents=2, max_tokens=2,
                               timeout_s=10.0)


def test_corpus_is_large_and_its_ground_truth_holds_on_the_running_code():
    assert len(CORPUS) >= 25
    declined = 0
    for name, build, wit in CORPUS:
        try:
            rule = build(api)
        except (InvalidInput, InvalidRule):
            declined += 1
            continue
        if wit is not None:
            assert witness_holds(rule, *wit), name
    assert declined >= 4   # ==, the never-returning pair, a value outside its domain


def test_no_false_proved_and_no_proved_beside_a_violation():
    assert judge(api, prove) == []


def test_the_engines_alone_are_sound_without_the_float_search(monkeypatch):
    monkeypatch.setattr(families, "float_decrease", lambda tree: None)
    names = {n for n, _, _ in CORPUS} - set(FLOAT_ONLY)
    assert judge(api, prove, only=names) == []


@pytest.mark.parametrize("name", sorted(FLOAT_ONLY))
def test_raw_float64_code_that_parts_from_its_tree_does_not_run(name):
    """The running code gives the tree's weight where its raw float64 code does not (the
    enclosure does not certify it there), so the proof of the tree is true of it."""
    rule = dict((n, b) for n, b, _ in CORPUS)[name](api)
    x, y = FLOAT_ONLY[name]
    assert not witness_holds(rule, x, y)
    assert prove(rule).verdict is Verdict.PROVED


@pytest.mark.parametrize("name", sorted(FLOAT_ONLY))
def test_raw_float64_code_is_refuted_by_the_float_search(name, raw_float_code):
    """The planted bug (the enclosure certifies every row): the raw code runs, falls at the
    witness, and the float search refutes it on that code."""
    rule = dict((n, b) for n, b, _ in CORPUS)[name](api)
    assert witness_holds(rule, *FLOAT_ONLY[name])
    res = prove(rule)
    assert res.verdict is Verdict.REFUTED
    assert "exact reals" in res.detail and res.scope.arithmetic.startswith("float64")


def test_planted_product_without_its_sign_condition_fails_the_corpus(monkeypatch):
    monkeypatch.setattr(families, "float_decrease", lambda tree: None)
    monkeypatch.setattr(calculus, "product_direction",
                        lambda a, b: calculus.same(a.mono, b.mono))
    names = {n for n, _, _ in CORPUS} - set(FLOAT_ONLY)
    found = judge(api, prove, only=names)
    assert any(d.startswith("square_unsigned: false PROVED") for d in found), found


def test_planted_skipped_override_check_fails_the_corpus(monkeypatch):
    monkeypatch.setattr(families, "sealed", lambda rule: None)
    found = judge(api, prove, only={"subclass", "patched_evaluate", "patched_numpy_fn"})
    assert any(d.startswith("subclass: false PROVED") for d in found), found
    assert len(found) == 3, found


def test_a_general_rule_whose_others_rise_is_not_proved():
    assert GENERAL_BAD <= {n for n, _, _ in CORPUS}
    rule = dict((n, b) for n, b, _ in CORPUS)["general_others_rise"](api)
    assert prove(rule).verdict is Verdict.REFUTED
