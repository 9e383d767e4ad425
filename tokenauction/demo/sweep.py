"""The Alpha Airlines / Beta Resort demo (docs/theory.md section 1, the paper's motivating example).

Reads top to bottom: load the config (and a profile: ``cpu`` for 2 cores, ``gpu`` for more
seeds, longer texts, larger batches), then for every rule x bid share x seed run one auction
(stable sampling and second-price payments at every token, transcript written to ``runs/``).
Runs are stepped in lockstep, ``batch`` runs per forward (:mod:`tokenauction.demo.lockstep`,
:mod:`tokenauction.llm.batch`). Every step is verified on the real next-token distributions:
each written run by the run audit (:func:`properties.audit.replay.audit_run`, what
``tokenauction audit`` reports for it) and, per step, the stable sampler's law and the regret
of truthful bidding (:mod:`properties.audit.step`); its influence measures are recorded
(:mod:`tokenauction.demo.influence`). The report is written by :mod:`tokenauction.demo.writeup`.
"""

from __future__ import annotations

import math
import sys
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mechanism.auction import TokenAuction
from mechanism.errors import InvalidInput
from mechanism.rules import as_rule, get_rule
from properties.audit.replay import audit_run
from properties.audit.step import sampler_step
from properties.loading import load_spec
from properties.config import MAX_CONFIG_BYTES, read_small
from tokenauction.demo.influence import run_measures, step_measures
from tokenauction.demo.lockstep import run_all

@dataclass
class DemoConfig:
    query: str
    agents: list[dict]
    reference: dict | None
    reference_weight: float
    shares: int = 11
    total_bid: float = 1.0
    rules: list[str] = field(default_factory=lambda: ["linear", "log_linear"])
    seeds: list[int] = field(default_factory=lambda: list(range(6)))
    max_tokens: int = 20
    temperature: float = 0.7
    top_p: float = 0.9
    log_linear_epsilon: float = 1e-4
    batch: int = 11          #: runs stepped together in one forward
    regret_every: int = 4    #: check the regret of truthful bidding on every k-th step
    profile: str = "cpu"

    def prompts(self) -> list[dict]:
        return [{"system": a["system"], "user": a["user"].format(query=self.query)}
                for a in self.agents]

    def reference_prompt(self) -> dict | None:
        if self.reference is None:
            return None
        return {"system": self.reference["system"],
                "user": self.reference["user"].format(query=self.query)}

    def share_grid(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.shares)


def load_config(path=None, **overrides) -> DemoConfig:
    """The demo config (default: the packaged ``tokenauction/demo/config.toml``), with overrides."""
    if path is None:
        text = resources.files("tokenauction.demo").joinpath("config.toml").read_text()
        where = "the packaged tokenauction/demo/config.toml"
    else:
        text = read_small(path, "demo config", MAX_CONFIG_BYTES, text=True)
        where = str(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{where} is not valid TOML: {exc}", value=where) from exc
    agents = raw.get("agents", [])
    if len(agents) != 2 or any(not {"name", "brand", "system", "user"} <= set(a) for a in agents):
        raise InvalidInput(f"{where}: the demo needs exactly two [[agents]] tables, each with "
                           "name, brand, system and user", value=agents)
    ref = raw.get("reference", {})
    sweep = dict(raw.get("sweep", {}))
    profile = overrides.pop("profile", None) or "cpu"
    profiles = raw.get("profiles", {})
    if profile not in profiles and profile != "cpu":
        raise InvalidInput(f"unknown profile {profile!r}; {where} defines "
                           f"{', '.join(['cpu', *profiles]) }", value=profile)
    sweep.update(profiles.get(profile, {}))
    sweep["profile"] = profile
    if isinstance(sweep.get("seeds"), int):  # a count: seeds 0..N-1
        sweep["seeds"] = list(range(sweep["seeds"]))
    cfg = DemoConfig(query=raw.get("query", "Vacations in Hawaii"), agents=agents,
                     reference=ref if ref.get("enabled") else None,
                     reference_weight=float(ref.get("weight", 0.0)),
                     **{k: v for k, v in sweep.items() if k in DemoConfig.__dataclass_fields__})
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    if cfg.shares < 2 or cfg.max_tokens < 1 or not cfg.seeds or not cfg.rules:
        raise InvalidInput("need shares >= 2, max_tokens >= 1, at least one seed and one rule",
                           value=(cfg.shares, cfg.max_tokens, cfg.seeds, cfg.rules))
    bad = [x for x in cfg.seeds if isinstance(x, bool) or not isinstance(x, int) or x < 0]
    if bad:
        raise InvalidInput(f"seeds must be integers >= 0 (the auction's random streams), got "
                           f"{bad[0]!r}", value=bad[0])
    for name, x, top in (("temperature", cfg.temperature, None), ("top_p", cfg.top_p, 1.0)):
        if not (isinstance(x, (int, float)) and math.isfinite(x) and x > 0
                and (top is None or x <= top)):
            raise InvalidInput(f"{name} must be a finite number > 0" + (
                f" and <= {top:g}" if top is not None else "") + f", got {x!r}", value=x)
    if cfg.batch < 1 or cfg.regret_every < 1:
        raise InvalidInput(f"need batch >= 1 and regret_every >= 1; got {cfg.batch}, "
                           f"{cfg.regret_every}", value=(cfg.batch, cfg.regret_every))
    for name in cfg.rules:
        make_rule(cfg, name)  # unknown names and broken files fail here, before the model loads
    return cfg


def rule_label(name: str) -> str:
    """A rule's short name: ``linear``, or ``NAME`` of ``path/to/file.py:NAME``."""
    return name.rpartition(":")[2] if ":" in name else name


def make_rule(cfg: DemoConfig, name: str):
    """A registered rule by name, or a user rule ``file.py:NAME`` / ``pkg.mod:NAME`` loaded as
    ``tokenauction check`` loads it (:func:`properties.loading.load_spec`)."""
    weight = cfg.reference_weight if cfg.reference else 0.0
    if ":" in name:
        rule = as_rule(load_spec(name, "rule"), name=rule_label(name))
        return rule.with_reference(rule.reference, weight) if weight else rule
    eps = {"epsilon": cfg.log_linear_epsilon} if name == "log_linear" else {}
    return get_rule(name, weight=weight, **eps)


@dataclass
class RunResult:
    rule: str
    share: float
    seed: int
    bids: list[float]
    text: str
    tokens: list[int]
    mentions: dict[str, bool]
    payments: list[float]
    measures: dict
    checks: list[dict]      #: per step: the stable sampler and regret (properties.audit.step)
    folder: str
    audit: dict | None = None  #: the run audit of ``folder`` (AuditReport.to_json)


def sweep_jobs(cfg: DemoConfig) -> list[tuple[str, int, float, int]]:
    """(rule, share index, share, seed) of every run, seed-major within a rule, so that a
    batch of ``shares`` runs is one seed across every share."""
    return [(name, k, float(share), seed) for name in cfg.rules for seed in cfg.seeds
            for k, share in enumerate(cfg.share_grid())]


def run_chunk(cfg: DemoConfig, backend, auctions: dict, jobs, out_dir: Path | None):
    """Run ``jobs`` (one rule) together, one batched provider call per step."""
    def job_fn(name, k, share, seed):
        auction = auctions[name]
        bids = [share * cfg.total_bid, (1 - share) * cfg.total_bid]

        def job(view):
            checks, steps = [], []

            def on_step(rec):
                rep, logp = view.last
                if folder is not None:  # a verified run (not the replay of replay_matches)
                    rule = auction.rule if rep.reference is None else \
                        auction.rule.with_reference(rep.reference)
                    checks.append(sampler_step(
                        rule, rep.dists, rec.bids,
                        check_regret=rec.step % cfg.regret_every == 0).to_json())
                stop = rec.token in backend.stop_token_ids
                steps.append(step_measures(rep.dists, rec.aggregate,
                                           None if stop else logp[:, rec.token]))

            run_name = f"{rule_label(name)}-share{k:02d}-seed{seed}"
            folder = None if out_dir is None else out_dir / "runs" / run_name
            transcript = auction.run(view, bids, seed=seed, max_tokens=cfg.max_tokens,
                                     stop_tokens=sorted(backend.stop_token_ids),
                                     record_to=folder, keep_reports=False, keep_steps=False,
                                     on_step=on_step)
            text = backend.decode(transcript.tokens)
            audit = None
            if folder is not None:  # a verified run: its run audit, the others going on
                view.leave()
                audit = audit_run(folder, auction=auction).to_json()
            return RunResult(name, share, seed, bids, text, transcript.tokens,
                             {a["brand"]: a["brand"].lower() in text.lower() for a in cfg.agents},
                             transcript.total_payments.tolist(), run_measures(steps), checks,
                             str(folder), audit)
        return job

    return run_all(backend.batch(len(jobs)), [job_fn(*j) for j in jobs])


def run_demo(cfg: DemoConfig, backend, out_dir: Path, log=None) -> list[RunResult]:
    """Every rule x share x seed, ``cfg.batch`` runs at a time. ``backend`` has
    ``batch(R)`` (a step function ``{run: prefix} -> {run: (Reports, log-probs)}``),
    ``stop_token_ids`` and ``decode(ids)``."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    auctions = {name: TokenAuction(make_rule(cfg, name)) for name in cfg.rules}
    jobs = sweep_jobs(cfg)
    chunks = [js[i:i + cfg.batch] for name in cfg.rules
              for js in [[j for j in jobs if j[0] == name]] for i in range(0, len(js), cfg.batch)]
    log(f"running {len(jobs)} auctions ({len(cfg.rules)} rules x {cfg.shares} bid shares x "
        f"{len(cfg.seeds)} seeds, up to {cfg.max_tokens} tokens each), {cfg.batch} runs per "
        f"forward, {len(chunks)} batches")
    results: list[RunResult] = []
    started = time.perf_counter()
    for c, chunk in enumerate(chunks):
        results += run_chunk(cfg, backend, auctions, chunk, out_dir)
        elapsed = time.perf_counter() - started
        left = elapsed / len(results) * (len(jobs) - len(results))
        seeds = sorted({j[3] for j in chunk})
        tokens = sum(len(r.tokens) for r in results[-len(chunk):])
        log(f"[batch {c + 1}/{len(chunks)}] {rule_label(chunk[0][0])}, seeds {seeds[0]}-{seeds[-1]}, "
            f"{len(chunk)} runs, {tokens} tokens | {len(results)}/{len(jobs)} runs done in "
            f"{elapsed:.0f} s, about {left:.0f} s left | {results[-1].text[:50]!r}")
    return results


def replay_matches(cfg: DemoConfig, backend, results: list[RunResult]) -> bool:
    """Same seeds, same transcripts (README, docs/audit.md): re-run the first batch of the
    first rule (same runs, same batch layout, so the same floating-point sums) and compare
    tokens and payments bit for bit. One batch keeps the cost at 1/(batches) of the sweep;
    ``tokenauction audit`` replays every written run from its transcript."""
    name = cfg.rules[0]
    chunk = [j for j in sweep_jobs(cfg) if j[0] == name][:cfg.batch]
    again = run_chunk(cfg, backend, {name: TokenAuction(make_rule(cfg, name))}, chunk, None)
    first = [r for r in results if r.rule == name][:len(again)]
    return all(a.tokens == b.tokens and a.payments == b.payments for a, b in zip(again, first))
