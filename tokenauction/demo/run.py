"""The Alpha Airlines / Beta Resort demo (SPEC 1, the paper's motivating example).

Reads top to bottom: load the config, build the provider (the LLM, or the synthetic
one), then for every rule x bid share x seed run one auction (stable sampling and
second-price payments at every token, transcript written to ``runs/``), verify every
step on the real next-token distributions (:mod:`properties.audit.step`), and summarize.
The report (Markdown, PNG plots, JSON) is written by :mod:`tokenauction.demo.report`.
"""

from __future__ import annotations

import sys
import time
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from mechanism.auction import TokenAuction
from mechanism.errors import InvalidInput
from mechanism.rules import get_rule
from properties.audit.step import verify_step


@dataclass
class DemoConfig:
    query: str
    agents: list[dict]
    reference: dict | None
    reference_weight: float
    shares: int = 11
    total_bid: float = 1.0
    rules: list[str] = field(default_factory=lambda: ["linear", "log_linear"])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    max_tokens: int = 24
    temperature: float = 0.7
    top_p: float = 0.9
    log_linear_epsilon: float = 1e-4

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
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read config {path}: {exc}", value=str(path)) from exc
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
    sweep = raw.get("sweep", {})
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
    for name in cfg.rules:
        get_rule(name)  # unknown names fail here, before any model is loaded
    return cfg


def make_rule(cfg: DemoConfig, name: str):
    eps = {"epsilon": cfg.log_linear_epsilon} if name == "log_linear" else {}
    return get_rule(name, weight=cfg.reference_weight if cfg.reference else 0.0, **eps)


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
    checks: list[dict]
    folder: str


def run_demo(cfg: DemoConfig, provider, out_dir: Path, log=None) -> list[RunResult]:
    """Every rule x share x seed; ``provider(prefix) -> (dists, reference)`` with
    ``reset()``, ``decode(ids)`` and ``stop_token_ids``."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    results: list[RunResult] = []
    total = len(cfg.rules) * cfg.shares * len(cfg.seeds)
    started = time.perf_counter()
    for name in cfg.rules:
        auction = TokenAuction(make_rule(cfg, name))
        for k, share in enumerate(cfg.share_grid()):
            bids = [float(share * cfg.total_bid), float((1 - share) * cfg.total_bid)]
            for seed in cfg.seeds:
                provider.reset()
                folder = out_dir / "runs" / f"{name}-share{k:02d}-seed{seed}"
                transcript = auction.run(provider, bids, seed=seed, max_tokens=cfg.max_tokens,
                                         stop_tokens=sorted(provider.stop_token_ids),
                                         record_to=folder)
                checks = []
                for rec, rep in zip(transcript.steps, transcript.reports):
                    rule = auction.rule if rep.reference is None else \
                        auction.rule.with_reference(rep.reference)
                    checks.append(verify_step(rule, rep.dists, rec.bids, rec.payments,
                                              rec.payment_errors).to_json())
                text = provider.decode(transcript.tokens)
                results.append(RunResult(
                    name, float(share), seed, bids, text, transcript.tokens,
                    {a["brand"]: a["brand"].lower() in text.lower() for a in cfg.agents},
                    transcript.total_payments.tolist(), checks, str(folder)))
                done = len(results)
                eta = (time.perf_counter() - started) / done * (total - done)
                log(f"[{done}/{total}] {name:<10} share {share:.1f} seed {seed}: "
                    f"{len(transcript.tokens)} tokens, eta {eta:.0f}s | {text[:60]!r}")
    return results
