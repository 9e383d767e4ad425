"""What ``tokenauction audit`` tells its user while it works and before it starts: the
progress lines on stderr (a run's steps, a batch's runs, a mechanism's instances) and the
options a mode does not read (a usage error, never an option dropped without a word)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``audit: N steps (R steps/s)`` to stderr at most every ``every`` seconds."""

    def __init__(self, stream=sys.stderr, every: float = 2.0):
        self.stream, self.every = stream, every
        self.t0 = self.last = time.perf_counter()
        self.done = 0

    def __call__(self, done: int, _step=None) -> None:
        self.done = done
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            print(f"audit: {done} steps ({done / (now - self.t0):.0f} steps/s)",
                  file=self.stream, flush=True)


class BatchProgress:
    """``audit: [#####.....] 12/200 runs, 3 diverged, 0 unreadable`` on stderr: redrawn in
    place on a terminal, else a line at most every ``every`` seconds and at the end."""

    def __init__(self, stream=sys.stderr, every: float = 2.0):
        self.stream, self.every, self.last = stream, every, 0.0
        self.bad = {"diverged": 0, "unreadable": 0}
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, result: dict) -> None:
        if result["status"] in self.bad:
            self.bad[result["status"]] += 1
        now = time.perf_counter()
        if not (self.tty or done == total or now - self.last >= self.every):
            return
        self.last = now
        bar = "#" * (20 * done // total) + "." * (20 - 20 * done // total)
        text = (f"audit: [{bar}] {done}/{total} runs, {self.bad['diverged']} diverged, "
                f"{self.bad['unreadable']} unreadable")
        end = "\n" if not self.tty or done == total else ""
        print(("\r" if self.tty else "") + text, end=end, file=self.stream, flush=True)


class InstanceProgress:
    """``audit --mechanism``'s progress on stderr: a line when 10 s have passed since the
    last (a slow mechanism's audit is long; a fast one prints none)."""

    EVERY_S = 10.0

    def __init__(self):
        self.start = self.last = time.monotonic()

    def __call__(self, k: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.EVERY_S:
            self.last = now
            print(f"audit --mechanism: instance {k + 1} of {total}, {now - self.start:.0f} s "
                  "(--budget S bounds the whole audit)", file=sys.stderr, flush=True)


#: options of one mode only: (attribute, flag, the modes that read it)
_MODE_OPTIONS = (("valuation", "--valuation", ("--mechanism", "--log")),
                 ("orders", "--orders", ("--mechanism",)), ("reports", "--reports", ("--mechanism",)),
                 ("arg", "--arg", ("--mechanism",)), ("path", "--path", ("--mechanism",)),
                 ("max_examples", "--max-examples", ("--mechanism",)),
                 ("seed", "--seed", ("--mechanism",)), ("timeout", "--timeout", ("--mechanism",)),
                 ("budget", "--budget", ("--mechanism",)), ("no_suite", "--no-suite", ("--mechanism",)))


def unread_options(args, mode: str) -> str | None:
    """The options given that ``mode`` (RUN_DIR, --mechanism, --log) does not read, as a
    usage error's text (an option silently dropped reads as if it had been applied)."""
    given = [flag for attr, flag, modes in _MODE_OPTIONS
             if mode not in modes and getattr(args, attr, None) not in (None, [], False)]
    if not given:
        return None
    return (f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} not read when auditing "
            f"{'a run (RUN_DIR)' if mode == 'RUN_DIR' else 'a log (--log)'}; "
            + ("--valuation applies to --mechanism and --log" if given == ["--valuation"] else
               f"{'it applies' if len(given) == 1 else 'they apply'} to --mechanism only"
               + (" (--valuation also to --log)" if "--valuation" in given else "")))
