"""Whether a ``check`` target replaced our own code while it loaded (docs/theory.md section 8).

The checker proves a compiled rule as data: the trees (or a family's declaration) come
from the cage's worker, and the checker rebuilds the rule from them and runs its own, clean
copy. A target module that replaces a function of ours in its own process
(``proofs.compile.evaluate.normalized_weights = reversed_weights``) would have its rebuilt
copy proved while the code that runs in the user's process, the patched one, is another.
So the worker records, before the target is imported, every attribute of the modules the
evaluation runs through (:data:`WATCHED_PACKAGES`, :data:`WATCHED_MODULES`: ``mechanism``,
``proofs.compile``, the family constructors, numpy's and math's namespaces), the attributes
of the classes and objects they hold and the functions in their tables (dicts); after
loading and compiling it compares. A difference is reported by name and the
target gets no proof (it is sampled in the worker, where its patches are live). This is a
check of what a target does to the code it shares a process with, not a wall: a target
written to defeat it there (replacing this module's own functions) is not caught, and its
forged data still meets the parent's strict reading (:mod:`proofs.compile.serial`).
"""

from __future__ import annotations

import importlib
import pkgutil
import types

#: The packages (every submodule) and modules whose attributes a target must leave alone.
WATCHED_PACKAGES = ("mechanism", "proofs.compile")
WATCHED_MODULES = ("proofs.unbounded.families", "numpy", "numpy.linalg", "math")


def _modules() -> list[str]:
    names = list(WATCHED_MODULES)
    for pkg in WATCHED_PACKAGES:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        names += [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)]
    return names


def _entries(obj) -> dict:
    try:
        return dict(vars(obj))
    except TypeError:       # no __dict__ (a numpy ufunc, a builtin)
        return {}


def snapshot() -> dict:
    """``{(module, attribute[, member]): id}`` of the watched modules (imported here), their
    attributes, and the members of the classes and plain objects among them."""
    out: dict = {}
    for name in _modules():
        try:
            mod = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module (sympy, z3 missing): not run
            continue
        for attr, value in _entries(mod).items():
            if isinstance(value, types.ModuleType):  # a submodule imported later: not code
                continue
            out[(name, attr)] = id(value)
            if isinstance(value, type) and value.__module__ == name or \
                    type(value).__module__.startswith(WATCHED_PACKAGES):
                for member, v in _entries(value).items():
                    out[(name, attr, member)] = id(v)
            elif type(value) is dict:   # a table of functions (evaluate._NP); not a cache's
                for key, v in list(value.items()):    # entries (they are data, not code)
                    if callable(v):
                        out[(name, attr, repr(key))] = id(v)
    return out


def changed(before: dict) -> list[str]:
    """The watched names whose value differs from ``before`` (replaced, added to a class,
    or removed), dotted, sorted."""
    now = snapshot()
    keys = {k for k in set(before) | set(now) if before.get(k) != now.get(k)}
    # a module first imported after the snapshot holds only new keys: not a replacement
    seen = {k[0] for k in before}
    return sorted(".".join(k) for k in keys if k[0] in seen)


def described(names: list[str]) -> str:
    """The reason a tampering target gets no proof."""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    return (f"the target replaced tokenauction's or numpy's own code while it loaded "
            f"({shown}): a proof of its compiled copy would not be of the code that runs "
            "in its process; it is sampled there instead")

