"""Theorem-table claims proved at the rule level by z3 (theory §9 item 3), through
:func:`proofs.bounded.rule_level.prove_rule` on the rules' generic definitions."""

from __future__ import annotations

from mechanism.rules import get_rule

from proofs.bounded.planted import planted_rule
from proofs.registry import Limits, claim
from proofs.bounded.rule_level import prove_rule, rule_scope


def _prove(rule, prop, order, limits: Limits, **kw):
    return prove_rule(rule, prop, order, max_agents=limits.max_agents,
                      max_tokens=limits.max_tokens, timeout_s=min(limits.timeout_s, 30.0), **kw)


def _register(id_, rule_fn, prop, order, statement, expected="holds", **kw):
    scope = (lambda limits: rule_scope(rule_fn(), limits.max_agents, limits.max_tokens,
                                       kw.get("symbolic_reference", False)))

    @claim(id_, statement, expected=expected, order=order, scope=scope)
    def run(limits: Limits):
        return _prove(rule_fn(), prop, order, limits, **kw)
    run.__name__ = id_
    return run


for _order in ("box", "segment"):
    _register(f"rule_linear_mon_{_order}", lambda: get_rule("linear"), "monotone", _order,
              f"z3: generic linear is MON ({_order}), symbolic distributions and bids >= 0")
    _register(f"rule_linear_ref_mon_{_order}", lambda: get_rule("linear"), "monotone", _order,
              f"z3: generic linear with a symbolic reference p0 and weight lambda is MON "
              f"({_order})", symbolic_reference=True)
    _register(f"rule_wta_mon_{_order}", lambda: get_rule("winner_take_all"), "monotone", _order,
              f"z3: generic winner-take-all is MON ({_order})")
    _register(f"rule_linear_ca_{_order}", lambda: get_rule("linear"), "consistent", _order,
              f"z3: generic linear is CA ({_order})")

_register("rule_loglinear_mon_box", lambda: get_rule("log_linear"), "monotone", "box",
          "generic log-linear is MON (box) -- false for V >= 3; z3 has no exp/log, so an "
          "exact search decides it (sympy re-evaluates the violation)", expected="fails")
_register("rule_greedy_mon_box", lambda: planted_rule("greedy"), "monotone", "box",
          "z3: arg-max (greedy) decoding of linear is MON (box) -- false", expected="fails")
_register("rule_overbid_mon_box", lambda: planted_rule("overbid_penalty"), "monotone", "box",
          "z3: planted rule with weights b/(1+b^2) is MON (box) -- false", expected="fails")
