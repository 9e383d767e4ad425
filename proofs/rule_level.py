"""Rule-level proofs: z3 proves or refutes MON / CA of a backend-generic rule (SPEC 4).

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

unsat for every query -> PROVED on those sizes; sat -> the model, made robust and
rounded, re-run on the numpy reference (``rule.evaluate`` + ``mechanism.orders``)
-> REFUTED; timeout -> UNKNOWN; exp/log -> UNKNOWN with the reason; a rule with a
numpy form only -> SKIPPED.
"""

from __future__ import annotations

import time

from mechanism.smoothing import smooth
from mechanism.arith import Unsupported, Vec
from mechanism.errors import InvalidInput
from mechanism.orders import get_order
from mechanism.rules import Rule, as_rule, get_rule
from mechanism.verdicts import Verdict

from .backends import Z3Ops, _z3
from .registry import ProofResult
from .counterexamples import confirm_violation

PROPERTIES = ("monotone", "consistent")
Z3_ORDERS = ("box", "segment")


class _Timeout(Exception):
    pass


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


class _Instance:
    """Symbolic reports for n agents over V tokens, agent i bidding s < s'."""

    def __init__(self, rule: Rule, n: int, V: int, i: int, symbolic_reference: bool):
        z3 = self.z3 = _z3()
        ops = self.ops = Z3Ops()
        self.n, self.V, self.i = n, V, i
        self.P = [Vec(z3.Real(f"p{j}_{t}") for t in range(V)) for j in range(n)]
        self.b = [z3.Real(f"b{j}") for j in range(n)]
        self.s, self.s2 = z3.Real("s"), z3.Real("s_prime")
        self.simplices = list(self.P)
        cons = [x >= 0 for x in self.b] + [self.s >= 0, self.s2 > self.s]
        if symbolic_reference:
            self.ref = Vec(z3.Real(f"ref_{t}") for t in range(V))
            self.lam = z3.Real("lam")
            self.simplices.append(self.ref)
            cons.append(self.lam >= 0)
        elif rule.reference is not None:
            self.ref, self.lam = ops.vector(rule.reference), ops.scalar(rule.weight)
        else:
            self.ref, self.lam = None, ops.scalar(0)
        bf, bt = list(self.b), list(self.b)
        bf[i], bt[i] = self.s, self.s2
        W = z3.Sum(*bf) + (self.lam if self.ref is not None else 0)
        cons.append(W > 0)
        dists, ref = self.P, self.ref
        if rule.epsilon:
            eps = ops.scalar(rule.epsilon)
            dists = [smooth(p, eps, V) for p in dists]
            ref = None if ref is None else smooth(ref, eps, V)
        self.p_i = dists[i]
        self.q_from = rule.generic(ops, dists, bf, ref, self.lam)
        self.q_to = rule.generic(ops, dists, bt, ref, self.lam)
        self.constraints = cons + ops.assumptions
        self.mentioned: set = set()

    def _simplex_constraints(self, formulas):
        """Simplex constraints, with the probabilities no formula mentions projected out:
        ``exists x >= 0 with sum = 1`` becomes ``sum of the mentioned <= 1`` (equisatisfiable;
        the per-token queries of a token-separable rule then stay small)."""
        z3 = self.z3
        self.mentioned = _variables(z3, formulas)
        out = []
        for p in self.simplices:
            seen = [x for x in p if x.get_id() in self.mentioned]
            out += [x >= 0 for x in seen]
            if len(seen) == len(p):
                out.append(z3.Sum(*p) == 1)
            elif seen:
                out.append(z3.Sum(*seen) <= 1)
        return out

    def solve(self, extra, deadline: float):
        z3 = self.z3
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        extra = extra if isinstance(extra, list) else [extra]
        from .encode_z3 import solve  # a fresh z3 context per query (see there)
        r, model, reason = solve(list(self.constraints)
                                 + list(self._simplex_constraints(extra + self.constraints))
                                 + extra, left)
        if r == z3.unknown:
            raise _Timeout(reason)
        return model

    def decode(self, model) -> dict:
        val = lambda x: _value(self.z3, model.eval(x, model_completion=True))
        def dist(p):  # projected-out probabilities take the remaining mass
            v = [val(x) for x in p]
            free = [t for t, x in enumerate(p) if x.get_id() not in self.mentioned]
            if free:
                v[free[0]] += 1 - sum(v)
            return v
        out = {"dists": [dist(p) for p in self.P],
               "bids": [val(x) for x in self.b], "agent": self.i,
               "bid_from": val(self.s), "bid_to": val(self.s2)}
        if self.ref is not None and not isinstance(self.ref[0], (int, float)):
            out["reference"] = dist(self.ref)
            out["weight"] = val(self.lam)
        return out


def _variables(z3, formulas) -> set:
    """ids of the uninterpreted constants (the Real variables) in ``formulas``."""
    seen, out, todo = set(), set(), list(formulas)
    while todo:
        e = todo.pop()
        k = e.get_id()
        if k in seen:
            continue
        seen.add(k)
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(k)
        else:
            todo.extend(e.children())
    return out


def _value(z3, v):
    from fractions import Fraction
    if z3.is_rational_value(v):
        return Fraction(v.numerator_as_long(), v.denominator_as_long())
    if z3.is_algebraic_value(v):
        return _value(z3, v.approx(20))
    raise InvalidInput(f"z3 returned a non-numeric model value {v}", value=str(v))


def _queries(inst: _Instance, prop: str, order: str, margin=0):
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


def prove_rule_property(rule, property_id, order, *, max_agents=3, max_tokens=4,
                        timeout_s=10.0) -> ProofResult:
    """Prove or refute ``property_id`` ("monotone" or "consistent") of ``rule`` (a Rule,
    a registered rule name, or a plain callable: then SKIPPED) under ``order`` ("box" or
    "segment") for every n <= max_agents agents and V <= max_tokens tokens."""
    return prove_rule(rule, property_id, order, max_agents=max_agents, max_tokens=max_tokens,
                      timeout_s=timeout_s)


def prove_rule(rule, property_id, order, *, max_agents=3, max_tokens=4, timeout_s=10.0,
               symbolic_reference=False, min_agents=1) -> ProofResult:
    """:func:`prove_rule_property`, optionally with a symbolic reference ``p_0`` and
    weight ``lambda >= 0`` (every reference and weight at once)."""
    t0 = time.monotonic()
    rule = get_rule(rule) if isinstance(rule, str) else as_rule(rule)
    if property_id not in PROPERTIES:
        raise InvalidInput(f"unknown property {property_id!r} for the rule-level engine; use one "
                           f"of {', '.join(PROPERTIES)}", value=property_id)
    get_order(order)  # InvalidInput naming the known orders
    _check(max_agents, "max_agents", 1)
    _check(max_tokens, "max_tokens", 2)
    _check(min_agents, "min_agents", 1)
    if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
        raise InvalidInput(f"timeout_s must be a positive number, got {timeout_s!r}",
                           value=timeout_s)
    if rule.generic is None:
        return ProofResult(Verdict.SKIPPED, "z3", f"rule {rule.name!r} has a numpy form only; "
                           "the rule-level engine needs its generic definition (use sampling)")
    if order not in Z3_ORDERS:
        return ProofResult(Verdict.SKIPPED, "z3", f"order {order!r} is a loss order (needs "
                           "log/sqrt); the rule-level engine handles box and segment")
    if property_id == "consistent":
        mon = prove_rule(rule, "monotone", order, max_agents=max_agents, max_tokens=max_tokens,
                         timeout_s=timeout_s / 2, symbolic_reference=symbolic_reference,
                         min_agents=min_agents)
        if mon.verdict is Verdict.PROVED:
            mon.detail = ("consistent follows from monotone (s < s' gives Q(s') ⪰ Q(s); "
                          "s = s' by reflexivity): " + mon.detail)
            return mon
        timeout_s = max(timeout_s - (time.monotonic() - t0), 1e-3)
        t0 = time.monotonic()
    sizes = ([rule.reference.size] if rule.reference is not None and not symbolic_reference
             else range(2, max_tokens + 1))
    size = f"n<={max_agents}, V<={max(sizes)}" + (", symbolic p0, lambda" if symbolic_reference
                                                   else "")
    pairs = [(n, V) for n in range(min_agents, max_agents + 1) for V in sizes]
    return search(rule, property_id, order, pairs, t0 + timeout_s, symbolic_reference, size)


def search(rule, property_id, order, pairs, deadline, symbolic_reference=False, size=""):
    """Check each (agents, tokens) pair in turn, every agent; stop at the first violation."""
    done, queries, assumed = [], 0, []
    for n, V in pairs:
        for i in range(n):
            try:
                inst = _Instance(rule, n, V, i, symbolic_reference)
                assumed += [str(a) for a in inst.ops.assumptions if str(a) not in assumed]
                for name, q in _queries(inst, property_id, order):
                    queries += 1
                    model = inst.solve(q, deadline)
                    if model is not None:
                        return _refuted(rule, inst, property_id, order, name, model,
                                        deadline, size)
            except Unsupported as exc:
                return ProofResult(Verdict.UNKNOWN, "z3", f"{exc} (n={n}, V={V})", size)
            except _Timeout as exc:
                return ProofResult(Verdict.UNKNOWN, "z3",
                                   f"timeout at n={n}, V={V}, agent {i} "
                                   f"({exc or 'budget spent'}); proved for "
                                   f"{', '.join(done) or 'no size'}", size)
        done.append(f"n={n} V={V}")
    note = (f"; ASSUMING {', '.join(assumed)} (the rule tests is_positive on symbolic "
            "values; the other sign is not covered)" if assumed else "")
    return ProofResult(Verdict.PROVED, "z3",
                       f"{property_id} under {order}: z3 found no violation ({queries} "
                       f"per-token queries, all unsat) for every agent at sizes "
                       f"{', '.join(done)}{note}", size + (" (with assumptions)" if assumed
                                                           else ""))


def _refuted(rule, inst, prop, order, name, model, deadline, size) -> ProofResult:
    """Make the model robust (margin), round it, and confirm it on the numpy reference."""
    candidates = []
    for margin in ("1/10", "1/100", "1/1000"):
        extra = [q for n_, q in _queries(inst, prop, order, inst.z3.RealVal(margin)) if n_ == name]
        try:
            m = inst.solve(extra, min(deadline, time.monotonic() + 2.0))
        except _Timeout:
            m = None
        if m is not None:
            candidates.append(inst.decode(m))
            break
    candidates.append(inst.decode(model))
    for cex in candidates:
        confirmed = confirm_violation(rule, cex, prop, order)
        if confirmed is not None:
            return ProofResult(Verdict.REFUTED, "z3",
                               f"{prop} under {order} fails ({name}); z3 model rounded and "
                               "confirmed on the numpy reference", size, confirmed)
    return ProofResult(Verdict.UNKNOWN, "z3", f"z3 found a violation ({name}) but the numpy "
                       f"reference does not confirm it within its tolerance: {candidates[-1]}",
                       size)
