"""Fixtures of the proofs' tests: one clean Coq build per test session.

``coq_build`` compiles ``proofs/coq/`` from an empty cache folder once per ``pytest`` run:
the pytest-xdist workers of one run share the folder (the run's base temp directory) and a
file lock, so the first worker builds while the others wait and then reuse the result.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

import pytest


def session_root(tmp_path_factory) -> Path:
    """A folder every xdist worker of this run shares (and no other run)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def file_lock(path: Path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def coq_build(tmp_path_factory):
    """``(cache, first)``: the cache folder of this run's Coq build and the status of the
    build that filled it (``coq.check`` of every cited theorem from an empty folder; a dict
    of :class:`proofs.mechanized.coq.CoqStatus`). Needs ``coqc``."""
    from proofs.mechanized import coq, theorems
    root = session_root(tmp_path_factory)
    cache, record = root / "coq-cache", root / "coq-first-build.json"
    with file_lock(root / "coq-build.lock"):
        if not record.exists():
            old = os.environ.get("TOKENAUCTION_CACHE")
            os.environ["TOKENAUCTION_CACHE"] = str(cache)
            try:
                st = coq.check(theorems.all_theorems())
            finally:
                if old is None:
                    os.environ.pop("TOKENAUCTION_CACHE")
                else:
                    os.environ["TOKENAUCTION_CACHE"] = old
            record.write_text(json.dumps(asdict(st)))
        first = json.loads(record.read_text())
    return cache, first


@pytest.fixture
def raw_float_code(monkeypatch):
    """The compiled rules' raw float64 code: the enclosure (proofs/compile/enclosure.py)
    certifies every row, so nothing is replaced by the exact tree (the planted bug of the
    enclosure's tests; the float search's own tests need code that parts from its tree)."""
    from proofs.compile import enclosure
    monkeypatch.setattr(enclosure, "certified",
                        lambda trees, x, *a, **k: np.ones(np.shape(x)[:-1], dtype=bool))
    monkeypatch.setattr(enclosure, "log_entry_bounds",   # every weight exactly as computed
                        lambda n, x, value, elementwise=True:
                        (value, value, np.ones(np.shape(value), dtype=bool)))
