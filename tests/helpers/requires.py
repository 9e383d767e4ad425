"""Module-level skips for optional dependencies, found without importing them.

``pytest.importorskip("sympy")`` at the top of a test module imports sympy while the module
is collected, in every pytest-xdist worker, whether or not that worker runs one of its
tests. :func:`require` only looks the modules up (``importlib.util.find_spec``), so a test
module that needs them pays their import in the tests that use them.
"""

from __future__ import annotations

import importlib.util

import pytest


def require(*modules: str) -> None:
    """Skip the calling test module when one of ``modules`` (top-level names) is not
    installed, with importorskip's reason; import none of them."""
    __tracebackhide__ = True  # the skip is reported at the calling module's line
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"could not import {name!r}: No module named {name!r}",
                        allow_module_level=True)
