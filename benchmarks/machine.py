"""The machine the benchmark figures belong to: the CPU model as /proc/cpuinfo names it."""

from __future__ import annotations

import os


def cpu_model() -> str:
    """``"<model name> (<n> CPUs)"``, or ``"unknown"`` where /proc/cpuinfo is absent."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return "unknown"
