"""Known-bad rules and payment rules: each violates one specific property.

``KNOWN_BAD`` lists, per entry: the target, the property key it must be REFUTED on,
the largest acceptable counterexample (agents, tokens) after shrinking, and options
for ``check`` (judge rule, per-call timeout). tests/properties/checker/test_known_bad.py
checks every entry; benchmarks/check.py times the first counterexample of each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mechanism import expected_payments, get_payment_rule, get_rule
from mechanism.divergences import tv
from tests.helpers.regret_protocol import externality_payment, softmax_mixture

_linear = get_rule("linear")


def _lin(P, b):
    P = np.asarray(P, dtype=float)
    b = np.asarray(b, dtype=float)
    return b @ P / b.sum()


# -- aggregation rules ------------------------------------------------------------------
def unnormalized_from_9_tokens(dists, bids):
    """Linear, but twice the mass from V = 9 (red team: sampling never drew V > 8)."""
    q = _lin(dists, bids)
    return 2 * q if q.size >= 9 else q


def unnormalized_from_5_agents(dists, bids):
    """Linear, but twice the mass from n = 5 (red team: sampling never drew n > 4)."""
    q = _lin(dists, bids)
    return 2 * q if len(dists) >= 5 else q


def top_8_tokens(dists, bids):
    """Linear pooling cut to its 8 likeliest tokens, renormalized: from V = 9 a token an
    agent likes can drop to 0 as its bid grows (red team: NOT_REFUTED at 600 examples)."""
    q = _lin(dists, bids)
    if q.size > 8:
        q = q.copy()
        q[np.argsort(q)[:-8]] = 0.0
        q = q / q.sum()
    return q



def greedy_argmax(dists, bids):
    """Greedy decoding: a point mass on the arg-max of the linear aggregate (theory §3)."""
    q = np.zeros(np.shape(dists)[1])
    q[int(np.argmax(_lin(dists, bids)))] = 1.0
    return q


def temperature_by_total_bid(dists, bids):
    """Linear, then sharpened with temperature 1 / (1 + W): depends on the bids' scale."""
    q = _lin(dists, bids)
    T = 1.0 / (1.0 + float(np.sum(bids)))
    with np.errstate(divide="ignore"):
        z = np.where(q > 0, np.log(np.where(q > 0, q, 1.0)) / T, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


def ignores_agent0_bid(dists, bids):
    """Agent 0 always counts with weight 1, whatever it bids."""
    b = np.array(bids, dtype=float)
    b[0] = 1.0
    return _lin(dists, b)


def normalization_bug(dists, bids):
    """Divides by the first two bids only: right for n <= 2, unnormalized for n >= 3."""
    b = np.asarray(bids, dtype=float)
    return b @ np.asarray(dists, dtype=float) / b[:2].sum()


def narrow_dip(dists, bids):
    """Linear, except that each agent's weight halves while its bid is in [1.37, 1.38]."""
    P = np.asarray(dists, dtype=float)
    b = np.asarray(bids, dtype=float)
    w = b.copy()
    w[(b >= 1.37) & (b <= 1.38)] *= 0.5
    if w.sum() <= 0:
        w = b
    return w @ P / w.sum()


def last_token_wobble(dists, bids):
    """Linear on the first V-2 tokens; for V >= 5 the last two tokens trade a little mass
    back and forth as agent 0's bid grows (one token pair out of many)."""
    q = _lin(dists, bids)
    V = q.size
    if V < 5:
        return q
    w0 = float(bids[0]) / float(np.sum(bids))
    d = 0.05 * np.sin(12 * w0) * min(q[-1], q[-2])
    q = q.copy()
    q[-1] += d
    q[-2] -= d
    return q


def back_and_forth(dists, bids):
    """Moves agent 0's way and back: q = m + sin(pi w_0) (p_0 - m), m the others' mixture."""
    P = np.asarray(dists, dtype=float)
    b = np.asarray(bids, dtype=float)
    if len(b) < 2 or b[1:].sum() <= 0:
        return _lin(P, b)
    w = b[0] / b.sum()
    m = b[1:] @ P[1:] / b[1:].sum()
    return m + np.sin(np.pi * w) * (P[0] - m)


def index_weighted(dists, bids):
    """Weights b_j (1 + j): not anonymous."""
    b = np.asarray(bids, dtype=float) * (1 + np.arange(len(bids)))
    return _lin(dists, b)


def uniform_blend(dists, bids):
    """Always mixes in 10% uniform: not unanimous."""
    q = _lin(dists, bids)
    return 0.9 * q + 0.1 / q.size


def nan_on_tie(dists, bids):
    """Returns NaN when two agents bid the same (a divide-by-zero in a tie-break)."""
    b = np.asarray(bids, dtype=float)
    q = _lin(dists, b)
    if len(b) > 1 and len(np.unique(b)) < len(b):
        return q * np.nan
    return q


def raises_on_zero_bid(dists, bids):
    """Raises ZeroDivisionError when some agent bids 0."""
    b = [float(x) for x in bids]
    for x in b:
        1.0 / x
    return _lin(dists, b)


def hangs_on_big_bid(dists, bids):
    """Loops forever when some bid exceeds 5."""
    if max(bids) > 5:
        while True:
            time.sleep(0.01)
    return _lin(dists, bids)


def wrong_shape(dists, bids):
    """Drops the last token."""
    return _lin(dists, bids)[:-1]


# -- payment rules (judged under linear unless stated) --------------------------------------

def _second_price(rule, dists, bids):
    return expected_payments(rule, dists, bids).values


def critical_bid(rule, dists, bids):
    """Charges the bid times the outcome change, b G(b): close to the full bid, not the
    second-price identity b G(b) - int_0^b G."""
    P = np.asarray(dists, dtype=float)
    b = np.asarray(bids, dtype=float)
    z = np.zeros(len(b))
    for i in range(len(b)):
        b0 = b.copy()
        b0[i] = 0.0
        if b0.sum() <= 0:
            continue
        z[i] = b[i] * float(tv(rule(P, b0), rule(P, b)))
    return z


critical_bid.kind = "payment"


def rebate(rule, dists, bids):
    """Second price minus a 1% rebate of the bid: negative payments."""
    return _second_price(rule, dists, bids) - 0.01 * np.asarray(bids, dtype=float)


def double_charge(rule, dists, bids):
    """Twice the bid."""
    return 2.0 * np.asarray(bids, dtype=float)


def entry_fee(rule, dists, bids):
    """Second price plus a fee of 0.01 charged to every agent, bidding or not."""
    return _second_price(rule, dists, bids) + 0.01


_SOFTMAX = softmax_mixture(1.0)
_EXTERNALITIES = externality_payment(1.0)


def softmax_rule(dists, bids):
    """q = sum_j softmax(b / T)_j p_j with T = 1."""
    return _SOFTMAX(dists, bids)


def softmax_externalities(rule, dists, bids):
    """Bid-based externalities z_i = sum_{j != i} b_j (w_j^{-i} - w_j), softmax weights."""
    return _EXTERNALITIES(rule, dists, bids)


def race_payment(rule, dists, bids):
    """The exponential race's expected threshold payment (theory §6: another mechanism)."""
    return expected_payments(rule, dists, bids, "race").values


_COIN = np.random.default_rng()   # unseeded on purpose: a target that answers at random


def coin_flip(dists, bids):
    """Linear, or (at random) each weight 1 / (1 + b): two answers for one input."""
    b = np.asarray(bids, dtype=float)
    w = b if _COIN.random() < 0.5 else 1.0 / (1.0 + b)
    return w @ np.asarray(dists, dtype=float) / w.sum()


def jittered_payment(rule, dists, bids):
    """Second price plus random noise of up to 1e-3."""
    return _second_price(rule, dists, bids) + 1e-3 * _COIN.random()


jittered_payment.kind = "payment"


@dataclass
class Bad:
    name: str
    target: object
    key: str                       #: the property it must be REFUTED on
    max_agents: int
    max_tokens: int
    options: dict = field(default_factory=dict)
    why: str = ""


KNOWN_BAD = [
    Bad("log_linear_3_tokens", get_rule("log_linear"), "monotone:box", 2, 3,
        why="theory §3: log-linear is box-MON only for V <= 2"),
    Bad("log_linear_l2", get_rule("log_linear"), "monotone:l2", 2, 3,
        why="theory §3: log-linear is not MON for L2"),
    Bad("log_linear_consistent", get_rule("log_linear"), "consistent:box", 2, 3,
        why="log-linear outcomes for V = 3 are not a box chain"),
    Bad("back_and_forth_kl", back_and_forth, "monotone:kl_forward", 2, 2,
        why="moves toward p_0, then back"),
    Bad("back_and_forth_tv", back_and_forth, "monotone:tv", 2, 2, why="as above, TV"),
    Bad("back_and_forth_rkl", back_and_forth, "monotone:kl_reverse", 2, 2, why="reverse KL"),
    Bad("back_and_forth_segment", back_and_forth, "monotone:segment", 2, 2, why="segment"),
    Bad("greedy_argmax", greedy_argmax, "monotone:box", 2, 3, why="theory §3: greedy is not MON"),
    Bad("greedy_argmax_jumps", greedy_argmax, "continuous", 2, 2, why="arg-max jumps"),
    Bad("temperature_by_total_bid", temperature_by_total_bid, "scale_invariant", 2, 2,
        why="the temperature depends on W"),
    Bad("ignores_agent0_bid", ignores_agent0_bid, "zero_bid_no_influence", 2, 2,
        why="agent 0 bidding 0 still weighs 1"),
    Bad("normalization_bug", normalization_bug, "normalized", 3, 2,
        why="divides by b_0 + b_1 only"),
    Bad("narrow_dip", narrow_dip, "monotone:box", 2, 2,
        why="non-monotone only for bids in [1.37, 1.38]"),
    Bad("last_token_wobble", last_token_wobble, "monotone:box", 2, 5,
        why="one token pair out of V >= 5 moves the wrong way"),
    Bad("unnormalized_from_9_tokens", unnormalized_from_9_tokens, "normalized", 8, 12,
        why="sums to 2 from V = 9"),
    Bad("unnormalized_from_5_agents", unnormalized_from_5_agents, "normalized", 8, 12,
        why="sums to 2 from n = 5"),
    Bad("top_8_tokens", top_8_tokens, "monotone:box", 4, 12,
        why="a token falls to 0 from V = 9"),
    Bad("index_weighted", index_weighted, "anonymous", 2, 2, why="weights b_j (1 + j)"),
    Bad("uniform_blend", uniform_blend, "unanimous", 1, 2, why="10% uniform always"),
    Bad("nan_on_tie", nan_on_tie, "normalized", 2, 2, why="NaN on tied bids"),
    Bad("raises_on_zero_bid", raises_on_zero_bid, "normalized", 2, 2,
        why="ZeroDivisionError"),
    # a timeout is not shrunk (each try costs the timeout): the size is the one drawn,
    # up to strategies.BEYOND_N agents and BEYOND_V tokens
    Bad("hangs_on_big_bid", hangs_on_big_bid, "normalized", 8, 12, {"timeout": 0.5},
        why="infinite loop (per-call timeout)"),
    Bad("wrong_shape", wrong_shape, "normalized", 1, 2, why="returns V-1 entries"),
    Bad("log_linear_stable_sampling", get_rule("log_linear"), "stable_sampling", 2, 3,
        why="no stable sampler has log-linear's marginals for V = 3"),
    Bad("pay_your_bid_wta", get_payment_rule("pay_your_bid"), "payment_monotone:box", 2, 2,
        {"rule": get_rule("winner_take_all")},
        why="theory §6: pays more above the runner-up for the same outcome"),
    Bad("critical_bid", critical_bid, "payment_identity", 2, 2,
        why="charges b G(b), close to the full bid"),
    Bad("critical_bid_regret", critical_bid, "truthful", 2, 2,
        why="shading the bid pays under a near-first-price rule"),
    Bad("softmax_externalities", softmax_externalities, "truthful", 3, 5,
        {"rule": softmax_rule},
        why="softmax(bid/T) mixture + bid-based externalities is not truthful"),
    Bad("pay_your_bid_ir", get_payment_rule("pay_your_bid"), "individually_rational", 2, 2,
        why="pays the whole value b for an outcome worth b G(b) < b (tv value model)"),
    Bad("rebate", rebate, "payment_nonnegative", 2, 2, why="negative payments"),
    Bad("double_charge", double_charge, "payment_at_most_bid", 2, 2, why="pays 2 b"),
    Bad("entry_fee", entry_fee, "zero_bid_pays_zero", 2, 2, why="a zero bid pays 0.01"),
    Bad("coin_flip", coin_flip, "deterministic", 2, 3, why="answers at random"),
    Bad("jittered_payment", jittered_payment, "payment_deterministic", 2, 3,
        why="random noise on the payment"),
    Bad("race_payment", race_payment, "payment_identity", 2, 2,
        why="theory §6: the race payment exceeds the TV second price unless TV = 1"),
]

KNOWN_GOOD = {
    "linear": get_rule("linear"),
    "linear_ref": get_rule("linear", reference=[0.5, 0.3, 0.2], weight=0.7),
    "winner_take_all": get_rule("winner_take_all"),
    "winner_take_all_ref": get_rule("winner_take_all", reference=[0.2, 0.2, 0.6], weight=1.0),
}
