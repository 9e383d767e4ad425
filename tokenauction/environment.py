"""What this installation has: the optional engines, and the packages of this distribution.

Standard library only (the dispatcher and the pytest plugin call it before anything heavy is
imported). Two questions, each answered in one line a user can act on:

* a module an extra brings is missing -> which ``pip install 'tokenauction[...]'`` brings it
  (:func:`missing_line`);
* ``mechanism``, ``proofs`` or ``properties`` resolve to a file outside this distribution (a
  package of the same name on the index, a ``mechanism.py`` in the working folder, a stale
  ``PYTHONPATH``) -> where it resolves and how to fix it (:func:`shadowed`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: top-level module -> the extra of pyproject.toml that installs it
EXTRA_OF = {
    "z3": "proofs", "sympy": "proofs",
    "torch": "llm", "transformers": "llm", "gguf": "llm", "accelerate": "llm",
    "matplotlib": "llm",
    "dask": "scale", "distributed": "scale",
    "pytest": "test", "xdist": "test",
}
#: modules every install has (pyproject.toml ``dependencies``); missing one means a broken install
CORE = ("numpy", "hypothesis", "scipy")
#: the library packages shipped next to ``tokenauction`` in this distribution
OUR_PACKAGES = ("mechanism", "proofs", "properties")


def install_hint(module: str) -> str:
    """The pip command that brings ``module`` (its top-level name)."""
    top = module.split(".")[0]
    if top in EXTRA_OF:
        return f"pip install 'tokenauction[{EXTRA_OF[top]}]'"
    if top in CORE or top in OUR_PACKAGES:
        return "pip install --force-reinstall tokenauction (a core part is missing)"
    return f"pip install {top}"


def missing_line(what: str, exc: ImportError) -> str:
    """One line: ``what`` needs the module ``exc`` could not import, and the fix."""
    name = getattr(exc, "name", None) or str(exc)
    return f"{what} needs {name.split('.')[0]}, which is not installed: {install_hint(name)}"


def home() -> Path:
    """The folder that holds this distribution's packages (``tokenauction``, ``mechanism``,
    ``proofs``, ``properties``)."""
    return Path(__file__).resolve().parent.parent


def _owner(name: str) -> str | None:
    from importlib import metadata
    try:
        dists = metadata.packages_distributions().get(name) or []
    except Exception:  # a broken metadata folder elsewhere must not stop the diagnosis
        return None
    others = [d for d in dists if d.lower() != "tokenauction"]
    return others[0] if others else None


def shadowed(names=OUR_PACKAGES) -> list[str]:
    """One line per package of ``names`` that resolves outside this distribution's folder
    (:func:`home`, where ``tokenauction`` itself lives); [] when all are ours. Finding a
    module's spec does not run it."""
    root, out = home(), []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError) as exc:
            out.append(f"'{name}' cannot be located ({exc}); reinstall: "
                       "pip install --force-reinstall tokenauction")
            continue
        if spec is None:
            out.append(f"'{name}' is missing from this installation; reinstall: "
                       "pip install --force-reinstall tokenauction")
            continue
        if spec.origin in (None, "namespace"):
            continue  # a folder without __init__.py never wins over a regular package
        where = Path(spec.origin).resolve()
        found = where.parent.parent if where.name == "__init__.py" else where.parent
        if found != root:
            owner = _owner(name)
            fix = (f"pip uninstall {owner}" if owner else
                   f"rename or remove {where if where.name != '__init__.py' else where.parent}"
                   " or take its folder off PYTHONPATH / run from another folder")
            out.append(f"'{name}' resolves to {where}, not to tokenauction's own package in "
                       f"{root}: another '{name}' shadows it; fix: {fix}")
    return out
