"""Report restrictions, selectable per check and per audit: which reports the
agents may send.

* ``one_hot``: every agent reports the indicator of its own item, items distinct (the
  single-winner / segment shape: an ad identity per agent; the ``win`` value model's domain);
* ``top_k:K``: every report puts all its mass on at most ``K`` tokens (top-k truncation).

:func:`parse` validates a restriction; :func:`restricted_instances` draws hypothesis
instances (for ``check``); :func:`restrict` maps an audit instance onto the restriction.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mechanism.errors import InvalidInput

from properties.strategies import Instance, bid_profiles, distributions

KINDS = ("one_hot", "top_k:K")


def parse(kind: str | None) -> tuple[str, int] | None:
    """``None`` | ``("one_hot", 1)`` | ``("top_k", K)``; InvalidInput for anything else."""
    if kind in (None, "", "any"):
        return None
    if kind == "one_hot":
        return ("one_hot", 1)
    if isinstance(kind, str) and kind.startswith("top_k:"):
        try:
            k = int(kind.split(":", 1)[1])
        except ValueError:
            k = 0
        if k >= 1:
            return ("top_k", k)
    raise InvalidInput(f"unknown report restriction {kind!r}; use one_hot or top_k:K (K >= 1)",
                       value=kind)


@st.composite
def restricted_instances(draw, kind: str, *, n=(2, 4), V=(2, 5)):
    """Instances whose reports obey ``kind``; the others' total bid is positive."""
    kk, k = parse(kind)
    nn = draw(st.integers(*n)) if not isinstance(n, int) else n
    VV = V if isinstance(V, int) else draw(st.integers(*V))
    if kk == "one_hot":
        VV = max(VV, nn) if not isinstance(V, int) else VV
        if VV < nn:
            nn = VV
        items = draw(st.permutations(range(VV)))[:nn]
        P = np.zeros((nn, VV))
        P[np.arange(nn), items] = 1.0
    else:
        rows = []
        for _ in range(nn):
            p = draw(distributions(VV, edge=False))
            keep = np.argsort(-p, kind="stable")[:k]
            q = np.zeros(VV)
            q[keep] = p[keep]
            rows.append(q / q.sum())
        P = np.stack(rows)
    b = draw(bid_profiles(nn, huge=False))
    agent = draw(st.integers(0, nn - 1))
    if np.delete(b, agent).sum() <= 0:
        b[(agent + 1) % nn] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return Instance(P, b, agent)


def restrict(kind: str | None, dists) -> list | None:
    """An audit instance's reports mapped onto ``kind``: one-hot on each row's top token
    (None when two rows would share an item, or V < n), or truncated to its top K."""
    parsed = parse(kind)
    P = np.asarray(dists, dtype=np.float64)
    if parsed is None:
        return P.tolist()
    kk, k = parsed
    if kk == "one_hot":
        n, V = P.shape
        if V < n:
            return None
        out = np.zeros_like(P)
        out[np.arange(n), np.arange(n)] = 1.0
        order = np.argsort(-P[0], kind="stable")  # a deterministic, instance-dependent shuffle
        return out[:, order].tolist()
    out = np.zeros_like(P)
    for r, p in enumerate(P):
        keep = np.argsort(-p, kind="stable")[:k]
        out[r, keep] = p[keep]
        out[r] /= out[r].sum()
    return out.tolist()
