"""The compiling prover on adversarial generic targets (tests/proofs/generic_corpus.py):
each gets its expected verdict; no PROVED is false (the user's own function, sampled, never
violates a PROVED target) and no PROVED sits beside a REFUTED in its scope. Planted bugs
(the seal check skipped; a case split joined without its condition) make the corpus fail."""

import numpy as np
import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.orders import prefers
from proofs.bounded import compiled_form
from proofs.bounded.float_search import rows
from proofs.bounded.rule_level import prove_rule_property
from proofs.compile import generic
from proofs.compile.capture import DeclarationError
from proofs.compile.generic_rule import sealed
from tests.proofs.generic_corpus import CORPUS, user_rule

BIDS = np.array([0.0, 1e-3, 0.37, 0.3700000002, 0.5, 1.0, 2.0, 10.0, 1e8, 1e9, 1e301])


def _outputs(rule, P, B):
    """``rule.evaluate`` on every bid row (None where it declines). A sealed compiled rule
    answers all rows in one call (:func:`proofs.bounded.float_search.rows`: the same
    generated code, row for row); any other rule is called one row at a time."""
    if sealed(rule) is None:
        return [None if np.isnan(q).any() else q for q in rows(rule, P, B)]
    out = []
    for b in B:
        try:
            out.append(rule.evaluate(P, b))
        except Exception:  # declined: no evidence
            out.append(None)
    return out


def sampled_violation(rule, seed=0):
    """A box violation of ``rule.evaluate`` found by seeded sampling in n <= 3, V <= 4."""
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3):
        for V in (2, 3, 4):
            for _ in range(6):
                P = rng.dirichlet(np.ones(V), size=n)
                base = rng.choice(BIDS[1:8], size=n)
                for i in range(n):
                    B = np.repeat(base[None, :], len(BIDS), axis=0)
                    B[:, i] = BIDS
                    Q = _outputs(rule, P, B)
                    for a in range(len(BIDS)):
                        for b in range(a + 1, len(BIDS)):
                            if Q[a] is not None and Q[b] is not None and \
                                    not prefers(P[i], Q[b], Q[a], "box"):
                                return (P.tolist(), B[a].tolist(), B[b].tolist())
    return None


def verdict_of(name):
    build, _, _, _ = CORPUS[name]
    try:
        rule = build()
    except DeclarationError as exc:
        return "DECLARATION", str(exc), None
    res = prove_rule_property(rule, "monotone", "box", max_agents=3, max_tokens=4,
                              timeout_s=60)
    return str(res.verdict), res.detail, rule


def corpus_failures(names=None) -> list[str]:
    bad = []
    for name in names or CORPUS:
        _, want, words, truth = CORPUS[name]
        got, detail, rule = verdict_of(name)
        if got != want or words not in detail:
            bad.append(f"{name}: {got} (want {want} with {words!r}): {detail[:240]}")
        if got == "PROVED":
            user = user_rule(name)
            for r in [rule] + ([user] if user is not None else []):
                seen = sampled_violation(r)
                if seen is not None:
                    bad.append(f"{name}: PROVED beside a sampled violation {seen}")
            if truth not in ("monotone", "monotone as compiled"):
                bad.append(f"{name}: a false PROVED (the function as written is {truth})")
    return bad


def test_corpus_size_and_kinds():
    assert len(CORPUS) >= 12
    kinds = {want for _, want, _, _ in CORPUS.values()}
    assert kinds == {"PROVED", "REFUTED", "UNKNOWN", "DECLARATION"}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_target_gets_its_verdict_and_no_proved_is_false(name):
    """One target per case (each is a run of the prover; split, they spread over the suite's
    workers); together the cases are the whole corpus."""
    assert corpus_failures([name]) == []


def test_the_oracle_sees_the_non_monotone_targets():
    """The sampling oracle is not blind: it finds the violations of the REFUTED targets
    that are visible at its bids."""
    for name in ("threshold_drop", "scaled_1e-12_bad", "colliding_names", "positive_at_zero"):
        assert sampled_violation(user_rule(name)) is not None, name


def test_declaration_errors_name_the_line_and_the_fix():
    _, detail, _ = verdict_of("python_if")
    assert "generic_corpus.py:" in detail and "b if b > 1 else" in detail
    assert "ops.ite(ops.gt" in detail


def test_planted_skip_of_the_seal_check_fails_the_corpus(monkeypatch):
    """Plant: every rule counts as sealed: the subclass and the replaced methods, whose
    code differs from the tree at one bid, get a false PROVED."""
    monkeypatch.setattr(compiled_form, "sealed", lambda rule: None)
    bad = corpus_failures(["hidden_subclass", "replaced_numpy", "replaced_evaluate"])
    assert len(bad) >= 3 and all("PROVED" in line for line in bad), bad


def test_planted_case_split_without_its_condition_fails_the_corpus(monkeypatch):
    """Plant: a case split joined without its condition (the positive side always). The
    fidelity check (the function as written against its capture) refuses the wrong tree;
    with that check off as well, the plant is a false PROVED."""
    from proofs.compile.generic_rule import GenericRule
    monkeypatch.setattr(generic, "_ite_node", lambda c, a, b: a)
    bad = corpus_failures(["positive_at_zero"])
    assert bad and "answers numbers differently" in bad[0], bad
    monkeypatch.setattr(GenericRule, "_faithful", lambda self, n, V, has_ref: None)
    bad = corpus_failures(["positive_at_zero"])
    assert bad and "PROVED" in bad[0], bad
