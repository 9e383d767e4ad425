"""A compiled family rule as JSON data (the cage's worker sends it; theory §8).

The worker sends only a sealed :class:`proofs.compile.rule.FamilyRule`
(:func:`proofs.compile.rule.sealed`): its kind, pooling, name, compiled weight tree(s) in
the closed vocabulary (rows of :mod:`proofs.compile.serial`), bound parameters and declared
domains as exact rationals, reference, lambda and epsilon. :func:`from_worker` rebuilds the
same rule strictly, never calling user code: an unknown or missing field, a wrong type, a
non-finite number, a leaf that cannot occur in a weight tree (a report, a parameter without
a declared domain, a bid of an agent that does not exist) is :class:`MalformedFamily`.
"""

from __future__ import annotations

import math

from proofs.compile import tree as T
from proofs.compile.domains import Domain
from proofs.compile.rule import EAGER_AGENTS, KINDS, POOLINGS, FamilyRule
from proofs.compile.serial import MalformedTree, exact_text, rational, read_rows, to_data

FIELDS = ("kind", "name", "pooling", "rows", "tree", "general", "params", "domains",
          "reference", "weight", "epsilon")
MAX_GENERAL_AGENTS = 8   #: general weights are sent compiled for n = 1..8


class MalformedFamily(MalformedTree):
    """Data that is not a compiled family rule."""


def _bad(why: str):
    raise MalformedFamily(f"the family rule sent by the worker is malformed: {why}", value=why)


def _floats(xs) -> list[float] | None:
    return None if xs is None else [float(x) for x in xs]


def worker_data(rule: FamilyRule) -> dict:
    """What the worker sends for a sealed family rule (module docstring)."""
    if rule.kind == "normalized":
        roots = [rule.tree]
    elif rule.kind == "general":
        roots = [t for n in range(1, MAX_GENERAL_AGENTS + 1) for t in rule.general_trees(n)]
    else:
        roots = []
    data = to_data({(0, len(roots), False): tuple(roots)})
    ids = data["sizes"][0][3]
    general = None
    if rule.kind == "general":
        general = [ids[n * (n - 1) // 2:n * (n + 1) // 2] for n in range(1, MAX_GENERAL_AGENTS + 1)]
    return {"kind": rule.kind, "name": str(rule.name)[:200], "pooling": rule.pooling,
            "rows": data["rows"], "tree": ids[0] if rule.kind == "normalized" else None,
            "general": general, "params": {k: exact_text(v) for k, v in rule.values.items()},
            "domains": {k: [None if d.lo is None else exact_text(d.lo),
                            None if d.hi is None else exact_text(d.hi), d.lo_open, d.hi_open]
                        for k, d in rule.domains.items()},
            "reference": _floats(rule.reference), "weight": float(rule.weight),
            "epsilon": float(rule.epsilon)}


def _finite(x, what: str) -> float:
    if type(x) not in (int, float) or not math.isfinite(x):
        _bad(f"{what} = {str(x)[:40]} is not a finite number")
    return float(x)


def _choice(x, allowed, what: str) -> str:
    if type(x) is not str or x not in allowed:
        _bad(f"{what} {str(x)[:40]!r} is not one of {', '.join(allowed)}")
    return x


def _domain(name: str, spec) -> Domain:
    if type(spec) is not list or len(spec) != 4 or type(spec[2]) is not bool \
            or type(spec[3]) is not bool:
        _bad(f"domain of {name!r}: expected [lo, hi, lo_open, hi_open]")
    lo, hi = (None if e is None else rational(e) for e in spec[:2])
    if lo is not None and hi is not None and lo > hi:
        _bad(f"domain of {name!r} is empty")
    return Domain(lo, hi, spec[2], spec[3])


def _names(d, what: str) -> dict:
    if type(d) is not dict or not all(type(k) is str and k.isidentifier() for k in d):
        _bad(f"{what}: expected an object keyed by parameter names")
    return d


def _exponent(e: T.Node, symbolic) -> bool:
    """A power's exponent a family may hold: no bid, and (as everywhere in its weights,
    :func:`_tree`) only constants and the declared symbolic parameters as leaves
    (``fn.pow(b, beta)``: the compiler's own form)."""
    return all(m.op not in ("bid", "report", "ref", "lam")
               and (m.op != "param" or m.args[0] in symbolic) for m in T.walk(e))


def _tree(nodes, i, n_agents: int, symbolic) -> T.Node:
    """Node ``i``, checked: only constants, bids of the n agents, symbolic parameters
    with a declared domain, and powers whose exponent holds no bid."""
    if type(i) is not int or not 0 <= i < len(nodes):
        _bad(f"tree index {str(i)[:20]} names no row")
    for m in T.walk(nodes[i]):
        a = m.args
        if m.op in ("report", "ref", "lam") or (m.op == "bid" and a[0] >= n_agents) \
                or (m.op == "param" and a[0] not in symbolic) \
                or (m.op == "pow" and not _exponent(a[1], symbolic)):
            _bad(f"the leaf {T.show(m)[:40]} cannot occur in this family's weights")
    return nodes[i]


def _compiled(data, kind: str, symbolic) -> tuple:
    nodes = read_rows(data["rows"])
    tree, general = None, {}
    if kind == "normalized":
        tree = _tree(nodes, data["tree"], 1, symbolic)
    elif data["tree"] is not None:
        _bad(f"a {kind} rule has no single weight tree")
    if kind == "general":
        g = data["general"]
        if type(g) is not list or len(g) < EAGER_AGENTS:
            _bad(f"general weights need their trees for n = 1..{EAGER_AGENTS} at least")
        for n, ids in enumerate(g, start=1):
            if type(ids) is not list or len(ids) != n:
                _bad(f"general weights for n = {n}: expected {n} trees")
            general[n] = tuple(_tree(nodes, i, n, ()) for i in ids)
    elif data["general"] is not None:
        _bad(f"a {kind} rule has no general weight trees")
    return tree, general


def from_worker(data) -> FamilyRule:
    """The :class:`FamilyRule` of :func:`worker_data`, rebuilt and checked (module
    docstring); its weight function is never called (a size not sent is refused)."""
    if type(data) is not dict or set(data) != set(FIELDS):
        extra = sorted(set(data) ^ set(FIELDS)) if type(data) is dict else data
        _bad(f"expected exactly the fields {', '.join(FIELDS)} (differs in {str(extra)[:80]})")
    kind = _choice(data["kind"], KINDS, "kind")
    pooling = _choice(data["pooling"], POOLINGS, "pooling")
    if type(data["name"]) is not str or not data["name"] or len(data["name"]) > 200:
        _bad("name")
    params = {k: rational(v) for k, v in _names(data["params"], "params").items()}
    domains = {k: _domain(k, v) for k, v in _names(data["domains"], "domains").items()}
    if not set(domains) <= set(params):
        _bad(f"domain(s) for {', '.join(sorted(set(domains) - set(params)))}, not parameters")
    ref = data["reference"]
    if ref is not None and (type(ref) is not list or not ref):
        _bad("reference: expected a list of probabilities or null")
    ref = None if ref is None else [_finite(x, "a reference probability") for x in ref]
    tree, general = _compiled(data, kind, set(domains))
    runtime = None if tree is None else T.substitute(tree, params)
    return FamilyRule(data["name"], kind, _not_called if kind != "wta" else None, params,
                      pooling, reference=ref, weight=_finite(data["weight"], "weight"),
                      epsilon=_finite(data["epsilon"], "epsilon"), domains=domains,
                      symbolic_params=bool(domains), compiled=(tree, runtime, general))


def _not_called(*args, **kwargs):
    """The rebuilt rule's weight function: its trees were sent compiled, so it is never
    captured again; asked for a size that was not sent, it refuses."""
    raise MalformedFamily("this family rule was rebuilt from its compiled trees; general "
                          f"weights were sent for n = 1..{MAX_GENERAL_AGENTS} agents only",
                          value=len(args))
