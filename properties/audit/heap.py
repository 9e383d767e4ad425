"""The audit process keeps its freed heap for the next slice of steps (glibc only).

The chunk filter (:mod:`properties.audit.chunked`) allocates the same few megabytes of
numpy temporaries for every slice of a chunk and frees them after it. With glibc's
default, adaptive settings the freed top of the heap goes back to the operating system
after a slice whenever it exceeds the trim threshold, and the next slice faults the same
pages in again: on ``benchmarks/audit.py --steps 2000`` about 47,000 minor page faults
(190 MB touched anew) and a fifth of the first audit's CPU time in a fresh process.
:func:`keep_heap` fixes the thresholds instead: allocations below ``MMAP_BYTES`` come from
the heap, and up to ``TRIM_BYTES`` of freed heap are kept for reuse. The peak memory is
the same (the audit's working set is bounded by the chunk sizes); only the return of
freed pages to the system is deferred. It is process-wide, so only the audit's own
entry points call it (``tokenauction audit`` of one run, ``benchmarks/audit.py``),
never ``audit_run`` inside someone else's process. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import functools

#: glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_BYTES = 1 << 25
TRIM_BYTES = 1 << 28


@functools.cache
def keep_heap() -> bool:
    """Set glibc's trim and mmap thresholds once per process (see the module doc); True
    if they are set (now or before), False where there is no glibc ``mallopt``."""
    try:
        libc = ctypes.CDLL(None)  # the process's own C library: no ldconfig lookup
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc only (musl has mallopt too)
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                        TRIM_BYTES))
