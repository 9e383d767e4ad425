"""theory §9 item 10 and the token-by-token auction (on a small Markov provider)."""

import numpy as np
import pytest

from mechanism import InvalidInput, TokenAuction, step_uniforms
from tests.helpers.markov import STOP, MarkovAgents
from mechanism.transcript import GENESIS, iter_steps, read_header


def run(rule="linear", seed=7, n=2, with_reference=False, **kw):
    return TokenAuction(rule, **kw).run(MarkovAgents(n=n, seed=1, with_reference=with_reference),
                                        [1.0, 2.0, 0.5][:n], seed=seed, max_tokens=15,
                                        stop_tokens=[STOP])


@pytest.mark.parametrize("rule", ["linear", "log_linear", "winner_take_all"])
def test_claim10_same_seed_same_transcript(rule):
    a, b = run(rule, n=3), run(rule, n=3)
    assert a.tokens == b.tokens
    np.testing.assert_array_equal(a.total_payments, b.total_payments)
    assert [s.uniforms.tolist() for s in a.steps] == [s.uniforms.tolist() for s in b.steps]
    others = {tuple(run(rule, seed=s, n=3).tokens) for s in range(5)}
    assert len(others) > 1


def test_claim10_sequence_charge_is_sum():
    t = run()
    np.testing.assert_allclose(t.total_payments, np.sum([s.payments for s in t.steps], axis=0))
    assert all(np.all((s.payments >= 0) & (s.payments <= s.bids)) for s in t.steps)


def test_auto_sampler_choice():
    assert {s.sampler for s in run(n=2).steps} == {"joint_linear"}
    assert {s.sampler for s in run(n=3).steps} == {"inverse_cdf"}
    assert {s.sampler for s in run(n=2, with_reference=True, reference_weight=0.5).steps} == \
        {"inverse_cdf"}


def test_realized_charge_uses_thresholds():
    t = run(sampler="joint_linear", charge="realized")
    for s in t.steps:
        np.testing.assert_array_equal(s.payments, s.thresholds)
    with pytest.raises(InvalidInput, match="joint sampler"):
        TokenAuction("linear", charge="realized")


def test_stop_token_and_length_cap():
    t = TokenAuction("linear").run(lambda prefix: np.eye(3)[[0, 0]], [1, 1], seed=0,
                                   max_tokens=5, stop_tokens=[0])
    assert t.tokens == [0] and t.stopped == "stop_token"
    t = TokenAuction("linear").run(lambda prefix: np.eye(3)[[1, 1]], [1, 1], seed=0,
                                   max_tokens=5, stop_tokens=[0])
    assert t.tokens == [1] * 5 and t.stopped == "length"


def test_bids_may_vary_by_step():
    seen = []
    TokenAuction("linear").run(MarkovAgents(), lambda k, prefix: seen.append(k) or [1.0, k + 1.0],
                               seed=0, max_tokens=4)
    assert seen == [0, 1, 2, 3]


def test_transcript_on_disk_replays(tmp_path):
    auction = TokenAuction("linear")
    t = auction.run(MarkovAgents(n=2, seed=3, with_reference=True), [1.0, 2.0], seed=11,
                    max_tokens=10, record_to=tmp_path / "run")
    header = read_header(tmp_path / "run")
    assert header["n"] == 2 and header["seed"] == 11 and header["has_reference"]
    stored = list(iter_steps(tmp_path / "run"))
    assert len(stored) == len(t.steps)
    assert header["prev"] == GENESIS          # the chain starts at the header
    prev = header["hash"]
    for st, rec, rep in zip(stored, t.steps, t.reports):
        np.testing.assert_array_equal(st.rows[:2], rep.dists)
        again = auction.step(st.rows[:2], st.record["bids"],
                             step_uniforms(header["seed"], st.record["step"], 2), st.rows[2])
        assert again.token == st.record["token"] == rec.token
        assert again.payments.tolist() == st.record["payments"]
        assert st.record["prev"] == prev
        prev = st.record["hash"]


def test_step_needs_enough_uniforms():
    with pytest.raises(InvalidInput, match="uniforms"):
        TokenAuction("linear").step([[0.5, 0.5], [0.1, 0.9]], [1, 1], [0.5])


def test_end_record_and_bound_reference_are_recorded(tmp_path):
    import json
    ref = np.full(12, 1 / 12)
    rule_with_ref = TokenAuction("linear", reference_weight=0.5).rule.with_reference(ref)
    t = TokenAuction(rule_with_ref).run(MarkovAgents(n=2, seed=2), [1.0, 1.0], seed=1,
                                        max_tokens=6, record_to=tmp_path / "r")
    lines = (tmp_path / "r" / "transcript.jsonl").read_text().splitlines()
    end = json.loads(lines[-1])
    assert end["end"] is True and end["steps"] == len(t.steps) and end["stopped"] == t.stopped
    header = json.loads(lines[0])
    assert header["has_reference"] and header["max_tokens"] == 6
    stored = list(iter_steps(tmp_path / "r"))
    assert len(stored) == len(t.steps)
    np.testing.assert_array_equal(stored[0].rows[2], ref)


def test_keep_steps_false_still_totals():
    a = run()
    b = TokenAuction("linear").run(MarkovAgents(n=2, seed=1), [1.0, 2.0], seed=7,
                                   max_tokens=15, stop_tokens=[STOP], keep_steps=False,
                                   keep_reports=False)
    assert b.steps == [] and b.reports == [] and b.tokens == a.tokens
    np.testing.assert_allclose(b.total_payments, a.total_payments)


def test_a_provider_that_changes_the_run_mid_way_is_refused(tmp_path):
    """The header written at step 0 describes every step: a vocabulary grown at step 1
    recorded token 2 under V = 2, and the run's own audit refused the transcript (found by
    the red team); agents added or a reference appearing are refused the same way."""
    P2 = [[0.7, 0.3], [0.2, 0.8]]
    changes = {"vocabulary": [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
               "agents": P2 + [[0.5, 0.5]],
               "reference": (P2, [0.5, 0.5])}
    for what, later in changes.items():
        provider = (lambda later: lambda prefix: P2 if not prefix else later)(later)
        bids = lambda k, prefix: [1.0] * (2 if not prefix else 3)   # noqa: E731
        with pytest.raises(InvalidInput, match="step 1: the provider gave .* a run keeps"):
            TokenAuction("linear", reference_weight=None).run(
                provider, bids if what == "agents" else [1.0, 1.0], seed=0, max_tokens=3,
                record_to=tmp_path / what)


def test_a_provider_returning_none_is_a_clear_error():
    with pytest.raises(InvalidInput, match="distributions must be an .n, V. array.*None"):
        TokenAuction("linear").run(lambda prefix: None, [1.0, 1.0], seed=0, max_tokens=1)


@pytest.mark.parametrize("args", [(1.5, 0, 2), (1, 0.9, 2), (1, 0, -3), (-1, 0, 2),
                                  (True, 0, 2)])
def test_step_uniforms_takes_integers_only(args):
    """seed 1.5 gave seed 1's draws, step 0.9 step 0's, n = -3 two uniforms, and seed -1
    numpy's own ValueError (found by the red team)."""
    with pytest.raises(InvalidInput, match="must be an integer >= 0"):
        step_uniforms(*args)
    assert step_uniforms(np.int64(7), 3, 2).tolist() == step_uniforms(7, 3, 2).tolist()
