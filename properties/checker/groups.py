"""A group of (property, order) keys searched together on one stream of examples.

``search(inst)`` returns ``{key: counterexample}`` for the violations it sees;
``verify(key, cex)`` re-runs one counterexample on the numpy reference (the refreshed
dict, or None when the violation is gone); ``repro(key, cex)`` gives the lines of a
paste-able reproduction after the target's import lines (names ``rule``/``payment``,
``np``, ``prefers``...). Counterexample dicts hold numpy arrays while searching.
"""

from __future__ import annotations

import numpy as np

from mechanism.bids import with_bid  # noqa: F401 - re-exported for the groups

from properties.checker.shrink import fmt

Key = tuple  # (property id, order or None)


def cex(P, b, agent=None, bid_from=None, bid_to=None, **extra) -> dict:
    d = {"dists": np.array(P, dtype=np.float64), "bids": np.array(b, dtype=np.float64),
         "agent": None if agent is None else int(agent),
         "bid_from": None if bid_from is None else float(bid_from),
         "bid_to": None if bid_to is None else float(bid_to)}
    d.update(extra)
    return d


class Group:
    keys: list[Key] = []
    examples_factor: float = 1.0   #: share of max_examples this group uses

    def __init__(self, target, keys):
        self.t = target
        self.keys = list(keys)
        self.begin()

    def begin(self) -> None:
        """Called before each example: ``skipped`` (key -> why the property does not apply
        to this instance) and ``undefined`` (keys the target declined here) start empty."""
        self.skipped: dict = {}
        self.undefined: set = set()

    def strategy(self):  # pragma: no cover - interface
        raise NotImplementedError

    def search(self, inst) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def verify(self, key, c: dict) -> dict | None:  # pragma: no cover - interface
        raise NotImplementedError

    def repro(self, key, c: dict) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, key, c: dict) -> str:
        return ""

    # helpers for reproductions
    @staticmethod
    def data_lines(c: dict) -> list[str]:
        lines = [f"dists = np.array({fmt(c['dists'])})", f"bids = np.array({fmt(c['bids'])})"]
        if c.get("agent") is not None:
            lines.append(f"agent = {c['agent']}")
        return lines
