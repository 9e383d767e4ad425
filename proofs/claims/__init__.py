"""Every module here registers claims with :func:`proofs.registry.claim`; the theorem table
(``tokenauction prove``) is the union of their claims. Modules are discovered, not listed:
:func:`load_all` imports every module of this package.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> list[str]:
    """Import every claim module (a module that fails to import is a packaging bug: it raises)."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    return names
