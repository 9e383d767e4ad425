"""tokenauction's reference mechanism (numpy only): the token auction of
"Mechanism Design for Large Language Models" (Duetting et al., 2023), as formalized
in docs/theory.md. See docs/architecture.md for how data flows through these modules.
"""

from .auction import Reports, StepRecord, TokenAuction, Transcript, step_uniforms
from .divergences import kl, l2, tv
from .errors import (Float64Range, InvalidInput, InvalidRule, MissingDependency,
                     PropertyViolation, TokenAuctionError)
from .orders import ORDER_TOL, ORDERS, comparable, prefers, strictly_prefers
from .payments import (PAYMENT_RULES, PaymentRule, Payments, compute_payments, expected_payments,
                       get_payment_rule)
from .rules import RULES, Rule, as_rule, get_rule, reduce_vocabulary, register_rule
from .sampling import (StableSampler, exponential_race, inverse_cdf, joint_linear_two_agents,
                       maximal_coupling_draw)
from .transcript import TranscriptWriter, iter_steps, read_header
from .validation import SUM_TOL, as_bids, as_distribution, as_distributions
from .verdicts import Verdict

__version__ = "0.1.0"

__all__ = [
    "Reports", "StepRecord", "TokenAuction", "Transcript", "step_uniforms", "kl", "l2", "tv",
    "Float64Range", "InvalidInput", "InvalidRule", "MissingDependency", "PropertyViolation",
    "TokenAuctionError",
    "ORDER_TOL", "ORDERS", "comparable", "prefers", "strictly_prefers", "PAYMENT_RULES",
    "PaymentRule", "Payments", "expected_payments", "get_payment_rule", "RULES", "Rule",
    "as_rule", "get_rule", "register_rule", "StableSampler", "exponential_race", "inverse_cdf",
    "joint_linear_two_agents", "maximal_coupling_draw", "SUM_TOL", "as_bids", "as_distribution",
    "as_distributions", "compute_payments", "reduce_vocabulary", "TranscriptWriter", "iter_steps",
    "read_header", "Verdict",
]
