"""Run many auctions in lockstep over one batched provider.

Each run is an ordinary :meth:`mechanism.TokenAuction.run` (its own bids, seed and
transcript; docs/theory.md section 1) in its own thread. Its provider is a :class:`RunView`
that hands the run's prefix to a shared :class:`Lockstep`; when every live run has asked,
ONE call of ``batch_step({run: prefix})`` answers them all (for the LLM: one forward of all
agents of all runs, :class:`tokenauction.llm.batch.RunBatch`). A run that finishes leaves the
lockstep, so the others never wait for it. The threads only take turns (one holds the lock
during the batched call); the mechanism's code is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Lockstep:
    """Collects one request per live run, then serves them with one ``batch_step`` call."""

    def __init__(self, batch_step: Callable[[dict], dict], runs: int):
        self.batch_step = batch_step
        self.live = set(range(runs))
        self.pending: dict[int, list[int]] = {}
        self.results: dict = {}
        self.generation, self.error = 0, None
        self.cv = threading.Condition()

    def request(self, run: int, prefix):
        with self.cv:
            if self.error is not None:
                raise RuntimeError("another run of the batch failed") from self.error
            self.pending[run] = list(prefix)
            generation = self.generation
            if len(self.pending) == len(self.live):
                self._serve()
            else:
                self.cv.wait_for(lambda: self.generation != generation or self.error is not None)
            if self.error is not None:
                raise RuntimeError("the batched provider failed") from self.error
            return self.results[run]

    def finish(self, run: int) -> None:
        with self.cv:
            self.live.discard(run)
            if self.pending and len(self.pending) == len(self.live):
                self._serve()

    def fail(self, exc: BaseException) -> None:
        with self.cv:
            self.error = self.error or exc
            self.cv.notify_all()

    def _serve(self) -> None:  # holding the lock
        try:
            self.results = self.batch_step(self.pending)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting run
            self.error = exc
        self.pending = {}
        self.generation += 1
        self.cv.notify_all()


class RunView:
    """The provider one run's auction calls; ``last`` is ``(Reports, raw log-probs)``."""

    def __init__(self, lockstep: Lockstep, run: int):
        self.lockstep, self.run, self.last = lockstep, run, None

    def __call__(self, prefix):
        self.last = self.lockstep.request(self.run, prefix)
        return self.last[0]

    def leave(self) -> None:
        """The run asks for nothing more: the others need not wait for it (what it does next,
        e.g. audit its transcript, overlaps their steps)."""
        self.lockstep.finish(self.run)


def run_all(batch_step, jobs: list[Callable[[RunView], object]]) -> list:
    """Run ``job(view)`` for every job in its own thread, in lockstep; results in order."""
    lock = Lockstep(batch_step, len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def target(k):
        try:
            results[k] = jobs[k](RunView(lock, k))
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller
            errors.append(exc)
            lock.fail(exc)
        finally:
            lock.finish(k)

    threads = [threading.Thread(target=target, args=(k,), daemon=True) for k in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        first = next((e for e in errors if not isinstance(e, RuntimeError)), errors[0])
        raise first
    return results
