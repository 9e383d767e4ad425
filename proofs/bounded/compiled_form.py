"""What the bounded prover reads and what it confirms on (docs/theory.md, section 4).

:func:`subject` pairs the rule given (the code that runs: counterexamples are confirmed on
it) with its compiled trees (what z3 reads), and says whether a PROVED may be reported:

* a sealed :class:`proofs.compile.generic_rule.GenericRule`: its evaluation IS the
  generated code of the trees: yes;
* a built-in rule of :mod:`mechanism.rules` as registered (its generic definition, its own
  numpy fast path, no method replaced): yes, with the tie in the scope: the fast path is
  tied to the compiled tree by a property test (:data:`BUILTIN_TIE`), not by a proof;
* anything else (a plain ``Rule`` of a user's function, a subclass, a replaced method or
  attribute): the trees are compiled and searched, but z3's unsat is UNKNOWN with the
  reason; the rule is still sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

from mechanism import rules as R
from mechanism.rules import Rule

from proofs.compile.generic_rule import Bounds, GenericRule, sealed

BUILTINS = {R.linear: "linear", R.log_linear: "log_linear", R.winner_take_all: "winner_take_all"}
BUILTIN_TIE = ("the built-in's numpy fast path is tied to this tree by a property test "
               "(tests/proofs/test_generic_compile.py), not by a proof")
RULE_METHODS = ("evaluate", "batch", "smoothed", "total_weight", "__call__", "exact",
                "generic_numpy", "with_reference")
_RULE_ORIGINAL = {m: getattr(Rule, m) for m in RULE_METHODS}
_BUILTIN_TREES: dict = {}   #: generic definition -> its compiled trees, shared by all copies


@dataclass
class Subject:
    runs: Rule                 #: the code that runs: counterexamples are confirmed on it
    tree: GenericRule          #: the compiled trees z3 reads
    unsealed: str | None       #: why no PROVED may be reported (None: it may)


def builtin_reason(rule) -> str | None:
    """None when ``rule`` is a built-in rule exactly as registered; else why not."""
    name = BUILTINS.get(rule.generic)
    if type(rule) is not Rule or name is None:
        return "not a built-in rule"
    fresh = R.get_rule(name)
    if rule._numpy_fn is not fresh._numpy_fn or rule._batch_fn is not fresh._batch_fn:
        return f"the rule's numpy code is not the built-in {name}'s"
    for m in RULE_METHODS:
        if m in vars(rule) or getattr(Rule, m) is not _RULE_ORIGINAL[m]:
            return f"the rule's {m} was replaced"
    return None


def _compiled(rule: Rule) -> GenericRule:
    """The rule's generic definition compiled with its reference, weight and smoothing
    (DeclarationError naming the line and the fix when it cannot be)."""
    g = GenericRule(rule.name, None, reference=rule.reference, weight=rule.weight,
                    epsilon=rule.epsilon, bounds=Bounds())
    g.fn = rule.generic
    if rule.generic in BUILTINS:
        g.compiled_trees = _BUILTIN_TREES.setdefault(rule.generic, {})
    return g


def subject(rule: Rule) -> Subject:
    """What the prover reads for ``rule`` and whether it may say PROVED (module docstring)."""
    if isinstance(rule, GenericRule):
        return Subject(rule, rule, sealed(rule))
    tree = _compiled(rule)
    why = builtin_reason(rule)
    if why is None:
        return Subject(rule, tree, None)   # its scope names BUILTIN_TIE
    return Subject(rule, tree, f"rule {rule.name!r} evaluates its Python function, not code "
                   "generated from the proved tree (compile it: proofs.compile.generic_rule."
                   "compiled(fn), as `tokenauction check` does)")
