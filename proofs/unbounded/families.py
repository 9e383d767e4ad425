"""A disciplined family of aggregation rules, proved for every n and V
(docs/theory.md section 8, "Writing a rule from building blocks").

A user writes a rule from declared building blocks::

    from proofs.unbounded.families import normalized, winner_take_all
    rule = normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 2.0})   # softmax(b/T)
    rule = normalized(lambda b, fn: fn.min(b, 3), reference=[.5, .5], weight=1.0, epsilon=.01)
    rule = normalized(lambda b, fn: b, pooling="log_linear")               # log-linear

The rule is compiled at declaration (:mod:`proofs.compile.rule`): ``f`` is captured once
into an exact tree, and the rule that runs is generated from it. :func:`prove_family`
proves MON/CA of exactly that compiled object for every n and V through the lemma chain
of :mod:`proofs.unbounded.lemmas` (f's one-variable facts from the tree by
:mod:`proofs.unbounded.weight_facts`), or returns the counterexample the
characterization's other direction builds, re-checked on the code that runs. Any other
object (a subclass, a replaced method) gets no proof, with the reason.
"""

from __future__ import annotations

from mechanism.verdicts import NO_REFERENCE, Scope, Verdict

from proofs.compile.rule import FamilyRule, general, normalized, sealed, winner_take_all
from proofs.unbounded.family_counterexamples import refute_decreasing, refute_loglinear
from proofs.compile.enclosure import CERTIFIED_CODE
from proofs.unbounded.chains import Step, run_chain
from proofs.registry import ProofResult
from proofs.unbounded.weight_facts import exact_decrease, float_decrease, weight_facts

__all__ = ["FamilyRule", "normalized", "general", "winner_take_all", "prove_family",
           "family_scope", "mixture_chain"]
EVERY = Scope(None, None)


# ---------------------------------------------------------------------------
# The proof: lemma chains, or the characterization's counterexample
# ---------------------------------------------------------------------------

def _fact_steps(facts) -> list[Step]:
    return [Step(f"f_{k}", {"nonneg": "f(x) >= 0 for x >= 0",
                            "nondec": "f non-decreasing on x >= 0"}[k] + f" ({v.detail})",
                 v.engine, str(v.verdict)) for k, v in facts.items()]


def mixture_chain(order: str, prop: str, *, kind="normalized", reference=False,
                  epsilon=False, logit=False) -> list[str]:
    """The lemma ids of the chain for a mixture rule (see docs/theory.md section 8)."""
    ids = ["mixture_form", "v_free_box"]
    ids += ["norm_scale"] if kind == "normalized" else ["wta_win", "wta_others", "wta_scale"]
    ids += ["distrib", "agg", "between"]
    if logit:
        ids += ["logit_sigmoid", "monotone_map", "v2_segment"]
    if order == "segment" and not logit:
        ids += ["v_free_segment", "seg_pair", "seg_global"]
    if reference:
        ids.append("reference_party")
    if epsilon:
        ids += ["smoothing", "smooth_sum"]
    if prop == "consistent":
        ids.append("mon_ca")
    return ids


def _scope(rule, V=None, extra=()) -> Scope:
    notes = [f"the compiled rule: {rule.expression()}", CERTIFIED_CODE] + list(extra)
    if rule.pooling == "log_linear":
        notes.append("positive reports (zeros veto: docs/theory.md section 2)")
    if rule.epsilon:
        notes.append("the order is taken for the smoothed reports")
    if rule.domains:
        notes.append("every value of " + ", ".join(f"{k} in {d}" for k, d in
                                                     sorted(rule.domains.items())))
    return Scope(None, V, "real bids >= 0", "exact reals", tuple(notes))


def family_scope(rule, symbolic_reference: bool = False) -> Scope:
    """What a PROVED of :func:`prove_family`'s lemma chain covers for ``rule`` (the scope
    it records, and the one the theorem-table claims declare: docs/theory.md, "Scope of a
    verdict")."""
    V = None if rule.reference is None else rule.reference.size
    return _scope(rule, V, ["every reference p_0 and weight lambda >= 0"]
                  if symbolic_reference else [NO_REFERENCE] if rule.reference is None else ())


def prove_family(rule, property_id: str, order: str, *, timeout_s: float = 10.0,
                 symbolic_reference: bool = False, fallback: bool = True):
    """MON/CA of a compiled :class:`FamilyRule` for every n and V; None when ``rule`` is
    not a family rule at all (or the order is not box/segment), so the caller falls back
    to a bounded proof. A family rule that is not exactly the compiled object gets
    UNKNOWN with the reason. ``symbolic_reference``: every platform reference and weight."""
    if not isinstance(rule, FamilyRule) or order not in ("box", "segment") \
            or property_id not in ("monotone", "consistent"):
        return None
    why = sealed(rule)
    if why is not None:
        return ProofResult(Verdict.UNKNOWN, "-", f"no proof: {why}; only the compiled family "
                           "rule is proved (the rule is still sampled)")
    if rule.kind == "general":
        from proofs.unbounded.family_general import prove_general
        return prove_general(rule, property_id, order, timeout_s=timeout_s)
    extra = []
    if rule.kind == "normalized":
        got = _normalized_facts(rule, property_id, order, timeout_s)
        if isinstance(got, ProofResult):
            return got
        extra, facts = got
        if facts["nonneg"].verdict is Verdict.PROVED and facts["nondec"].verdict is not \
                Verdict.PROVED and property_id == "consistent" and rule.pooling == "linear":
            return _ca_any_weight(rule, order, timeout_s, extra, _V(rule)) or \
                _unproved(run_chain([], timeout_s, extra))
        if any(v.verdict is not Verdict.PROVED for v in facts.values()):
            return _unproved(run_chain([], timeout_s, extra))
    return _chain_result(rule, property_id, order, timeout_s, extra, symbolic_reference)


def _V(rule):
    return None if rule.reference is None else rule.reference.size


def _normalized_facts(rule, property_id, order, timeout_s):
    """The weight facts, or the REFUTED / UNKNOWN result they decide."""
    facts = weight_facts(rule.tree, rule.domains, timeout_s=min(timeout_s, 5.0))
    extra = _fact_steps(facts)
    bad = float_decrease(rule.runtime_tree)
    if bad is not None and len(bad.witness) == 2:
        real = exact_decrease(rule.runtime_tree, rule.values, bad.witness)
        context = (" in exact reals too" if real else "; in exact reals "
                   + ("f is non-decreasing (" + facts["nondec"].detail + "): the float64 code "
                      "that runs violates what holds in reals"
                      if facts["nondec"].verdict is Verdict.PROVED else "not decided"))
        if property_id == "monotone":
            res = refute_decreasing(rule, order, bad, extra)
            if res is not None:
                res.detail += f" (the decrease {bad.detail}{context})"
                if not real:
                    res.scope = Scope(None, None, "float64 bids", "float64 (the code that runs)")
                return res
        if not real or property_id == "monotone":
            return ProofResult(Verdict.UNKNOWN, "numpy", f"the compiled float64 code decreases: "
                               f"{bad.detail}{context}; no proof of the code that runs")
    if bad is not None and len(bad.witness) == 1:
        return ProofResult(Verdict.UNKNOWN, "numpy", f"{bad.detail}: not a weight function "
                           "where it runs (negative weights are refused)")
    return extra, facts


def _chain_result(rule, property_id, order, timeout_s, extra, symbolic_reference):
    V, logit = _V(rule), rule.pooling == "log_linear"
    if logit and V != 2:
        if property_id == "monotone":
            return refute_loglinear(rule, order, extra) or _unproved(run_chain([], timeout_s,
                                                                               extra))
        return _unproved(run_chain([], timeout_s, extra))
    chain = run_chain(mixture_chain(order, property_id, kind=rule.kind,
                                    reference=rule.reference is not None or symbolic_reference,
                                    epsilon=bool(rule.epsilon), logit=logit),
                      timeout_s, extra)
    if not chain.proved:
        return _unproved(chain)
    scope = family_scope(rule, symbolic_reference)
    res = ProofResult(Verdict.PROVED, engines(chain), f"{property_id} under {order} for every n "
                      f"and {'V = 2' if logit else 'every V'} by the family's lemma chain, of "
                      f"the compiled rule {rule.expression()}: " + chain.summary(),
                      scope.sizes())
    res.scope, res.lemmas = scope, chain.steps
    return res


def _unproved(chain) -> ProofResult:
    res = ProofResult(Verdict.UNKNOWN, engines(chain), "the lemma chain is not proved: "
                      + chain.summary())
    res.lemmas = chain.steps
    return res


def engines(chain) -> str:
    return chain.engines()


def _ca_any_weight(rule, order, timeout_s, extra, V):
    """CA for normalized weights with ANY f >= 0: others scale by c = S/S' > 0, so one of
    Q(s), Q(s') is between the other and p_i (lemmas norm_pos, ca_either)."""
    ids = ["mixture_form", "v_free_box", "norm_pos", "distrib", "agg", "ca_either"]
    ids += ["v_free_segment", "seg_pair", "seg_global"] if order == "segment" else []
    ids += (["reference_party"] if rule.reference is not None else []) + \
        (["smoothing", "smooth_sum"] if rule.epsilon else [])
    chain = run_chain(ids, timeout_s, [s for s in extra if s.id == "f_nonneg"])
    if not chain.proved:
        return None
    res = ProofResult(Verdict.PROVED, engines(chain), f"consistent under {order} for every n and "
                      "every V, any weight function f >= 0 (f need not be monotone): "
                      + chain.summary(), "every n, every V")
    res.scope, res.lemmas = _scope(rule, V), chain.steps
    return res
