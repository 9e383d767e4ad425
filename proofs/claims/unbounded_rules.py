"""Theorem-table claims proved for EVERY number of agents n and tokens V
(docs/theory.md section 8): the built-in rules, softmax and power weights, log-linear,
and the mixture characterization, each through a lemma chain of :mod:`proofs.unbounded.chains`.

The built-in rules are compiled family rules (:mod:`proofs.unbounded.builtins`); that the
library's fast paths compute the same numbers is a separate, bounded step (``code_tie``),
listed in the chain and in the scope's assumptions.
"""

from __future__ import annotations


from mechanism.rules import get_rule
from mechanism.verdicts import Scope, Verdict

from proofs.unbounded.builtins import BUILTIN, FAMILY, code_tie, with_code_tie
from proofs.unbounded.families import family_scope, normalized, prove_family
from proofs.unbounded.chains import run_chain
from proofs.registry import Limits, ProofResult, claim

def family_claim_scope(key: str, symbolic_reference: bool = False) -> Scope:
    """The scope a family claim declares: the one :func:`_family_claim` records on a
    PROVED (:func:`proofs.unbounded.families.family_scope`, then :func:`with_code_tie`)."""
    return with_code_tie(family_scope(FAMILY[key](), symbolic_reference), key)


def _family_claim(key, prop, order, limits: Limits, symbolic_reference=False) -> ProofResult:
    res = prove_family(FAMILY[key](), prop, order, timeout_s=min(limits.timeout_s, 20.0),
                       symbolic_reference=symbolic_reference, fallback=False)
    if res is None:
        return ProofResult(Verdict.UNKNOWN, "z3+sympy", "the lemma chain was not proved")
    tie = code_tie(key)
    res.lemmas = list(res.lemmas) + [tie]
    if res.verdict is Verdict.REFUTED and key in BUILTIN:  # the library's own rule, too
        from proofs.unbounded.family_counterexamples import confirm_on_code
        if confirm_on_code(get_rule(BUILTIN[key]), res.counterexample, order) is None:
            res.verdict, res.detail = Verdict.UNKNOWN, "the family's counterexample does " \
                "not reproduce on the library's rule: " + res.detail
    if res.verdict is Verdict.PROVED and tie.verdict != "PROVED" and tie.engine != "argument":
        res.verdict, res.detail = Verdict.UNKNOWN, "the library's code and the family form " \
            "differ: " + tie.statement
    elif res.scope is not None:
        res.scope = with_code_tie(res.scope, key)
    return res


def _reg(id_, key, prop, order, statement, expected="holds", symbolic_reference=False):
    claim(id_, statement, expected=expected, order=order,
          scope=family_claim_scope(key, symbolic_reference) if expected == "holds" else None)(
        lambda limits: _family_claim(key, prop, order, limits, symbolic_reference))


for _o in ("box", "segment"):
    for _p, _tag in (("monotone", "mon"), ("consistent", "ca")):
        _reg(f"unbounded.linear.{_tag}_{_o}", "linear", _p, _o,
             f"linear is {_tag.upper()} ({_o}) for every n and V")
        _reg(f"unbounded.linear_ref.{_tag}_{_o}", "linear", _p, _o,
             f"linear with a platform reference p_0 and weight lambda is {_tag.upper()} ({_o}) "
             "for every n, V, p_0 and lambda", symbolic_reference=True)
        _reg(f"unbounded.wta.{_tag}_{_o}", "wta", _p, _o,
             f"winner-take-all is {_tag.upper()} ({_o}) for every n and V")
    _reg(f"unbounded.softmax.mon_{_o}", "softmax", "monotone", _o,
         f"softmax(b/T) weights are MON ({_o}) for every n, V and T > 0")
    _reg(f"unbounded.power.mon_{_o}", "power", "monotone", _o,
         f"b^beta weights are MON ({_o}) for every n, V and beta > 0")
    _reg(f"unbounded.log_linear.mon_{_o}_v2", "log_linear_v2", "monotone", _o,
         f"log-linear is MON ({_o}) on 2 tokens for every n (positive reports)")
    _reg(f"unbounded.log_linear.mon_{_o}_v3", "log_linear", "monotone", _o,
         f"log-linear is MON ({_o}) on V >= 3 -- false for every n >= 2: parametric "
         "counterexample", expected="fails")


CHARACTERIZATION = Scope(None, None, "real bids >= 0; weights depend on bids only")


@claim("unbounded.characterization", "mixture q = sum_j w_j(b) p_j: box-MON for all reports "
       "(V >= 2) iff raising i's bid scales every other party's weight by one c in [0, 1]; "
       "then q' = c q + (1-c) p_i is segment-MON too", order="box", scope=CHARACTERIZATION)
def _characterization(limits: Limits) -> ProofResult:
    chain = run_chain(["mixture_form", "v_free_box", "distrib", "agg", "between", "seg_pair",
                       "seg_global", "characterization", "nec_rise", "nec_shape"],
                      limits.timeout_s)
    res = ProofResult(Verdict.PROVED if chain.proved else Verdict.UNKNOWN, "z3",
                      "both directions: " + chain.summary(), CHARACTERIZATION.sizes())
    res.scope, res.lemmas = CHARACTERIZATION, chain.steps
    return res


@claim("unbounded.overbid.mon_box", "normalized weights f(b) = b/(1+b^2) are MON (box) -- "
       "false: f decreases above 1, the characterization's other direction gives the "
       "counterexample for every n >= 2, V >= 2", expected="fails", order="box")
def _overbid(limits: Limits) -> ProofResult:
    return prove_family(normalized(lambda b, fn: b / (1 + b * b), name="overbid_penalty"),
                        "monotone", "box", timeout_s=limits.timeout_s) or \
        ProofResult(Verdict.UNKNOWN, "z3+sympy", "no family verdict")
