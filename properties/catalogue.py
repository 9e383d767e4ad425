"""The property catalogue: the one registry of properties. Each :class:`Property` declares
its stable id (never renamed), the kind of target it applies to, whether it is checked once per
preference order (theory §3: ``box``, ``segment``, ``kl_forward``, ``kl_reverse``, ``tv``,
``l2``), the engines that decide it, the sampled search that looks for its violations, whether
its truth depends on the value model, and the docs/theory.md section that defines it.
Everything else (which keys go to which engine, the value-model properties, the determinism
probes) derives from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass

from mechanism.orders import ALL_ORDERS  # noqa: F401  (re-exported by properties)
from mechanism.valuations import MODEL_DEPENDENT

#: The engines of ``check``: a proof of the rule-level prover, a definition that settles the
#: property, a sampled (hypothesis) search, the determinism probe (same input twice).
ENGINES = ("proof", "definition", "sampled", "determinism")
#: The sampled searches: one input at a time, along one agent's bid path, a payment rule's.
SEARCHES = ("pointwise", "path", "payment")


@dataclass(frozen=True)
class Property:
    id: str
    kind: str          #: "rule" (aggregation) or "payment"
    per_order: bool    #: checked once per preference order
    spec: str          #: the docs/theory.md definition it checks
    summary: str
    engines: tuple = ("sampled",)   #: the engines that decide it, of :data:`ENGINES`
    search: str | None = None       #: the sampled search of :data:`SEARCHES` (None: not sampled)
    value_model: bool = False       #: its truth depends on the value model

    def __post_init__(self):
        if self.kind not in ("rule", "payment") or not set(self.engines) <= set(ENGINES) or \
                (("sampled" in self.engines) != (self.search is not None)) or \
                (self.search is not None and self.search not in SEARCHES):
            raise ValueError(f"inconsistent catalogue entry {self!r}")

    @property
    def orders(self) -> tuple:
        """The orders it is checked under: every order, or ``(None,)``."""
        return ALL_ORDERS if self.per_order else (None,)


def _rule(pid, spec, summary, search="pointwise", per_order=False, engines=("sampled",)):
    return Property(pid, "rule", per_order, spec, summary, engines, search)


def _payment(pid, spec, summary, per_order=False):
    return Property(pid, "payment", per_order, spec, summary, ("sampled",), "payment",
                    pid in MODEL_DEPENDENT)


def _determinism(pid, kind, spec, summary):
    return Property(pid, kind, False, spec, summary, ("determinism",), None)


CATALOGUE: dict[str, Property] = {p.id: p for p in [
    _rule("normalized", "theory §1 (A(P, b) in the simplex), 2",
          "returns a finite, non-negative vector over the V tokens summing to 1 for every "
          "valid input (W > 0); raising, hanging, NaN or a wrong shape fails it"),
    _determinism("deterministic", "rule", "theory §1 (A(P, b) is a function of the reports "
                 "and bids)", "the same input always gives the same q (a target that answers at "
                 "random makes every sampled verdict UNKNOWN)"),
    _rule("anonymous", "theory §2 (rules depend on the parties' (p_j, b_j), "
          "not their order)", "permuting the agents (reports and bids together) leaves q"),
    _rule("unanimous", "theory §2 (q is a weighted aggregate of the parties' "
          "distributions; p_i on top of every order, theory §3)",
          "when every party with positive weight reports p, q = p"),
    _rule("zero_bid_no_influence", "theory §2 (parties with weight 0 are "
          "dropped)", "the report of an agent bidding 0 does not change q"),
    _rule("scale_invariant", "theory §2 (q depends on w_j = b_j / W only)",
          "multiplying every bid (and lambda) by c > 0 leaves q unchanged"),
    _rule("continuous", "theory §1 demo (the joint ad moves smoothly); "
          "continuity in the reports at fixed bids, on the simplex interior",
          "no jump of q between reports closer than 1e-9 (bisection jump finder)"),
    _rule("monotone", "theory §4 MON: s < s' => Q(s') >= Q(s) (order of theory §3)",
          "raising an agent's bid never makes the aggregate worse for it", "path", True,
          ("proof", "sampled")),
    _rule("consistent", "theory §4 CA: every two outcomes Q(s), Q(s') are comparable",
          "the agent's outcomes along its bid path form a chain", "path", True,
          ("definition", "proof", "sampled")),
    _rule("stable_sampling", "theory §6 stable sampler / theory §9 item 6",
          "the canonical stable sampler has exact marginals Q(s), switches at most once "
          "per seed, only from over-served to under-served tokens, with probability TV",
          "path"),
    _payment("payment_monotone", "theory §4 PM: Q(s') > Q(s) <=> Z(s') > Z(s)",
             "a strictly better outcome costs strictly more and vice versa", per_order=True),
    _determinism("payment_deterministic", "payment", "theory §1 (z is a function of the "
                 "reports and bids)", "the same input always gives the same payments"),
    _payment("payment_nonnegative", "theory §1 (z in R>=0^n), theory §9 item 7",
             "every payment is >= 0"),
    _payment("payment_at_most_bid", "theory §6 (per seed 0 <= z_i <= b_i), "
             "theory §9 item 7", "no agent pays more than its bid"),
    _payment("zero_bid_pays_zero", "theory §4 bid normalization Z(0) = 0, "
             "theory §9 item 7 and 9", "an agent bidding 0 pays 0"),
    _payment("payment_identity", "theory §6 Myerson identity "
             "Z(b) = b x(b) - int_0^b x under the value model (tv: x(s) = TV(Q(0), Q(s)); "
             "docs/theory.md, value models)",
             "the expected payment equals Myerson's payment for the value model"),
    _payment("truthful", "theory §6 valuation-based: value t_i a_i(q) under "
             "the value model (default tv: a_i(q) = 1 - TV(q, p_i))",
             "truthful bidding has zero regret against misreports 0.25 t to 2 t (others "
             "truthful)"),
    _payment("individually_rational", "theory §6 (value t_i a_i(q) under the value "
             "model: t (a(Q(t)) - a(Q(0))) - Z(t) >= 0)",
             "bidding one's value never costs more than the outcome is worth (against "
             "staying out)"),
]}


def property_ids(kind: str | None = None) -> list[str]:
    return [p.id for p in CATALOGUE.values() if kind is None or p.kind == kind]


def ids_with(*, engine: str | None = None, search: str | None = None,
             value_model: bool | None = None) -> tuple:
    """The ids whose declaration matches: an engine among theirs, their search, their
    value-model dependence."""
    return tuple(p.id for p in CATALOGUE.values()
                 if (engine is None or engine in p.engines)
                 and (search is None or p.search == search)
                 and (value_model is None or p.value_model == value_model))


#: The properties whose truth depends on the value model (theory §6, value models).
VALUE_MODEL_PROPERTIES = ids_with(value_model=True)
#: The properties the determinism probe decides (same input twice).
DETERMINISM = ids_with(engine="determinism")


def parse_property(text: str) -> tuple[str, str | None]:
    """``"monotone:box"`` -> ("monotone", "box"); ``"normalized"`` -> ("normalized", None)."""
    pid, _, order = text.partition(":")
    return pid, (order or None)
