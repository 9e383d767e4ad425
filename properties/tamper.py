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

import functools
import importlib
import os
import pkgutil
import sys
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


def _watched():
    """``((module, attribute[, member]), value)`` over the watched modules (imported here),
    their attributes, and the members of the classes and plain objects among them."""
    for name in _modules():
        try:
            mod = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module (sympy, z3 missing): not run
            continue
        for attr, value in _entries(mod).items():
            if isinstance(value, types.ModuleType):  # a submodule imported later: not code
                continue
            yield (name, attr), value
            if isinstance(value, type) and value.__module__ == name or \
                    type(value).__module__.startswith(WATCHED_PACKAGES):
                for member, v in _entries(value).items():
                    yield (name, attr, member), v
            elif type(value) is dict:   # a table of functions (evaluate._NP); not a cache's
                for key, v in list(value.items()):    # entries (they are data, not code)
                    if callable(v):
                        yield (name, attr, repr(key)), v


def snapshot() -> dict:
    """``{(module, attribute[, member]): id}`` of the watched modules (imported here), their
    attributes, and the members of the classes and plain objects among them."""
    return {key: id(value) for key, value in _watched()}


def changed(before: dict) -> list[str]:
    """The watched names whose value differs from ``before`` (replaced, added to a class,
    or removed), dotted, sorted."""
    now = snapshot()
    keys = {k for k in set(before) | set(now) if before.get(k) != now.get(k)}
    # a module first imported after the snapshot holds only new keys: not a replacement
    seen = {k[0] for k in before}
    return sorted(".".join(k) for k in keys if k[0] in seen)


def described(names: list[str], loaded: bool = True) -> str:
    """The reason a tampering target gets no proof: it replaced our code while it loaded (the
    worker's :func:`changed`), or, ``loaded=False``, code from outside sits in our
    namespaces in the checker's own process (:func:`foreign`)."""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    what = ("the target replaced tokenauction's or numpy's own code while it loaded" if loaded
            else "code from outside tokenauction, numpy and the standard library replaced "
                 "some of their own in this process")
    return (f"{what} ({shown}): a proof of its compiled copy would not be of the code that "
            "runs in its process; it is sampled there instead")


@functools.lru_cache(maxsize=1)
def _roots() -> tuple[tuple[str, ...], str]:
    """The folders whose code the watched modules may hold: our four packages and numpy,
    and the standard library (sympy's and z3's code is not run by the evaluation)."""
    import sysconfig
    import numpy
    names = ("mechanism", "proofs", "properties", "tokenauction")
    dirs = [os.path.dirname(importlib.import_module(n).__file__) for n in names]
    dirs.append(os.path.dirname(numpy.__file__))
    return (tuple(os.path.realpath(d) + os.sep for d in dirs),
            os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep)


def _ours(path: str) -> bool:
    """Whether a code file is ours, numpy's or the standard library's; a package installed
    beside the standard library (its ``site-packages`` or ``dist-packages``, where a
    system Python keeps them) is not."""
    packages, stdlib = _roots()
    real = os.path.realpath(path)
    if real.startswith(packages):
        return True
    rest = real[len(stdlib):].split(os.sep) if real.startswith(stdlib) else None
    return rest is not None and not {"site-packages", "dist-packages"} & set(rest)


#: built-in code: C functions and the slots of built-in types
_BUILTIN = (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodWrapperType,
            types.MethodDescriptorType, types.ClassMethodDescriptorType)


def _source_file(value, depth: int = 0) -> str | None:
    """The file defining ``value``'s code, where it has one: a function's code, a class's
    module, the callable a wrapper holds (``functools.partial``, a bound method,
    ``numpy.vectorize``, ``functools.wraps``), the class of a callable instance; None for
    built-in code (a C function, a numpy ufunc, a module's data)."""
    if depth > 4:
        return None
    if isinstance(value, types.FunctionType):
        path = value.__code__.co_filename
        if path.startswith("<"):   # exec'd: the module whose globals it runs in
            mod = sys.modules.get(value.__globals__.get("__name__") or "")
            return getattr(mod, "__file__", None) or path
        return path
    if isinstance(value, _BUILTIN):
        return None
    import numpy
    inner = value.__func__ if isinstance(value, types.MethodType) else \
        value.func if isinstance(value, functools.partial) else \
        value.pyfunc if isinstance(value, numpy.vectorize) else None
    if inner is None and not isinstance(value, type):
        wrapped = _entries(value).get("__wrapped__")   # functools.wraps: data, not a lookup
        inner = wrapped if callable(wrapped) else None
    if inner is not None and inner is not value:
        found = _source_file(inner, depth + 1)
        if found is not None:
            return found
    cls = value if isinstance(value, type) else type(value)
    mod = sys.modules.get(getattr(cls, "__module__", None) or "")
    return getattr(mod, "__file__", None)


def foreign() -> list[str]:
    """The watched names (dotted, sorted) whose value is code defined outside our packages,
    numpy and the standard library, or a numpy ufunc made from Python code
    (``numpy.frompyfunc``): what a target imported in the checker's own process planted
    there BEFORE the checker saw it (:func:`changed` needs a snapshot from before the
    target loaded, which only the cage's worker has). Code compiled from a string (a
    dataclass's generated methods) counts as its module's. A target that swaps one of our
    functions for another of ours is not caught here."""
    import numpy
    inside: dict = {}
    out = []
    from mechanism.rules import BUILT_IN_RULES
    for key, value in _watched():
        if key[1] == "RULES" and len(key) == 3 and key[2] not in BUILT_IN_RULES:
            continue   # a rule registered under a new name (register_rule) replaces nothing
        if isinstance(value, numpy.ufunc):
            if "(vectorized)" in value.__name__:
                out.append(".".join(key))
            continue
        if not callable(value):
            continue
        path = _source_file(value)
        if path is None:
            continue
        if path not in inside:
            inside[path] = _ours(path)
        if not inside[path]:
            out.append(".".join(key))
    return sorted(out)
