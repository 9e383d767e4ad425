"""Adversarial backend-generic targets for the compiling prover (prover side).

Each entry builds a rule (``build()``; a DeclarationError there is the verdict
``DECLARATION``) and names the verdict ``prove_rule_property(rule, "monotone", "box")``
must give within n <= 3, V <= 4, with words its reason must contain. ``truth`` says what
the user's function, as written, is: "monotone" or "not monotone" (the corpus test samples
the user's own function to keep that honest), or "monotone as compiled": not monotone as
written in float64, monotone as the compiled rule that runs (its generated code is certified
against the tree, which decides where the code cannot be: proofs/compile/enclosure.py).
None may be a false PROVED.
"""

from __future__ import annotations

import numpy as np

from mechanism import rules as R
from mechanism.rules import Rule
from proofs.compile.generic_rule import Bounds, GenericRule, compiled


def pool(dists, ws):
    """Linear pooling of the reports with weights ``ws`` (vector on the left)."""
    total = sum(ws)
    return sum(p * w for p, w in zip(dists, ws)) / total


def threshold_drop(ops, dists, bids, reference=None, weight=0):
    """The weight falls by 100x just above a bid no probe would hit."""
    return pool(dists, [ops.ite(ops.gt(b, 0.3700000001), b / 100, b) for b in bids])


def threshold_jump_up(ops, dists, bids, reference=None, weight=0):
    """The weight jumps UP at the same threshold: monotone."""
    return pool(dists, [ops.ite(ops.gt(b, 0.3700000001), b + 1, b) for b in bids])


def scaled_good(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [1e-12 * b for b in bids])


def scaled_bad(ops, dists, bids, reference=None, weight=0):
    """1e-12 * b / (1 + b^2): falls above b = 1, by at most 1e-12 in weight."""
    return pool(dists, [1e-12 * b / (1 + b * b) for b in bids])


def colliding_names(ops, dists, bids, reference=None, weight=0, s_prime=2.0, lam=0.5):
    """Parameters and variables named like the prover's own symbols; weight
    ``lam / (s_prime + b)`` is decreasing."""
    b0 = [lam / (s_prime + s) for s in bids]
    return pool(dists, b0)


def colliding_good(ops, dists, bids, reference=None, weight=0, s=3.0, p0_0=0.25):
    return pool(dists, [s * b + p0_0 for b in bids])


def cancellation(ops, dists, bids, reference=None, weight=0):
    """b*b - (b-1)*(b+1) is 1 in exact reals, 0 in float64 from about b = 1e8."""
    return pool(dists, [b * b - (b - 1) * (b + 1) for b in bids])


def huge_bid_drop(ops, dists, bids, reference=None, weight=0):
    """Wrong only at a huge bid: the weight is 0 above 1e300."""
    return pool(dists, [ops.ite(ops.gt(b, 1e300), 0, b) for b in bids])


def positive_at_zero(ops, dists, bids, reference=None, weight=0):
    """A zero bid weighs 1 (is_positive decides it): bid 0 -> 1e-3 moves away."""
    return pool(dists, [b if ops.is_positive(b) else 1 for b in bids])


def dropping_linear(ops, dists, bids, reference=None, weight=0):
    """Linear with zero bids dropped by is_positive: monotone (the case split proves it)."""
    parties = [(p, b) for p, b in zip(dists, bids) if ops.is_positive(b)]
    return pool([p for p, _ in parties], [b for _, b in parties])


def by_tokens(ops, dists, bids, reference=None, weight=0):
    """Non-monotone only at V = 4."""
    return pool(dists, [1 / (1 + b) for b in bids] if len(dists[0]) == 4 else list(bids))


def type_branch(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [b if isinstance(b, float) else 1 / (1 + b) for b in bids])


def python_if(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [b if b > 1 else 1 / (1 + b) for b in bids])


def never_returns(ops, dists, bids, reference=None, weight=0):
    while True:
        pass


def numpy_on_symbol(ops, dists, bids, reference=None, weight=0):
    return pool(dists, [np.exp(-b) for b in bids])


def caught_refusal(ops, dists, bids, reference=None, weight=0):
    ws = []
    for b in bids:
        try:
            ws.append(b if b > 1 else 1 / (1 + b))
        except Exception:
            ws.append(b)
    return pool(dists, ws)


HIDDEN = 0.123456789


class HiddenSubclass(GenericRule):
    """Its evaluate differs from the compiled tree only at one bid no search tries."""

    def evaluate(self, P, b):
        if np.any(b == HIDDEN):
            return P[int(np.argmin(b))]
        return super().evaluate(P, b)


def _hidden_subclass():
    return HiddenSubclass("hidden_subclass", R.linear)


def _replaced_numpy():
    rule = compiled(R.linear, name="replaced_numpy")
    rule._numpy_fn = lambda P, b, ref, lam: P[int(np.argmin(b))] if np.any(b == HIDDEN) \
        else R.get_rule("linear").evaluate(P, b)
    return rule


def _replaced_evaluate():
    rule = compiled(R.linear, name="replaced_evaluate")
    rule.evaluate = lambda P, b: P[int(np.argmin(b))] if np.any(b == HIDDEN) \
        else GenericRule.evaluate(rule, P, b)
    return rule


def _replaced_function():
    """The user's function is replaced after declaration (its code object swapped): sizes
    compiled later use the new code, and that is what runs and what is proved."""
    def weight_rule(ops, dists, bids, reference=None, weight=0):
        return pool(dists, list(bids))

    def falling(ops, dists, bids, reference=None, weight=0):
        return pool(dists, [1 / (1 + b) for b in bids])
    rule = compiled(weight_rule, name="replaced_function")
    weight_rule.__code__ = falling.__code__
    return rule


def _c(fn, **kw):
    return lambda: compiled(fn, bounds=Bounds(timeout_s=0.5), **kw)


#: name -> (build, expected verdict, words in the reason, the user's function as written)
CORPUS = {
    "threshold_drop": (_c(threshold_drop), "REFUTED", "", "not monotone"),
    "threshold_jump_up": (_c(threshold_jump_up), "PROVED", "", "monotone"),
    "scaled_1e-12_good": (_c(scaled_good), "PROVED", "", "monotone"),
    "scaled_1e-12_bad": (_c(scaled_bad), "REFUTED", "", "not monotone"),
    "colliding_names": (_c(colliding_names), "REFUTED", "", "not monotone"),
    "colliding_good": (_c(colliding_good), "PROVED", "", "monotone"),
    # the function as written is not monotone in float64; the compiled rule is: its code is
    # certified against the tree and evaluates the tree exactly where it cannot be
    "cancellation": (_c(cancellation), "PROVED", "", "monotone as compiled"),
    "huge_bid_drop": (_c(huge_bid_drop), "REFUTED", "", "not monotone"),
    "positive_at_zero": (_c(positive_at_zero), "REFUTED", "", "not monotone"),
    "dropping_linear": (_c(dropping_linear), "PROVED", "", "monotone"),
    "by_tokens": (_c(by_tokens), "REFUTED", "", "not monotone"),
    "builtin_linear": (_c(R.linear), "PROVED", "", "monotone"),
    "builtin_wta": (_c(R.winner_take_all), "PROVED", "", "monotone"),
    "hidden_subclass": (_hidden_subclass, "UNKNOWN", "not the compiled GenericRule",
                        "not monotone"),
    "replaced_numpy": (_replaced_numpy, "UNKNOWN", "_numpy_fn is not the generated code",
                       "not monotone"),
    "replaced_evaluate": (_replaced_evaluate, "UNKNOWN", "evaluate was replaced",
                          "not monotone"),
    "replaced_function": (_replaced_function, "REFUTED", "", "not monotone"),
    "type_branch": (_c(type_branch), "DECLARATION", "isinstance", "not monotone"),
    "python_if": (_c(python_if), "DECLARATION", "Python branch", "not monotone"),
    "never_returns": (_c(never_returns), "DECLARATION", "did not return", "not monotone"),
    "numpy_on_symbol": (_c(numpy_on_symbol), "DECLARATION", "numpy function", "not monotone"),
    "caught_refusal": (_c(caught_refusal), "DECLARATION", "caught the refusal",
                       "not monotone"),
}


def user_rule(name: str) -> Rule | None:
    """The user's function as written, evaluated by numpy (the corpus's oracle)."""
    fns = {"threshold_drop": threshold_drop, "threshold_jump_up": threshold_jump_up,
           "scaled_1e-12_good": scaled_good, "scaled_1e-12_bad": scaled_bad,
           "colliding_names": colliding_names, "colliding_good": colliding_good,
           "positive_at_zero": positive_at_zero, "dropping_linear": dropping_linear,
           "by_tokens": by_tokens, "builtin_linear": R.linear,
           "builtin_wta": R.winner_take_all, "huge_bid_drop": huge_bid_drop}
    return Rule(name, fns[name]) if name in fns else None
