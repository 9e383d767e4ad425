"""A disciplined family of aggregation rules, proved for every n and V
(docs/theory.md section 8, "Writing a rule from building blocks").

A user writes a rule from declared building blocks::

    from proofs.unbounded.families import normalized, winner_take_all
    rule = normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 2.0})   # softmax(b/T)
    rule = normalized(lambda b, fn: fn.min(b, 3), reference=[.5, .5], weight=1.0, epsilon=.01)
    rule = normalized(lambda b, fn: b, pooling="log_linear")               # log-linear

* weights: ``w_j = f(b_j) / (lambda + sum_k f(b_k))`` (normalized independent; the
  platform reference, if bound, has the constant ``f``-value ``lambda``), or
  winner-take-all; ``f(b, fn, **params)`` is written with :mod:`proofs.compile.family_fns`;
* pooling: ``"linear"`` (``q = sum_j w_j p_j``) or ``"log_linear"`` (``q ∝ prod p_j^{w_j}``);
* smoothing ``(1 - eps) p + eps / V`` of every report (``epsilon``).

The result is a :class:`mechanism.rules.Rule` (numpy evaluation, ``tokenauction check``)
that also carries its declaration; :func:`prove_family` proves MON/CA for every n and V
through the lemma chain of :mod:`proofs.unbounded.lemmas` (f's one-variable facts by
:mod:`proofs.unbounded.weight_facts`), or returns the counterexample the characterization's other
direction builds, re-checked on the numpy reference. ``proofs.bounded.rule_level`` asks here
first and falls back to its bounded proof when this returns None (a rule not from the
family, or a fact the engines cannot decide).
"""

from __future__ import annotations

import numpy as np

from mechanism.errors import InvalidInput
from mechanism.rules import Rule, winner_take_all as _wta_generic
from mechanism.verdicts import Scope, Verdict

from proofs.compile.family_fns import fns_for
from proofs.unbounded.family_counterexamples import refute_decreasing, refute_loglinear
from proofs.unbounded.lemmas import Step, run_chain
from proofs.registry import ProofResult
from proofs.unbounded.weight_facts import weight_facts

POOLINGS = ("linear", "log_linear")
EVERY = Scope(None, None)


class FamilyRule(Rule):
    """A rule declared from the family's building blocks (see the module docstring)."""

    def __init__(self, name, kind, f=None, params=None, pooling="linear", *, reference=None,
                 weight=0.0, epsilon=0.0, symbolic_params=False):
        if pooling not in POOLINGS:
            raise InvalidInput(f"pooling {pooling!r} is not a family block; use one of "
                               f"{', '.join(POOLINGS)}", value=pooling)
        if kind in ("normalized", "general") and not callable(f):
            raise InvalidInput(f"{kind} weights need a weight function (see proofs.unbounded.families)",
                               value=f)
        self.kind, self.f, self.params, self.pooling = kind, f, dict(params or {}), pooling
        self.symbolic_params = symbolic_params
        super().__init__(name, self._generic, reference=reference, weight=weight,
                         epsilon=epsilon, claims={})

    def with_reference(self, reference, weight=None):
        return FamilyRule(self.name, self.kind, self.f, self.params, self.pooling,
                          reference=reference, weight=self.weight if weight is None else weight,
                          epsilon=self.epsilon, symbolic_params=self.symbolic_params)

    numpy_ops = type("NumpyName", (), {"name": "numpy"})

    def weights(self, ops, bids, weight):
        if self.kind == "wta":
            return None
        fn = fns_for(ops.name)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.kind == "general":
                return list(self.f(list(bids), fn, **self.params))
            return [self.f(b, fn, **self.params) for b in bids]

    def total_weight(self, b) -> float:
        if self.kind == "wta":
            return super().total_weight(b)
        F = self.weights(type(self).numpy_ops, list(b), self.weight)
        return float(np.sum(F)) + (self.weight if self.reference is not None else 0.0)

    def _generic(self, ops, dists, bids, reference=None, weight=0):
        if self.kind == "wta":
            return _wta_generic(ops, dists, bids, reference, weight)
        F = self.weights(ops, bids, weight)
        if ops.name == "numpy" and not all(np.isfinite(x) and x >= 0 for x in F):
            raise InvalidInput(f"rule {self.name!r}: the weight function gives {F} at bids "
                               f"{list(map(float, bids))}; float64 weights must be finite and "
                               ">= 0 (the proofs are in exact reals)", value=list(F))
        parties = list(zip(dists, F))
        if reference is not None:
            parties.append((reference, weight))
        if self.pooling == "linear":
            return sum(p * w for p, w in parties) / sum(w for _, w in parties)
        parties = [(p, ops.scalar(w)) for p, w in parties if ops.is_positive(w)]
        total = sum(w for _, w in parties)
        return ops.softmax(sum(ops.log(p) * (w / total) for p, w in parties))


def normalized(f, *, params=None, pooling="linear", reference=None, weight=0.0, epsilon=0.0,
               name=None, symbolic_params=False) -> FamilyRule:
    """Normalized independent weights ``f(b_j) / sum_k f(b_k)`` (module docstring)."""
    return FamilyRule(name or getattr(f, "__name__", "family_rule"), "normalized", f, params,
                      pooling, reference=reference, weight=weight, epsilon=epsilon,
                      symbolic_params=symbolic_params)


def general(weights, *, params=None, reference=None, weight=0.0, epsilon=0.0,
            name=None) -> FamilyRule:
    """General weights ``weights(bids, fn, **params) -> [W_1..W_n]`` (>= 0), normalized
    with the reference's ``lambda``: proved for every V and n <= max_agents
    (:mod:`proofs.unbounded.family_general`, the characterization checked by z3 per n)."""
    return FamilyRule(name or getattr(weights, "__name__", "general_rule"), "general", weights,
                      params, "linear", reference=reference, weight=weight, epsilon=epsilon)


def winner_take_all(*, reference=None, weight=0.0, epsilon=0.0, name="family_wta") -> FamilyRule:
    """The highest positive bidder's report (ties to the lowest index); else the reference."""
    return FamilyRule(name, "wta", reference=reference, weight=weight, epsilon=epsilon)


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
    notes = list(extra)
    if rule.pooling == "log_linear":
        notes.append("positive reports (zeros veto: docs/theory.md section 2)")
    if rule.epsilon:
        notes.append("the order is taken for the smoothed reports")
    if rule.symbolic_params and rule.params:
        notes.append("every positive value of " + ", ".join(sorted(rule.params)))
    return Scope(None, V, "real bids >= 0", "exact reals", tuple(notes))


def family_scope(rule, symbolic_reference: bool = False) -> Scope:
    """What a PROVED of :func:`prove_family`'s lemma chain covers for ``rule`` (the scope
    it records, and the one the theorem-table claims declare: docs/theory.md, "Scope of a
    verdict")."""
    V = None if rule.reference is None else rule.reference.size
    return _scope(rule, V, ["every reference p_0 and weight lambda >= 0"]
                  if symbolic_reference else ())


def prove_family(rule, property_id: str, order: str, *, timeout_s: float = 10.0,
                 symbolic_reference: bool = False, fallback: bool = True):
    """MON/CA of a :class:`FamilyRule` for every n and V; None when ``rule`` is not one
    (or the order is not box/segment), so the caller falls back to a bounded proof.
    ``symbolic_reference``: prove it with every platform reference and weight at once.
    ``fallback=False``: an unproved chain gives UNKNOWN with the chain instead of None."""
    if not isinstance(rule, FamilyRule) or order not in ("box", "segment") \
            or property_id not in ("monotone", "consistent"):
        return None
    V = None if rule.reference is None else rule.reference.size
    if rule.kind == "general":
        from proofs.unbounded.family_general import prove_general
        return prove_general(rule, property_id, order, timeout_s=timeout_s, fallback=fallback)
    logit = rule.pooling == "log_linear"
    extra = []
    if rule.kind == "normalized":
        try:
            facts = weight_facts(rule.f, rule.params, symbolic_params=rule.symbolic_params,
                                 timeout_s=min(timeout_s, 5.0))
        except Exception as exc:  # the user's f raised on numpy: no family verdict
            return None if fallback else ProofResult(
                Verdict.UNKNOWN, "numpy", f"the weight function raised {type(exc).__name__}: {exc}")
        extra = _fact_steps(facts)
        nondec = facts["nondec"]
        if nondec.verdict is Verdict.REFUTED and property_id == "monotone":
            return refute_decreasing(rule, order, nondec, extra)
        if facts["nonneg"].verdict is Verdict.PROVED and nondec.verdict is not Verdict.PROVED \
                and property_id == "consistent" and not logit:
            return _ca_any_weight(rule, order, timeout_s, extra, V)
        if any(v.verdict is not Verdict.PROVED for v in facts.values()):
            return None if fallback else _unproved(run_chain([], timeout_s, extra))
    if logit and V != 2:
        if property_id == "monotone":
            return refute_loglinear(rule, order, extra)
        return None
    chain = run_chain(mixture_chain(order, property_id, kind=rule.kind,
                                    reference=rule.reference is not None or symbolic_reference,
                                    epsilon=bool(rule.epsilon), logit=logit),
                      timeout_s, extra)
    if not chain.proved:
        return None if fallback else _unproved(chain)
    scope = family_scope(rule, symbolic_reference)
    res = ProofResult(Verdict.PROVED, engines(chain), f"{property_id} under {order} for every n "
                      f"and {'V = 2' if logit else 'every V'} by the family's lemma chain: "
                      + chain.summary(), scope.sizes())
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
