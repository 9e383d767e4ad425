"""The property catalogue: stable ids (never renamed), what each checks, and where
the definition lives in docs/theory.md.

``per_order`` properties are checked once per preference order (theory §3):
``box``, ``segment``, ``kl_forward``, ``kl_reverse``, ``tv``, ``l2``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mechanism.orders import ALL_ORDERS  # noqa: F401  (re-exported by properties)


@dataclass(frozen=True)
class Property:
    id: str
    kind: str          #: "rule" (aggregation) or "payment"
    per_order: bool
    spec: str          #: the docs/theory.md definition it checks
    summary: str


CATALOGUE: dict[str, Property] = {p.id: p for p in [
    Property("normalized", "rule", False, "theory §1 (A(P, b) in the simplex), 2",
             "returns a finite, non-negative vector over the V tokens summing to 1 for every "
             "valid input (W > 0); raising, hanging, NaN or a wrong shape fails it"),
    Property("deterministic", "rule", False, "theory §1 (A(P, b) is a function of the reports "
             "and bids)", "the same input always gives the same q (a target that answers at "
             "random makes every sampled verdict UNKNOWN)"),
    Property("anonymous", "rule", False, "theory §2 (rules depend on the parties' (p_j, b_j), "
             "not their order)", "permuting the agents (reports and bids together) leaves q"),
    Property("unanimous", "rule", False, "theory §2 (q is a weighted aggregate of the parties' "
             "distributions; p_i on top of every order, theory §3)",
             "when every party with positive weight reports p, q = p"),
    Property("zero_bid_no_influence", "rule", False, "theory §2 (parties with weight 0 are "
             "dropped)", "the report of an agent bidding 0 does not change q"),
    Property("scale_invariant", "rule", False, "theory §2 (q depends on w_j = b_j / W only)",
             "multiplying every bid (and lambda) by c > 0 leaves q unchanged"),
    Property("continuous", "rule", False, "theory §1 demo (the joint ad moves smoothly); "
             "continuity in the reports at fixed bids, on the simplex interior",
             "no jump of q between reports closer than 1e-9 (bisection jump finder)"),
    Property("monotone", "rule", True, "theory §4 MON: s < s' => Q(s') >= Q(s) (order of theory §3)",
             "raising an agent's bid never makes the aggregate worse for it"),
    Property("consistent", "rule", True, "theory §4 CA: every two outcomes Q(s), Q(s') are "
             "comparable", "the agent's outcomes along its bid path form a chain"),
    Property("stable_sampling", "rule", False, "theory §6 stable sampler / theory §9 item 6",
             "the canonical stable sampler has exact marginals Q(s), switches at most once "
             "per seed, only from over-served to under-served tokens, with probability TV"),
    Property("payment_monotone", "payment", True, "theory §4 PM: Q(s') > Q(s) <=> Z(s') > Z(s)",
             "a strictly better outcome costs strictly more and vice versa"),
    Property("payment_deterministic", "payment", False, "theory §1 (z is a function of the "
             "reports and bids)", "the same input always gives the same payments"),
    Property("payment_nonnegative", "payment", False, "theory §1 (z in R>=0^n), theory §9 item 7",
             "every payment is >= 0"),
    Property("payment_at_most_bid", "payment", False, "theory §6 (per seed 0 <= z_i <= b_i), "
             "theory §9 item 7", "no agent pays more than its bid"),
    Property("zero_bid_pays_zero", "payment", False, "theory §4 bid normalization Z(0) = 0, "
             "theory §9 item 7 and 9", "an agent bidding 0 pays 0"),
    Property("payment_identity", "payment", False, "theory §6 Myerson identity "
             "Z(b) = b x(b) - int_0^b x under the value model (tv: x(s) = TV(Q(0), Q(s)); "
             "docs/theory.md, value models)",
             "the expected payment equals Myerson's payment for the value model"),
    Property("truthful", "payment", False, "theory §6 valuation-based: value t_i a_i(q) under "
             "the value model (default tv: a_i(q) = 1 - TV(q, p_i))",
             "truthful bidding has zero regret against misreports 0.25 t to 2 t (others "
             "truthful)"),
    Property("individually_rational", "payment", False, "value t_i a_i(q) under the value "
             "model: t (a(Q(t)) - a(Q(0))) - Z(t) >= 0",
             "bidding one's value never costs more than the outcome is worth (against "
             "staying out)"),
]}


def property_ids(kind: str | None = None) -> list[str]:
    return [p.id for p in CATALOGUE.values() if kind is None or p.kind == kind]


def parse_property(text: str) -> tuple[str, str | None]:
    """``"monotone:box"`` -> ("monotone", "box"); ``"normalized"`` -> ("normalized", None)."""
    pid, _, order = text.partition(":")
    return pid, (order or None)
