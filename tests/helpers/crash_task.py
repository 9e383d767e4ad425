"""A batch-audit task that kills its worker process the first time it meets a chosen run
(a marker file remembers that it did), to test that the run is retried elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

from properties.audit.cluster import audit_one


def crash_once(run: str, options: dict) -> dict:
    opts = dict(options)
    marker = Path(opts.pop("crash_marker"))
    if Path(run).name == opts.pop("crash_run") and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(13)  # the worker process dies mid-run, no cleanup, no reply
    return audit_one(run, opts)


def always_crash(run: str, options: dict) -> dict:
    """Kills every worker that runs it on the chosen run (after retries: lost)."""
    opts = dict(options)
    if Path(run).name == opts.pop("crash_run"):
        os._exit(13)
    opts.pop("crash_marker", None)
    return audit_one(run, opts)
