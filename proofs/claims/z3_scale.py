"""The theory §4 (=>) witness at 16 tokens x 16 grid bids by the decomposed encoding
(:mod:`proofs.encode.decomposition`, whose docstring gives the soundness argument)."""

from __future__ import annotations

from mechanism.verdicts import Verdict

from proofs.encode.decomposition import decomposed, per_token_lemmas
from mechanism.verdicts import EVERY, Scope
from proofs.registry import Limits, ProofResult, claim, declare_scope

SCALE_V, SCALE_K = 16, 16


@claim("z3.scale.box.grid_second_price_witness", "box MON implies the grid second-price "
       "payment satisfies Z(0)=0, Z non-decreasing and PM, at 16 tokens and 16 grid bids "
       "(decomposed encoding: per-token lemmas + abstract chain query)", order="box")
def scale_claim(limits: Limits) -> ProofResult:
    V, K = max(SCALE_V, limits.max_tokens), max(SCALE_K, limits.max_grid)
    lemmas = per_token_lemmas(limits.timeout_s)
    v = decomposed(V, K, limits.timeout_s, lemmas)
    return ProofResult(v, "z3", f"per-token lemmas {({k: str(x) for k, x in lemmas.items()})}; "
                       "chained lemmas + assembly unsat" if v is Verdict.PROVED else "a step was not unsat",
                       f"V={V}, K={K} grid bids s_k=k")

declare_scope("z3.scale.box.grid_second_price_witness", lambda limits: Scope(
    EVERY, max(SCALE_V, limits.max_tokens),
    f"grid s_k = k with exactly K = {max(SCALE_K, limits.max_grid)} bids", "exact reals (z3)",
    (f"run at exactly V = {max(SCALE_V, limits.max_tokens)} tokens and K = "
     f"{max(SCALE_K, limits.max_grid)} bids, not at the sizes in between (those are the "
     "z3.theorem claims' sizes)",
     "outcomes Q(s_k) and p symbolic distributions",
     "decomposed encoding: per-token lemmas, then one abstract query over the grid")))
