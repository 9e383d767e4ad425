"""A correct rule that is slow to compile (tests/proofs/test_generic_compile.py and, as a
user's file, tests/properties/checker/test_cage_compiled.py)."""


def many_slow_splits(ops, dists, bids, reference=None, weight=0):
    """Plain linear aggregation with six case splits on high-degree conditions whose
    branches change nothing: each split's z3 feasibility query is slow."""
    ws = list(bids)
    for k in range(6):
        c = bids[0] ** (5 + k) * bids[-1] ** 3 - bids[-1] ** (4 + k) * bids[0] ** 2 + \
            bids[0] * (k + 1) - bids[-1] ** 7
        ws = [w * 1 for w in ws] if ops.is_positive(c) else [w + 0 for w in ws]
    tot = ws[0]
    for w in ws[1:]:
        tot = tot + w
    out = dists[0] * ws[0]
    for p, w in zip(dists[1:], ws[1:]):
        out = out + p * w
    return out / tot
