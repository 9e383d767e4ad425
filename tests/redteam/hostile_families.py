"""Hostile family declarations (theory §8), loaded by ``tokenauction check FILE:NAME``
in :mod:`tests.redteam.test_hostile_rules`."""

from proofs.unbounded.families import general, normalized

fam_scaled_bad = normalized(lambda b, fn: 1e-12 * b / (1 + b * b), name="fam_scaled_bad")
fam_scaled_good = normalized(lambda b, fn: 1e-12 * b, name="fam_scaled_good")
fam_thr = normalized(lambda b, fn: fn.ite(fn.gt(b, 0.3700000001), b / 100, b), name="fam_thr")
fam_collide = normalized(lambda b, fn, T, Node: 1 / (b + T) * Node,
                         params={"T": 2.0, "Node": 1.0}, name="fam_collide")


def _peek(b, fn):
    """b when captured, 1/(1+b) on numbers."""
    return b if "Capture" in type(fn).__name__ or "Sym" in type(fn).__name__ else 1 / (1 + b)


fam_peek = normalized(_peek, name="fam_peek")
fam_gen_bad = general(lambda bids, fn: [1 / (1 + b) for b in bids], name="fam_gen_bad")
