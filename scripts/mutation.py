"""Mutation score of the property suite against the reference mechanism.

Each mutant plants one bug in ``mechanism/`` by patching one function in memory (never
on disk), runs the part of the suite that judges that component (``properties.check``
on a fixed battery of properties the unmutated mechanism satisfies), and counts it
caught when something is REFUTED. The unmutated baselines must be clean first.

    PYTHONPATH=. python scripts/mutation.py            # all mutants, prints the score
    PYTHONPATH=. python scripts/mutation.py --quick    # a few mutants (the test smoke run)
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
import time

import numpy as np

from mechanism import payments as PAY
from mechanism import rules as R
from mechanism import sampling as S
from mechanism.divergences import tv
from properties import check

REF = [0.5, 0.3, 0.2]

RULE_PROPS = ["normalized", "anonymous", "unanimous", "zero_bid_no_influence", "scale_invariant",
              "continuous", "monotone:box", "consistent:box", "stable_sampling"]
LOGLIN_PROPS = ["normalized", "anonymous", "unanimous", "zero_bid_no_influence",
                "scale_invariant", "continuous", "monotone:kl_reverse", "monotone:kl_forward"]
PAY_PROPS = ["payment_nonnegative", "payment_at_most_bid", "zero_bid_pays_zero",
             "payment_identity", "payment_monotone:box"]
VAL_PROPS = ["payment_nonnegative", "zero_bid_pays_zero", "payment_monotone:box", "truthful"]

# batteries: name -> (target factory, check kwargs)
BATTERIES = {
    "linear": (lambda: R.get_rule("linear"), {"properties": RULE_PROPS}),
    "linear_ref": (lambda: R.get_rule("linear", reference=REF, weight=0.7),
                   {"properties": RULE_PROPS}),
    "log_linear": (lambda: R.get_rule("log_linear"), {"properties": LOGLIN_PROPS}),
    "wta": (lambda: R.get_rule("winner_take_all"), {"properties": RULE_PROPS}),
    "wta_ref": (lambda: R.get_rule("winner_take_all", reference=REF, weight=0.5),
                {"properties": RULE_PROPS}),
    "sp_linear": (lambda: PAY.PAYMENT_RULES["second_price"], {"properties": PAY_PROPS}),
    "sp_linear_ref": (lambda: PAY.PAYMENT_RULES["second_price"],
                      {"properties": PAY_PROPS,
                       "rule_factory": lambda: R.get_rule("linear", reference=REF, weight=0.7)}),
    "sp_wta": (lambda: PAY.PAYMENT_RULES["second_price"],
               {"properties": PAY_PROPS, "rule_factory": lambda: R.get_rule("winner_take_all")}),
    "sp_loglin": (lambda: PAY.PAYMENT_RULES["second_price"],
                  {"properties": ["payment_nonnegative", "payment_at_most_bid",
                                  "zero_bid_pays_zero", "payment_identity"],
                   "rule_factory": lambda: R.get_rule("log_linear")}),
    # the valuation payment is Myerson's payment for the kl value model (docs/theory.md)
    "valuation": (lambda: PAY.PAYMENT_RULES["valuation"],
                  {"properties": VAL_PROPS, "valuation": "kl"}),
}


@contextlib.contextmanager
def patched(obj, attr, value):
    old = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, old)


# -- planted bugs --------------------------------------------------------------------------

def _lin_batch(weights=lambda B: B, denom=None, ref_in_denominator=True):
    def batch(P, B, ref, lam):
        Wb = weights(B)
        num = Wb @ P
        W = Wb.sum(axis=1) if denom is None else denom(B, P)
        if ref is not None and lam > 0:
            num = num + lam * ref
            W = W + (lam if ref_in_denominator else 0.0)
        return num / W[:, None]
    return batch


def _as_numpy(batch):
    return lambda P, b, ref, lam: batch(P, b[None, :], ref, lam)[0]


def linear_mutant(**kw):
    batch = _lin_batch(**kw)
    return [(R, "_linear_batch", batch), (R, "_linear_numpy", _as_numpy(batch))]


def _ref_twice(P, B, ref, lam):
    num, W = B @ P, B.sum(axis=1)
    if ref is not None and lam > 0:
        num, W = num + 2 * lam * ref, W + lam
    return num / W[:, None]


def generic_mutant(name: str, fn):
    """Replace the generic definition of rule ``name`` and switch off its numpy fast
    paths (``_<name>_numpy`` / ``_<name>_batch``) where the mechanism has them, so the
    registry's factory builds the rule from the mutant."""
    patches = [(R, name, fn)]
    for suffix in ("_numpy", "_batch"):
        if hasattr(R, f"_{name}{suffix}"):
            patches.append((R, f"_{name}{suffix}", None))
    return patches


def log_linear_no_drop(ops, dists, bids, reference=None, weight=0):
    parties = R._parties(dists, bids, reference, weight)   # zero weights not dropped
    total = sum(w for _, w in parties)
    return ops.softmax(sum(ops.log(p) * (w / total) for p, w in parties))


def log_linear_unnormalized(ops, dists, bids, reference=None, weight=0):
    parties = [(p, w) for p, w in R._parties(dists, bids, reference, weight) if ops.is_positive(w)]
    return ops.softmax(sum(ops.log(p) * w for p, w in parties))


def log_linear_sharpened(ops, dists, bids, reference=None, weight=0):
    parties = [(p, w) for p, w in R._parties(dists, bids, reference, weight) if ops.is_positive(w)]
    total = sum(w for _, w in parties)
    return ops.softmax(sum(ops.log(p) * (w / total) for p, w in parties) * 1.5)


def wta_lowest(ops, dists, bids, reference=None, weight=0):
    pos = [j for j in range(len(dists)) if bids[j] > 0]
    if not pos:
        return reference if reference is not None else dists[0]
    return dists[min(pos, key=lambda j: (bids[j], j))]


def wta_reference_forgotten(ops, dists, bids, reference=None, weight=0):
    k = int(np.argmax(bids))
    return dists[k]          # with no positive bid, agent 0 instead of the reference


def linear_squared_bids():
    return linear_mutant(weights=lambda B: B ** 2)


def wta_second_wins(ops, dists, bids, reference=None, weight=0):
    order = sorted(range(len(dists)), key=lambda j: (-bids[j], j))
    pos = [j for j in order if bids[j] > 0]
    if not pos:
        return reference if reference is not None else dists[0]
    return dists[pos[1] if len(pos) > 1 else pos[0]]


def lin_cf(variant):
    def f(rule, P, b, i):
        B = PAY._others_weight(rule, b, i)
        if variant == "own_weight":
            B = rule.total_weight(b)
        if b[i] <= 0 or B <= 0:
            return 0.0
        num = b @ P - b[i] * P[i]
        if rule.reference is not None and rule.weight > 0:
            num = num + rule.weight * rule.reference
        m = num / PAY._others_weight(rule, b, i)
        s = float(b[i])
        d = float(tv(P[i], m))
        if variant == "no_tv":
            d = 1.0
        if variant == "log":
            return d * (B * np.log(1 + s) - s * B / (s + B))
        if variant == "sign":
            return d * (B * np.log1p(s / B) + s * B / (s + B))
        if variant == "no_ref":
            m = (b @ P - b[i] * P[i]) / max(float(np.sum(b) - b[i]), 1e-300)
            d = float(tv(P[i], m))
        return d * (B * np.log1p(s / B) - s * B / (s + B))
    return f


def wta_cf(variant):
    def f(rule, P, b, i):
        if b[i] <= 0:
            return 0.0
        winner = PAY._wta_winner(b)
        others = np.delete(b, i)
        if variant != "loser_pays" and (winner != i or not (others > 0).any()):
            return 0.0
        if not (others > 0).any():
            return 0.0
        k = PAY._wta_winner(np.where(np.arange(len(b)) == i, 0.0, b))
        price = float(b[i]) if variant == "own_bid" else float(b[k])
        return float(tv(P[i], P[k])) * price
    return f


def _per_agent_like(original, per_agent):
    """Adapt a per-agent mutant ``f(rule, P, b, i)`` to the original's signature (the
    mechanism may compute every agent at once: ``f(rule, P, b) -> (n,)``)."""
    if "i" in inspect.signature(original).parameters:
        return per_agent
    # the step passes its aggregate and pair distance as hints; the mutant recomputes
    return lambda rule, P, b, *hints: np.array([per_agent(rule, P, b, i)
                                                for i in range(len(b))])


def closed_forms(**over):
    cf = dict(PAY.CLOSED_FORMS)
    for key, fn in over.items():
        k = {"linear": R.linear, "wta": R.winner_take_all}[key]
        cf[k] = _per_agent_like(PAY.CLOSED_FORMS[k], fn)
    return cf


def quadrature_like(per_agent):
    """``second_price_quadrature`` mutant in the original's signature (per agent, or all
    agents at once returning (values, errors))."""
    if "i" in inspect.signature(PAY.second_price_quadrature).parameters:
        return per_agent

    def all_agents(rule, P, b, tol=PAY.QUAD_TOL):
        out = [per_agent(rule, P, b, i, tol) for i in range(len(b))]
        return np.array([v for v, _ in out]), np.array([e for _, e in out])
    return all_agents


def integral_scaled(keep):
    """A second-price quadrature mutant that keeps ``keep`` of Myerson's integral:
    ``b G(b) - keep * int_0^b G`` (the real payment has keep = 1), built on the payment
    path that runs (``second_price_quadrature``: every agent at once, crossings for
    log-linear): ``b G(b) - z`` is that integral."""
    def mutant(rule, P, b, tol=PAY.QUAD_TOL):
        z, err = ORIG_QUADRATURE(rule, P, b, tol)
        z = z.copy()
        q = rule.evaluate(P, b)
        for i in range(len(b)):
            if b[i] <= 0 or PAY._others_weight(rule, b, i) <= 0:
                continue
            top = float(b[i]) * float(tv(R.bid_path(rule, P, b, i, np.array([0.0]))[0], q))
            z[i] = top - keep * (top - z[i])
        return z, err
    return mutant


def second_price_tv_to_p(rule, P, b, i, tol=PAY.QUAD_TOL):
    if b[i] <= 0 or PAY._others_weight(rule, b, i) <= 0:
        return 0.0, 0.0

    def G(s):
        return 1.0 - tv(R.bid_path(rule, P, b, i, s), P[i])

    return PAY.myerson(G, float(b[i]), tol)


def valuation_wrong_loss(rule):
    return "kl_reverse" if rule.generic is R.linear else "kl_forward"


def valuation_sign(rule, P, b, i, loss=None, tol=PAY.QUAD_TOL):
    v, e = ORIG_VALUATION(rule, P, b, i, loss, tol)
    return -v, e


def valuation_scaled(rule, P, b, i, loss=None, tol=PAY.QUAD_TOL):
    v, e = ORIG_VALUATION(rule, P, b, i, loss, tol)
    return 1.3 * v, e


ORIG_VALUATION = PAY.valuation_payment
ORIG_QUADRATURE = PAY.second_price_quadrature
ORIG_MARGINALS = S.StableSampler.grid_marginals


def marginals_no_moves(self, grid):
    g = self._check_grid(grid)
    Qg = self.Qs(g)
    stay = np.minimum(np.minimum.accumulate(Qg, axis=0), self.q0) * self.over
    out = np.where(self.over, stay, self.q0)
    return out / out.sum(axis=1, keepdims=True)


def total_weight_no_ref(self, b):
    return float(np.sum(b))


# (name, patches, battery)
MUTANTS = [
    ("linear: drops lambda from the denominator", linear_mutant(ref_in_denominator=False),
     "linear_ref"),
    ("linear: divides by n instead of W",
     linear_mutant(denom=lambda B, P: np.full(B.shape[0], float(B.shape[1]))), "linear"),
    ("linear: reference counted twice in the numerator",
     [(R, "_linear_batch", _ref_twice), (R, "_linear_numpy", _as_numpy(_ref_twice))],
     "linear_ref"),
    ("linear: ignores the last agent", linear_mutant(weights=lambda B: np.concatenate(
        [B[:, :-1], 0 * B[:, -1:]], axis=1) if B.shape[1] > 1 else B), "linear"),
    ("linear: adds 0.1 to every bid", linear_mutant(weights=lambda B: B + 0.1), "linear"),
    ("linear: bids matched to reversed agents", linear_mutant(weights=lambda B: B[:, ::-1]),
     "linear"),
    ("log-linear: zero weights not dropped", generic_mutant("log_linear", log_linear_no_drop),
     "log_linear"),
    ("log-linear: weights not normalized", generic_mutant("log_linear", log_linear_unnormalized),
     "log_linear"),
    ("log-linear: sharpened by 1.5", generic_mutant("log_linear", log_linear_sharpened),
     "log_linear"),
    ("wta: lowest bidder wins", generic_mutant("winner_take_all", wta_lowest), "wta"),
    ("wta: with no positive bid, agent 0 instead of the reference",
     generic_mutant("winner_take_all", wta_reference_forgotten), "wta_ref"),
    ("wta: runner-up wins", generic_mutant("winner_take_all", wta_second_wins), "wta"),
    ("rule: total weight ignores lambda", [(R.Rule, "total_weight", total_weight_no_ref)],
     "sp_linear_ref"),
    ("second price (linear): log(1+b) for log(1+b/B)",
     [(PAY, "CLOSED_FORMS", closed_forms(linear=lin_cf("log")))], "sp_linear"),
    ("second price (linear): TV factor dropped",
     [(PAY, "CLOSED_FORMS", closed_forms(linear=lin_cf("no_tv")))], "sp_linear"),
    ("second price (linear): sign flipped",
     [(PAY, "CLOSED_FORMS", closed_forms(linear=lin_cf("sign")))], "sp_linear"),
    ("second price (linear): B includes own bid",
     [(PAY, "CLOSED_FORMS", closed_forms(linear=lin_cf("own_weight")))], "sp_linear"),
    ("second price (linear): reference left out of m",
     [(PAY, "CLOSED_FORMS", closed_forms(linear=lin_cf("no_ref")))], "sp_linear_ref"),
    ("second price (wta): pays own bid",
     [(PAY, "CLOSED_FORMS", closed_forms(wta=wta_cf("own_bid")))], "sp_wta"),
    ("second price (wta): losers pay too",
     [(PAY, "CLOSED_FORMS", closed_forms(wta=wta_cf("loser_pays")))], "sp_wta"),
    ("second price (linear): race payment instead",
     [(PAY, "CLOSED_FORMS", closed_forms(linear=lambda r, P, b, i: PAY.race_payment(r, P, b,
                                                                                  i)))],
     "sp_linear"),
    ("myerson: integral dropped",
     [(PAY, "second_price_quadrature", integral_scaled(0.0))], "sp_loglin"),
    ("myerson: half the integral",
     [(PAY, "second_price_quadrature", integral_scaled(0.5))], "sp_loglin"),
    ("second price quadrature: G = 1 - TV(Q, p_i)",
     [(PAY, "second_price_quadrature", quadrature_like(second_price_tv_to_p))], "sp_loglin"),
    ("valuation: wrong KL direction", [(PAY, "valuation_loss", valuation_wrong_loss)],
     "valuation"),
    ("valuation: sign flipped", [(PAY, "valuation_payment", valuation_sign)], "valuation"),
    ("valuation: scaled by 1.3", [(PAY, "valuation_payment", valuation_scaled)], "valuation"),
    ("stable sampler: nothing moves to under-served tokens",
     [(S.StableSampler, "grid_marginals", marginals_no_moves)], "linear"),
]

#: Mutants that no property can tell from the original (a different but valid rule);
#: printed for information, not counted in the score.
EQUIVALENT = [
    ("linear: squares the bids (w_j = b_j^2 / sum b^2: a valid rule)", linear_squared_bids(),
     "linear"),
]

QUICK = {"linear: divides by n instead of W", "wta: lowest bidder wins",
         "second price (linear): TV factor dropped", "valuation: scaled by 1.3"}


def run_battery(name: str, max_examples: int, seed: int):
    factory, kw = BATTERIES[name]
    kw = dict(kw)
    rule = kw.pop("rule_factory", None)
    # mutants are patched into this process only: a fresh process would run the real code,
    # so the reproductions are not run here
    return check(factory(), kw["properties"], max_examples=max_examples, seed=seed,
                 rule=rule() if rule else None, prove=False, shrink_counterexamples=False,
                 valuation=kw.get("valuation"), run_reproductions=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--max-examples", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    mutants = [m for m in MUTANTS if not args.quick or m[0] in QUICK]
    used = sorted({b for _, _, b in mutants})
    for b in used:
        rep = run_battery(b, args.max_examples, args.seed)
        if rep.refuted:
            print(f"baseline {b} is not clean:\n{rep}")
            return 2
    print(f"baselines clean ({len(used)} batteries)")
    caught = 0
    for name, patches, battery in mutants:
        with contextlib.ExitStack() as stack:
            for obj, attr, value in patches:
                stack.enter_context(patched(obj, attr, value))
            try:
                rep = run_battery(battery, args.max_examples, args.seed)
                hits = [f"{f.property}{':' + f.order if f.order else ''}" for f in rep.refutations()]
            except Exception as exc:  # a crash of the suite on a mutant counts as caught loudly
                hits = [f"crash {type(exc).__name__}: {exc}"]
        caught += bool(hits)
        print(f"{'CAUGHT' if hits else 'missed'}  {name}  [{battery}]  {', '.join(hits[:4])}")
    if not args.quick:
        for name, patches, battery in EQUIVALENT:
            with contextlib.ExitStack() as stack:
                for obj, attr, value in patches:
                    stack.enter_context(patched(obj, attr, value))
                rep = run_battery(battery, args.max_examples, args.seed)
            print(f"equivalent  {name}  [{battery}]  "
                  f"{'REFUTED' if rep.refuted else 'not refuted (as expected)'}")
    score = caught / len(mutants)
    print(f"mutation score: {caught}/{len(mutants)} = {score:.0%} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0 if score >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
