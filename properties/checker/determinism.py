"""Same seed, same report: hypothesis generation that does not depend on what is imported.

Hypothesis (6.131 and later) mixes into its draws the literal constants of every
"local" module in ``sys.modules`` (any module outside site-packages and the standard
library). A ``check`` with a fixed seed therefore drew different instances depending on
which other modules the process had imported: ``tokenauction check`` and the test suite
disagreed on the same target and seed. :func:`pinned_constants` fixes the pool for the
duration of a run to the constants of the modules that define the target itself, which
keeps what the feature is for (a user rule that branches at ``bid > 1.001`` gets
``1.001`` drawn) and makes the draws a function of the target and the seed alone.

This reaches into hypothesis internals (``providers._get_local_constants``); when they
are absent (an older or newer hypothesis) nothing is patched, and
``tests/properties/test_properties_api.py`` tells whether reports still agree across imports.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from types import ModuleType

from mechanism.rules import Rule

try:  # hypothesis internals; see the module docstring
    from hypothesis.internal.conjecture import providers as _providers
    from hypothesis.internal.constants_ast import constants_from_module as _from_module
    from sortedcontainers import SortedSet as _SortedSet
    _PINNABLE = hasattr(_providers, "_get_local_constants") and hasattr(_providers,
                                                                         "CONSTANTS_CACHE")
except ImportError:  # pragma: no cover - depends on the installed hypothesis
    _PINNABLE = False


def _modules(objects) -> list[ModuleType]:
    """The modules that define ``objects`` (a Rule's generic function, a callable's
    ``__module__``), without repeats, in a fixed order."""
    seen: dict[str, ModuleType] = {}
    for obj in objects:
        for part in (obj, obj.generic) if isinstance(obj, Rule) else (obj,):
            mod = inspect.getmodule(part) if part is not None else None
            if mod is not None and getattr(mod, "__file__", None):
                seen.setdefault(mod.__name__, mod)
    return [seen[k] for k in sorted(seen)]


def constants_of(objects):
    """The hypothesis constant pool of the modules defining ``objects`` (sorted sets)."""
    from hypothesis.internal.conjecture.floats import float_to_int
    pool = _providers.Constants(integers=_SortedSet(), floats=_SortedSet(key=float_to_int),
                                bytes=_SortedSet(), strings=_SortedSet())
    for mod in _modules(objects):
        pool = pool | _from_module(mod)
    return pool


def source_numbers(*objects) -> list[float]:
    """The numbers of the source of the modules defining ``objects`` (None entries are
    skipped), a compiled rule's tree constants first; [] without hypothesis's internals.
    The one reading of a target's literals (:attr:`properties.target.Target.path_literals`;
    the cage's worker sends them)."""
    try:
        pool = constants_of([o for o in objects if o is not None])
        vals = sorted({float(x) for x in pool.floats} | {float(x) for x in pool.integers})
    except Exception:  # noqa: BLE001 - hypothesis internals absent: no literals
        vals = []
    compiled = ("proofs.compile.rule", "proofs.compile.generic_rule")
    tree = [float(v) for o in objects if type(o).__module__ in compiled for v in o.constants()]
    return tree + vals


@contextmanager
def pinned_constants(*objects):
    """Run hypothesis with the constant pool of ``objects``' modules only (see above)."""
    if not _PINNABLE:
        yield
        return
    pool = constants_of(objects)
    original = _providers._get_local_constants
    _providers._get_local_constants = lambda: pool
    _providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        _providers._get_local_constants = original
        _providers.CONSTANTS_CACHE.cache.clear()
