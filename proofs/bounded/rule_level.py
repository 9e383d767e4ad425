"""Rule-level proofs: z3 proves or refutes MON / CA of a backend-generic rule (theory §4).

For every size up to (agents, tokens) and every agent i, the rule's ONE generic
definition is evaluated on z3 terms: distributions are Reals on the simplex, bids are
non-negative Reals, and agent i bids ``s < s'`` (with ``W(s) > 0``, the rule's
precondition). z3 is asked for a violation of ``Q(s') ⪰ Q(s)``. The violation is a
disjunction (box: a token leaves the interval between ``Q_t(s)`` and ``p_i(t)``,
below or above; segment: that, or two tokens whose moves are not parallel to
``p_i - Q(s)``), and each disjunct is one small query: per-token lemmas solve fast
and steadily where one big disjunction does not. In each query the probabilities it
does not mention are projected out of the simplex (``sum <= 1`` for the rest), so for a
token-separable rule such as linear a query grows with the agents, not the tokens.
Division by ``W`` is left to z3 (it purifies ``a/b`` itself; introducing ``q`` with
``q W = numerator`` by hand measured no faster). With 2 cores and the default sizes
(3 agents, 4 tokens) linear takes about 1-2 s per order; see
``benchmarks/proofs_rule_level.py`` for the growth per added agent and token.

Soundness: what z3 reads is the rule's compiled trees (:mod:`proofs.compile.generic_rule`),
the object whose generated code runs; no probe or tolerance decides a PROVED. A rule whose
evaluation is not that code (a plain ``Rule`` of a user's function, a subclass, a replaced
method: :func:`proofs.compile.generic_rule.sealed`) is compiled and searched all the same,
but z3's unsat is then UNKNOWN with the reason; a built-in rule's numpy fast path is tied
to its compiled tree by a property test, which the scope names. After unsat, a float64
search of the code that runs (:mod:`proofs.bounded.float_search`) may still REFUTE: the
proof is in exact reals, the code in float64.

unsat for every query -> PROVED on those sizes, with :class:`mechanism.verdicts.Scope`;
sat -> the model, made robust and rounded, re-run on the code that runs
(``rule.evaluate`` + ``mechanism.orders``) -> REFUTED; timeout -> UNKNOWN; exp/log -> an
exact search (:mod:`proofs.bounded.exact_search`): REFUTED with an exact counterexample, or
UNKNOWN; a rule with a numpy form only -> SKIPPED.
"""

from __future__ import annotations

from dataclasses import dataclass

from mechanism.arith import Unsupported
from mechanism.errors import InvalidInput
from mechanism.orders import get_order
from mechanism.rules import Rule, as_rule, get_rule
from mechanism.verdicts import NO_REFERENCE, Scope, Verdict

from proofs.bounded import exact_search, float_search
from proofs.bounded.budget import Budget
from proofs.bounded.compiled_form import BUILTIN_TIE, Subject, builtin_reason, subject
from proofs.bounded.counterexamples import confirm_violation
from proofs.bounded.rule_instance import Instance, Timeout
from proofs.compile.capture import DeclarationError
from proofs.compile.enclosure import CERTIFIED_CODE
from proofs.registry import ProofResult

PROPERTIES = ("monotone", "consistent")


@dataclass(frozen=True)
class Job:
    """One bounded search: what is read and run, the property, the sizes, the budget."""
    subj: Subject
    prop: str
    order: str
    pairs: tuple
    budget: Budget
    symbolic_reference: bool = False
    size: str = ""
Z3_ORDERS = ("box", "segment")


def _violations(z3, p, q_from, q_to, order, margin=0):
    """Disjuncts of ``not (q_to ⪰ q_from)`` for an agent whose ideal is ``p``."""
    out = []
    for t in range(len(p)):
        out.append((f"token {t} falls below", z3.And(q_to[t] < q_from[t] - margin,
                                                     q_to[t] < p[t] - margin)))
        out.append((f"token {t} rises above", z3.And(q_to[t] > q_from[t] + margin,
                                                     q_to[t] > p[t] + margin)))
    if order == "segment":
        for t in range(len(p)):
            for u in range(t + 1, len(p)):
                cross = ((q_to[t] - q_from[t]) * (p[u] - q_from[u])
                         - (q_to[u] - q_from[u]) * (p[t] - q_from[t]))
                out.append((f"tokens {t},{u} leave the segment",
                            z3.Or(cross > margin, cross < -margin)))
    return out


def _queries(inst: Instance, prop: str, order: str, margin=0):
    z3 = inst.z3
    fwd = _violations(z3, inst.p_i, inst.q_from, inst.q_to, order, margin)
    if prop == "monotone":
        return fwd
    back = _violations(z3, inst.p_i, inst.q_to, inst.q_from, order, margin)
    return [(f"{a} going up, and {b} going down", z3.And(c, d))
            for a, c in fwd for b, d in back]


def _check(value, name, lo):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InvalidInput(f"{name} must be an integer >= {lo}, got {value!r}", value=value)


def _validate(property_id, order, max_agents, max_tokens, timeout_s):
    if property_id not in PROPERTIES:
        raise InvalidInput(f"unknown property {property_id!r} for the rule-level engine; use one "
                           f"of {', '.join(PROPERTIES)}", value=property_id)
    get_order(order)  # InvalidInput naming the known orders
    _check(max_agents, "max_agents", 1)
    _check(max_tokens, "max_tokens", 2)
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise InvalidInput(f"timeout_s must be a positive number, got {timeout_s!r}",
                           value=timeout_s)


def prove_rule_property(rule, property_id, order, *, max_agents=3, max_tokens=4,
                        timeout_s=10.0) -> ProofResult:
    """Prove or refute ``property_id`` ("monotone" or "consistent") of ``rule`` (a Rule,
    a registered rule name, or a plain callable: then SKIPPED) under ``order`` ("box" or
    "segment") for every n <= max_agents agents and V <= max_tokens tokens.
    A rule from the family of :mod:`proofs.unbounded.families` is first proved for every n and V."""
    from proofs.unbounded.families import prove_family  # unbounded first; None: not a family rule
    rule = get_rule(rule) if isinstance(rule, str) else as_rule(rule)
    _validate(property_id, order, max_agents, max_tokens, timeout_s)
    res = prove_family(rule, property_id, order, timeout_s=timeout_s)
    if res is None and order in ("box", "segment") and property_id in ("monotone", "consistent"):
        from proofs.unbounded.builtins import prove_builtin  # a built-in: its compiled form
        res = prove_builtin(rule, property_id, order, timeout_s=timeout_s)
    if res is not None:
        return res
    return prove_rule(rule, property_id, order, max_agents=max_agents, max_tokens=max_tokens,
                      timeout_s=timeout_s)


def prove_rule(rule, property_id, order, *, max_agents=3, max_tokens=4, timeout_s=10.0,
               symbolic_reference=False) -> ProofResult:
    """:func:`prove_rule_property`, optionally with a symbolic reference ``p_0`` and
    weight ``lambda >= 0`` (every reference and weight at once)."""
    budget = Budget(timeout_s)
    rule = get_rule(rule) if isinstance(rule, str) else as_rule(rule)
    _validate(property_id, order, max_agents, max_tokens, timeout_s)
    if rule.generic is None:
        return ProofResult(Verdict.SKIPPED, "z3", f"rule {rule.name!r} has a numpy form only; "
                           "the rule-level engine needs its generic definition (use sampling)")
    if order not in Z3_ORDERS:
        return ProofResult(Verdict.SKIPPED, "z3", f"order {order!r} is a loss order (needs "
                           "log/sqrt); the rule-level engine handles box and segment")
    if property_id == "consistent":
        mon = prove_rule(rule, "monotone", order, max_agents=max_agents, max_tokens=max_tokens,
                         timeout_s=timeout_s / 2, symbolic_reference=symbolic_reference)
        if mon.verdict is Verdict.PROVED:
            mon.detail = ("consistent follows from monotone (s < s' gives Q(s') ⪰ Q(s); "
                          "s = s' by reflexivity): " + mon.detail)
            return mon
    sizes = ([rule.reference.size] if rule.reference is not None and not symbolic_reference
             else range(2, max_tokens + 1))
    size = f"n<={max_agents}, V<={max(sizes)}" + (", symbolic p0, lambda" if symbolic_reference
                                                   else "")
    pairs = [(n, V) for n in range(1, max_agents + 1) for V in sizes]
    return search(Job(subject(rule), property_id, order, pairs, budget,
                      symbolic_reference, size))


def rule_scope(rule: Rule, max_agents: int, max_tokens: int, symbolic_reference=False,
               min_agents: int = 1) -> Scope:
    """What a rule-level PROVED covers (docs/theory.md, "Scope of a verdict")."""
    assumptions = ["W = lambda + sum of bids > 0 (the rule's precondition)",
                   "report rows of entries >= 0 whose exact sums are within EXACT_TOL = 1e-12 "
                   "(plus V float64 ulps) of 1: every row validation passes as given",
                   "every agent i, every bid s < s' of agent i",
                   "the rule's compiled expression tree (its generated code is what runs; "
                   "float constants are their exact binary values and arithmetic on them "
                   "is exact: 0.1 + 0.2 >= 0.30000000000000004 is false there, true in "
                   "float64; the function as written run in float64, Rule(name, fn) or "
                   "TokenAuction(fn), is another rule, not covered)",
                   "where that tree is defined (elsewhere the rule declines the input)",
                   "no claim beyond these sizes"]
    if builtin_reason(rule) is None:   # a built-in: its fast path's tie to the tree
        assumptions.append(BUILTIN_TIE)
    else:
        assumptions.append(CERTIFIED_CODE)
    if min_agents > 1:
        assumptions.append(f"n >= {min_agents}")
    if symbolic_reference:
        assumptions.append("symbolic reference p0 and weight lambda >= 0")
    elif rule.reference is not None:
        assumptions.append(f"the bound reference p0 = {rule.reference.tolist()}, "
                           f"lambda = {rule.weight}")
    else:
        assumptions.append(NO_REFERENCE)
    if rule.epsilon:
        assumptions.append(f"distributions smoothed with epsilon = {rule.epsilon} as float64 "
                           "computes it (each smoothed probability within 3 ulps of "
                           "(1 - eps) p + eps / V)")
    return Scope(max_agents=max_agents, max_tokens=max_tokens,
                 bids="real bids >= 0 (bid 0 included: is_positive is a case split)",
                 arithmetic="exact reals", assumptions=tuple(assumptions))


def search(job: Job) -> ProofResult:
    """Check each (agents, tokens) pair in turn, every agent; stop at the first violation."""
    subj, property_id, order, size = job.subj, job.prop, job.order, job.size
    done, queries, unconfirmed = [], 0, None
    for n, V in job.pairs:
        clean = True   # no z3 model at this size (an unconfirmed one is no proof of it)
        for i in range(n):
            try:
                inst = Instance(subj.tree, n, V, i, job.symbolic_reference)
                for name, q in _queries(inst, property_id, order):
                    queries += 1
                    model = inst.solve(q, job.budget)
                    if model is None:
                        continue
                    res = _refuted(job, inst, name, model)
                    if res.verdict is Verdict.REFUTED:
                        return res
                    unconfirmed = unconfirmed or res   # not confirmed: search on, never PROVED
                    clean = False
                    break
            except DeclarationError as exc:
                return ProofResult(Verdict.UNKNOWN, "z3", f"the rule cannot be compiled "
                                   f"exactly: {exc} (n={n}, V={V})", size)
            except Unsupported as exc:  # exp / log: not in z3's real arithmetic
                res = exact_search.search(subj, property_id, order, job.pairs, job.budget,
                                          size)
                res.detail = f"{exc} (n={n}, V={V}); " + res.detail
                return res
            except InvalidInput as exc:   # a size the rule is not compiled for
                return ProofResult(Verdict.UNKNOWN, "z3", f"{exc} (n={n}, V={V})", size)
            except Timeout as exc:
                return ProofResult(Verdict.UNKNOWN, "z3",
                                   f"timeout at n={n}, V={V}, agent {i} "
                                   f"({exc or 'budget spent'}); proved for "
                                   f"{', '.join(done) or 'no size'}", size)
        if clean:
            done.append(f"n={n} V={V}")
    return _proved(job, f"z3 found no violation ({queries} per-token queries, all unsat) of the "
                   f"compiled tree for every agent at sizes {', '.join(done)}", unconfirmed)


def _proved(job: Job, what: str, unconfirmed=None) -> ProofResult:
    """z3's unsat: PROVED for a sealed subject, unless the float64 code that runs violates
    the property (REFUTED, the exact-real proof as context); UNKNOWN for an unsealed one.
    ``unconfirmed``: a z3 violation the code did not confirm (then never PROVED)."""
    subj, prop, order, size = job.subj, job.prop, job.order, job.size
    rule = subj.runs
    cex = float_search.refute(rule, prop, order, job.pairs, subj.tree.constants(),
                              job.budget, trees=subj.tree)
    if cex == float_search.UNFINISHED:   # never PROVED on a search that did not run
        return ProofResult(Verdict.UNKNOWN, "z3+float64",
                           f"{what} in exact reals, but the time budget ran out during the "
                           "float64 search of the code that runs (raise the timeout)", size)
    if cex is not None:
        context = ("z3 found a violation of the compiled tree; its model did not survive "
                   "float64 rounding" if unconfirmed is not None else what + " in exact reals")
        return ProofResult(Verdict.REFUTED, "z3+float64",
                           f"{prop} under {order} fails in the float64 code that runs "
                           f"({context}); the violation is confirmed on the code", size, cex)
    if unconfirmed is not None:
        return unconfirmed
    if subj.unsealed is not None:
        return ProofResult(Verdict.UNKNOWN, "z3", f"{what}, but that proves nothing about "
                           f"this rule: {subj.unsealed}; it is still sampled", size)
    ns, vs = [n for n, _ in job.pairs], [V for _, V in job.pairs]
    scope = rule_scope(rule, max(ns), max(vs), job.symbolic_reference, min(ns))
    return ProofResult(Verdict.PROVED, "z3", f"{prop} under {order}: {what}; a float64 search "
                       "of the code that runs found no violation; compiled "
                       f"{_expression(subj.tree)}", size, scope=scope)


def _expression(tree) -> str:
    try:
        return tree.expression()
    except Exception as exc:  # noqa: BLE001 - printing never changes the verdict
        return f"expression not printable ({type(exc).__name__})"


def _refuted(job: Job, inst, name, model) -> ProofResult:
    """Make the model robust (margin), round it, and confirm it on the code that runs
    (exactly on the compiled tree first, then in float64 on ``subj.runs``)."""
    subj, prop, order, size = job.subj, job.prop, job.order, job.size
    candidates, z3 = [], inst.z3
    positive = [x >= z3.RealVal("1/100") for x in inst.b + [inst.s]]  # a defined point
    for extra_bids in ([], positive):
        for margin in ("1/10", "1/100", "1/1000"):
            extra = [q for n_, q in _queries(inst, prop, order, z3.RealVal(margin))
                     if n_ == name] + extra_bids
            try:
                m = inst.solve(extra, job.budget.within(2.0))
            except Timeout:
                m = None
            if m is not None:
                candidates.append(inst.decode(m))
                break
    candidates.append(inst.decode(model))
    for cex in candidates:
        confirmed = confirm_violation(subj.runs, cex, prop, order, exact_rule=subj.tree)
        if confirmed is not None:
            return ProofResult(Verdict.REFUTED, "z3",
                               f"{prop} under {order} fails ({name}); z3 model of the compiled "
                               "tree rounded and confirmed on the code that runs", size,
                               confirmed)
    return ProofResult(Verdict.UNKNOWN, "z3", f"z3 found a violation ({name}) of the compiled "
                       "tree but the code that runs does not confirm it within its tolerance: "
                       f"{candidates[-1]}", size)
