"""Statistics of the demo sweep: bootstrap bands over seeds, a monotone-trend test, and
binomial intervals for brand-mention rates. numpy only; every resampling is seeded.

* :func:`bootstrap_mean_ci`: 95% percentile bootstrap interval of a mean over seeds.
* :func:`trend_test`: Spearman's rank correlation between bid share and a per-run measure,
  with a 95% bootstrap interval (seeds resampled within each share); the verdict says
  "rises" / "falls" when the interval excludes 0, else "no monotone trend detected".
* :func:`wilson`: the Wilson 95% interval of a rate ``k / n``.
* :func:`seeds_to_separate`: the fewest seeds (the first k) whose bands at two shares no
  longer overlap.
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054
RESAMPLES = 2000


def bootstrap_mean_ci(values, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the 95% percentile bootstrap interval of the mean of ``values``."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(x.mean()), float(lo), float(hi)


def ranks(x) -> np.ndarray:
    """Ranks 1..n along the last axis; ties get their average rank."""
    x = np.asarray(x, dtype=float)
    xs = np.sort(x, axis=-1)
    flat, sflat = x.reshape(-1, x.shape[-1]), xs.reshape(-1, x.shape[-1])
    out = np.empty(flat.shape)
    for k in range(flat.shape[0]):
        left = np.searchsorted(sflat[k], flat[k], "left")
        right = np.searchsorted(sflat[k], flat[k], "right")
        out[k] = (left + right + 1) / 2.0
    return out.reshape(x.shape)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / den, np.nan)


def spearman(x, y) -> float:
    """Spearman's rho (Pearson correlation of the ranks); nan if either side is constant."""
    return float(_pearson_rows(ranks(x), ranks(y)))


def trend_test(shares, values, resamples: int = 1000, seed: int = 0) -> dict:
    """Spearman's rho of ``values`` against ``shares`` with a 95% bootstrap interval.

    Resampling draws, for each share, as many runs as it has, with replacement (the shares
    stay fixed: the design is a grid). Verdict: "rises" if the interval lies above 0,
    "falls" if below, else "no monotone trend detected"."""
    s, v = np.asarray(shares, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    s, v = s[ok], v[ok]
    rho = spearman(s, v) if s.size > 2 else float("nan")
    if not np.isfinite(rho):
        return {"rho": rho, "low": float("nan"), "high": float("nan"), "runs": int(s.size),
                "verdict": "undefined (too few runs, or a constant measure)"}
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(s == u) for u in np.unique(s)]
    idx = np.concatenate([g[rng.integers(0, g.size, size=(resamples, g.size))] for g in groups],
                         axis=1)  # each row: a resample with every share's run count kept
    boot = _pearson_rows(np.broadcast_to(ranks(s[idx[0]]), idx.shape), ranks(v[idx]))
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return {"rho": rho, "low": float("nan"), "high": float("nan"), "runs": int(s.size),
                "verdict": "undefined (a constant measure)"}
    lo, hi = (float(q) for q in np.quantile(boot, [0.025, 0.975]))
    verdict = "rises" if lo > 0 else "falls" if hi < 0 else "no monotone trend detected"
    return {"rho": rho, "low": lo, "high": hi, "runs": int(s.size), "verdict": verdict}


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of the rate ``k / n`` ((nan, nan) for n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def separated(a, b) -> bool:
    """Do the bootstrap bands of the means of ``a`` and ``b`` not overlap?"""
    _, alo, ahi = bootstrap_mean_ci(a)
    _, blo, bhi = bootstrap_mean_ci(b)
    return bool(ahi < blo or bhi < alo)


def seeds_to_separate(a, b, least: int = 3) -> int | None:
    """The fewest k such that the first k seeds' bands at two shares separate (and stay
    separated for every larger k up to all seeds); None if they never do. From fewer than
    3 seeds a percentile bootstrap band is just the range of the values, so k >= 3."""
    a, b = list(a), list(b)
    k_max = min(len(a), len(b))
    found = None
    for k in range(k_max, least - 1, -1):
        if separated(a[:k], b[:k]):
            found = k
        else:
            break
    return found
