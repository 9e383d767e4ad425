"""The bounded z3 domain holds every report row the code that runs accepts as given (its
sum within EXACT_TOL of 1, mechanism/validation.py; docs/theory.md section 4), not only
rows summing to exactly 1: a rule branching on a row's sum (gen_sum) was PROVED on the
exact simplex while its code, on a row summing to 1 + 1e-13, is not monotone. Seen failing
before the domain was widened (PROVED)."""

import numpy as np

from tests.helpers.requires import require

require("z3")

from mechanism.orders import prefers  # noqa: E402
from mechanism.verdicts import Verdict  # noqa: E402
from proofs.bounded.rule_level import prove_rule_property, rule_scope  # noqa: E402

from tests.proofs import float_code_corpus as FC  # noqa: E402


def test_the_running_code_of_gen_sum_is_not_monotone():
    rule = FC.gen_sum()
    P = np.array([[0.5, 0.5 + 1e-13], [0.0, 1.0]])
    qf, qt = rule(P, [0.5, 1.0]), rule(P, [2.0, 1.0])
    assert not prefers(P[0], qt, qf, "box")


def test_a_branch_on_a_row_sum_is_refuted():
    res = prove_rule_property(FC.gen_sum(), "monotone", "box", max_agents=2, max_tokens=2,
                              timeout_s=20.0)
    assert res.verdict is Verdict.REFUTED, res.detail


def test_the_scope_names_the_rows_proved():
    text = " ".join(rule_scope(FC.gen_sum(), 2, 2).assumptions)
    assert "EXACT_TOL" in text
