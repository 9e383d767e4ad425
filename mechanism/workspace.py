"""Scratch arrays reused across calls for a step's large temporaries.

A fresh array of a few hundred kilobytes is, depending on the allocator's state, mapped
anew by the operating system and faults in page by page on every call (hundreds of
faults, more than the arithmetic itself at V = 49152). :func:`scratch` hands out one
float64 array per name and thread, kept between calls: its contents are garbage on
return, the next call under the same name overwrites it, and it must never leave the
function that asked for it (copy what is returned).
"""

from __future__ import annotations

import threading

import numpy as np

_LOCAL = threading.local()


def scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of ``shape``, private to this thread and to ``name`` (one name per
    call site; a caller must not hold two under one name)."""
    store = getattr(_LOCAL, "arrays", None)
    if store is None:
        store = _LOCAL.arrays = {}
    arr = store.get(name)
    if arr is None or arr.shape != shape:
        arr = store[name] = np.empty(shape)
    return arr

