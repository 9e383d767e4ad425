"""The worker side of :mod:`properties.cage`: load the user's object, then serve calls.

Runs as ``python -m properties.cage_worker FD MEMORY_MB`` under a memory limit and the
system-call filter of :mod:`properties.confine` (installed before the user's module is
imported), with stdout and stderr sent to a file by the auditor.
Messages from the auditor are pickles (the auditor is trusted); replies are pickles of
plain data only (tuples, strings, numbers, float64 arrays), which the auditor reads with an
allow-list. Replies: ``("ready", description)``, ``("load_error", message)``,
``("ok", value)``, ``("undefined", message)``, ``("fail", kind, exception name, message)``.
"""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np


def _limit_memory(mb: int) -> None:
    try:
        import resource
        limit = int(mb) << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform: the timeout still holds
        pass


def _plain(x):
    """JSON-like data only (claims may hold anything; what is not data becomes its repr)."""
    return json.loads(json.dumps(x, default=repr))


def _literals(obj) -> list[float]:
    from properties.checker.determinism import source_numbers
    return source_numbers(obj)[:256]


def _methods(obj) -> tuple[dict, dict]:
    """``(methods, description)`` of the loaded mechanism, read once
    (:func:`properties.protocol.read_mechanism`: the same reading as in the auditor)."""
    from properties.protocol import read_mechanism
    u = read_mechanism(obj)
    methods = {k: f for k, f in (("aggregate", u.aggregate), ("payments", u.payments),
                                 ("sample", u.sample)) if f is not None}
    meta = {"name": u.name, "reserve": float(u.reserve), "claims": _plain(u.claims),
            "uniforms": u.uniforms, "context": u.context, "payments": u.payments is not None,
            "sample": u.sample is not None, "literals": _literals(obj)}
    return methods, meta


def _load(spec, kwargs: dict, paths) -> tuple[dict, dict]:
    """``(methods, description)`` of what ``spec`` names: ``("check", TARGET, KIND, RULE)``
    a ``check`` target, else a mechanism (``--mechanism``)."""
    from properties.loading import add_search_path, load_mechanism
    add_search_path(paths)
    if isinstance(spec, tuple) and spec[:1] == ("check",):
        return _check_target(*spec[1:])
    return _methods(load_mechanism(spec, kwargs))


def _check_target(target: str, kind, judge_spec) -> tuple[dict, dict]:
    """``(methods, description)`` of a ``check`` target: ``aggregate(P, b)`` for a rule,
    ``pay(P, b)`` for a payment rule (judged under ``judge_spec``, loaded here too: the
    payment rule is handed this process's copy of it)."""
    from mechanism import rules as R
    from properties import tamper
    from properties.loading import load_object
    from properties.protocol import read_target
    before = tamper.snapshot()
    u = read_target(load_object(target), kind)
    obj, methods = u.obj, {}
    if u.kind == "rule":
        methods["aggregate"] = obj.evaluate if isinstance(obj, R.Rule) else u.call
    else:
        j = read_target(load_object(judge_spec or "linear"), "rule")
        judge = j.obj
        if not isinstance(judge, R.Rule):
            fn = j.call
            judge = R.Rule(j.name, None, numpy_fn=lambda P, b, ref, lam: fn(P.copy(), b.copy()))
        methods["pay"] = lambda P, b: u.call(judge, P, b)
    meta = {"kind": u.kind, "name": u.name, "claims": _plain(u.claims)}
    if u.kind == "rule":
        meta.update(_compiled(obj))
        replaced = tamper.changed(before)
        refused = tamper.described(replaced) if replaced else u.compile_error  # or planted
        if refused:   # its compiled copy is not what runs in its process: no proof
            meta.pop("compiled", None)
            meta.pop("family", None)
            meta["compile_error"] = refused
    # a compiled rule runs in the parent, which reads its trees' constants: no literals
    # here (and no hypothesis import in this worker)
    meta["literals"] = [] if runs_in_parent(meta) else _literals(obj)
    return methods, meta


def runs_in_parent(meta: dict) -> bool:
    """Whether a ``check`` target's description carries a compiled rule (its trees or a
    family's declaration, as data): the parent rebuilds it and runs it itself, so the worker
    serves no call of it. The one test both sides apply to the description."""
    return meta.get("kind") == "rule" and (meta.get("compiled") is not None
                                           or meta.get("family") is not None)


def _compiled(rule) -> dict:
    """A generic rule's trees as data (the parent proves them and runs their generated
    code), or why it cannot be compiled (then it is sampled here, and gets no proof)."""
    family = _family(rule)
    if family is not None:
        return family
    from mechanism.rules import Rule
    generic = rule.generic if isinstance(rule, Rule) else None
    if generic is None or type(rule).__module__ not in ("proofs.compile.generic_rule",
                                                        "mechanism.rules"):
        return {}
    from proofs.compile.capture import DeclarationError
    from proofs.compile.serial import worker_data
    try:
        if type(rule).__module__ == "mechanism.rules":
            if rule._numpy_fn is not None or rule._batch_fn is not None:
                return {}   # a rule with numpy code of its own (a built-in): it runs here
            from proofs.compile.generic_rule import GenericRule   # it evaluates its generic
            rule = GenericRule(rule.name, generic, reference=rule.reference,
                               weight=rule.weight, epsilon=rule.epsilon)
        return {"compiled": worker_data(rule)}
    except DeclarationError as exc:
        return {"compile_error": str(exc)[:1000]}


def _family(rule) -> dict | None:
    """A family rule's declaration as data when it is sealed (exactly a compiled
    FamilyRule: the parent rebuilds and proves it), else why it gets no proof (it is then
    sampled here); None for any other object."""
    from proofs.compile.rule import FamilyRule, sealed
    if not isinstance(rule, FamilyRule):
        return None
    why = sealed(rule)
    if why is not None:
        return {"compile_error": f"the family rule is not sealed ({why})"}
    from proofs.compile.serial_family import worker_data
    return {"family": worker_data(rule)}


def _reply(conn, *msg) -> None:
    conn.send_bytes(pickle.dumps(msg, protocol=5))


def _data(method: str, out):
    if method == "sample":
        return int(np.asarray(out).item())
    arr = np.asarray(out)
    if np.iscomplexobj(arr):  # float64 would drop the imaginary part without a word
        raise TypeError("complex numbers are neither probabilities nor payments")
    return np.array(arr, dtype=np.float64)


def serve(conn, memory_mb: int) -> None:
    """The worker's main loop: the first message names what to load."""
    _limit_memory(memory_mb)
    spec, kwargs, paths = pickle.loads(conn.recv_bytes())
    from mechanism.errors import InvalidInput
    from properties.confine import confine
    unconfined = confine()  # before the user's module is imported: nothing is written after
    try:
        methods, meta = _load(spec, kwargs, paths)
        meta["unconfined"] = unconfined
    except BaseException as exc:  # noqa: BLE001 - anything while loading is the user's
        usage = isinstance(exc, (InvalidInput, TypeError, ImportError, SyntaxError))
        _reply(conn, "load_error", str(exc) if isinstance(exc, InvalidInput)
               else f"loading raised {type(exc).__name__}: {exc}", not usage)
        return
    _reply(conn, "ready", meta)
    while True:
        try:
            method, args, context = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if method == "aggregate_batch":  # K bid profiles in one request (a bid grid)
            P, bid_matrix = args
            replies = []
            for row in bid_matrix:
                replies.append(_one(methods, "aggregate", (P.copy(), row.copy()), context))
                if replies[-1][0] != "ok":
                    break
            if replies and replies[-1][0] != "ok":
                _reply(conn, *replies[-1])
            else:
                try:
                    grid = np.array([r[1] for r in replies], dtype=np.float64)
                except (TypeError, ValueError) as exc:  # rows of different lengths, junk
                    _reply(conn, "fail", "not_numeric", type(exc).__name__,
                           f"aggregate returned rows that are not one grid of numbers ({exc})")
                    continue
                _reply(conn, "ok", grid)
            continue
        _reply(conn, *_one(methods, method, args, context))


def _one(methods, method, args, context) -> tuple:
    """The reply to one call (never raises: whatever the user's code does is data)."""
    from mechanism.errors import InvalidInput
    fn = methods[method]
    try:
        out = fn(*args, context=context) if context is not None else fn(*args)
    except InvalidInput as exc:
        return ("undefined", str(exc))
    except BaseException as exc:  # noqa: BLE001 - SystemExit, MemoryError, ...: a finding
        return ("fail", "raised", type(exc).__name__, str(exc)[:1000])
    try:
        return ("ok", _data(method, out))
    except Exception as exc:  # noqa: BLE001 - not numbers
        return ("fail", "not_numeric", type(exc).__name__,
                f"{method} returned {type(out).__name__}, not numbers ({exc})"[:1000])


if __name__ == "__main__":
    from multiprocessing.connection import Connection
    serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
