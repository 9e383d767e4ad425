"""The built-in rules as compiled family rules (docs/theory.md section 8), and the tie of
each library fast path to that independent specification.

linear is normalized weights with ``f(b) = b``, log-linear the same weights with
log-linear pooling, winner-take-all the family's own block (a running-maximum scan, not
the library's definition). :func:`family_of` recognizes exactly a registered built-in
(the registry's own functions, nothing replaced) and gives its family form, so
``tokenauction check linear`` gets the unbounded proof ``tokenauction prove`` has.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mechanism.rules import Rule, get_rule
from mechanism.verdicts import Scope, Verdict

from proofs.compile.enclosure import CERTIFIED_CODE
from proofs.unbounded.families import normalized, prove_family, winner_take_all
from proofs.unbounded.chains import Step

FAMILY = {
    "linear": lambda: normalized(lambda b, fn: b, name="linear"),
    "wta": lambda: winner_take_all(name="winner_take_all"),
    "softmax": lambda: normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 1.0},
                                  domains={"T": "positive"}, name="softmax_weights"),
    "power": lambda: normalized(lambda b, fn, beta: fn.pow(b, beta), params={"beta": 0.5},
                                domains={"beta": "positive"}, name="power_weights"),
    "log_linear": lambda: normalized(lambda b, fn: b, pooling="log_linear", name="log_linear"),
    "log_linear_v2": lambda: normalized(lambda b, fn: b, pooling="log_linear",
                                        reference=[.5, .5], weight=0.0, name="log_linear"),
}
BUILTIN = {"linear": "linear", "wta": "winner_take_all", "log_linear": "log_linear",
           "log_linear_v2": "log_linear"}


def _tie_profile(rng, key):
    """A seeded profile: n <= 6, V <= 6 (V = 2 for the 2-token claim), zero bids and tied
    bids on purpose (the winner-take-all tie rule and W = 0 neighbours are exercised)."""
    n = int(rng.integers(1, 7))
    V = 2 if key == "log_linear_v2" else int(rng.integers(2, 7))
    P = rng.dirichlet(np.ones(V) * 0.7, size=n) * 0.98 + 0.02 / V
    b = rng.choice([0.0, 0.5, 1.0, 2.0], n) if rng.random() < 0.5 else \
        rng.exponential(1.0, n) * (rng.random(n) < 0.8)
    if b.sum() <= 0:
        b[int(rng.integers(n))] = 1.0
    return P, b


def code_tie(key: str, seed: int = 0, profiles: int = 300) -> Step:
    """The library's fast path equals the compiled family rule (an independent
    specification: the family's own generated code, never the library's definition) on
    seeded profiles with ties and zero bids (bounded)."""
    name = BUILTIN.get(key)
    if name is None:
        return Step("code_tie", "the family rule is the rule (no library code to tie)",
                    "argument", "ARGUED")
    lib, fam = get_rule(name), FAMILY[key]()
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(profiles):
        P, b = _tie_profile(rng, key)
        lib_r, fam_r = lib, (fam if fam.reference is None else fam.with_reference(None))
        if key == "linear" and rng.random() < 0.5:  # with a random reference and weight
            ref, lam = rng.dirichlet(np.ones(P.shape[1])), float(rng.exponential(1.0))
            lib_r, fam_r = lib.with_reference(ref, lam), fam.with_reference(ref, lam)
        worst = max(worst, float(np.max(np.abs(lib_r(P, b) - fam_r(P, b)))))
    ok = worst < 1e-9
    return Step("code_tie", f"the library's {name!r} (float64) equals the compiled family rule "
                f"(float64) on {profiles} seeded profiles, n <= 6, V <= 6, positive reports, "
                f"zero and tied bids included (max difference {worst:.1e} <= 1e-9; bounded: "
                "a tie, not a proof)", "numpy", str(Verdict.PROVED if ok else Verdict.REFUTED))


TIE = ("the library's code equals the compiled family rule on 300 seeded float64 profiles "
       "(n <= 6, V <= 6, positive reports, zero and tied bids; bounded)")


def with_code_tie(scope: Scope, key: str) -> Scope:
    """``scope`` with the bounded code tie's assumption when ``key`` is a library rule (its
    own numpy code runs, not the family's certified code: that assumption is dropped)."""
    if key not in BUILTIN:
        return scope
    kept = tuple(a for a in scope.assumptions if a != CERTIFIED_CODE)
    return replace(scope, assumptions=kept + (TIE,))




_KEYS = {"linear": "linear", "winner_take_all": "wta", "log_linear": "log_linear"}


def family_of(rule):
    """``(key, family rule)`` for exactly a registered built-in rule, else None."""
    key = _KEYS.get(getattr(rule, "name", None))
    if key is None or type(rule) is not Rule:
        return None
    fresh = get_rule(rule.name)
    if rule.generic is not fresh.generic or rule._numpy_fn is not fresh._numpy_fn \
            or rule._batch_fn is not fresh._batch_fn \
            or set(vars(rule)) != set(vars(fresh)):
        return None
    if key == "log_linear" and rule.reference is not None and rule.reference.size == 2:
        key = "log_linear_v2"
    fam = FAMILY[key]()
    fam = fam.with_reference(None) if rule.reference is None else \
        fam.with_reference(rule.reference, rule.weight)
    if rule.epsilon:
        from proofs.compile.rule import FamilyRule
        fam = FamilyRule(fam.name, fam.kind, fam.f, fam.params, fam.pooling,
                         reference=fam.reference, weight=fam.weight, epsilon=rule.epsilon)
    return key, fam


def prove_builtin(rule, property_id, order, *, timeout_s=10.0):
    """The unbounded proof of a built-in rule through its family form and the code tie;
    None when ``rule`` is not exactly a built-in."""
    got = family_of(rule)
    if got is None:
        return None
    key, fam = got
    res = prove_family(fam, property_id, order, timeout_s=timeout_s)
    if res is None:
        return None
    tie = code_tie(key)
    res.lemmas = list(res.lemmas) + [tie]
    if res.verdict is Verdict.REFUTED:
        from proofs.unbounded.family_counterexamples import confirm_on_code
        if res.counterexample is None or confirm_on_code(rule, res.counterexample, order) is None:
            res.verdict, res.detail = Verdict.UNKNOWN, "the family's counterexample does not " \
                "reproduce on the library's rule: " + res.detail
    if res.verdict is Verdict.PROVED:
        if tie.verdict != "PROVED":
            res.verdict, res.detail = Verdict.UNKNOWN, "the library's code and the compiled " \
                "family rule differ: " + tie.statement
        elif res.scope is not None:
            res.scope = with_code_tie(res.scope, key)
    return res
