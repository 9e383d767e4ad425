"""Third-party code in a cage: a worker process that loads and runs the user's code.

One isolation policy for ``tokenauction check`` and ``tokenauction audit --mechanism``:
a target named by a spec (``file.py:NAME``, ``pkg.mod:NAME``) is loaded in a worker
process (``multiprocessing``, start method ``spawn``), never in the auditor's. The worker

* runs under a memory limit (``resource.setrlimit(RLIMIT_AS)``, :data:`MEMORY_MB`);
* writes its stdout and stderr to a file of its own (the tail is quoted in a finding);
* receives numpy arrays and sends back only data: float64 arrays, numbers, strings, lists
  and dicts of those. The auditor reads at most ``MAX_REPLY_BYTES`` of a reply and
  unpickles it with an allow-list (``complex`` and numpy's array rebuilders only), so
  nothing from the worker can run code, or allocate by a count, in the auditor.

Each call has a timeout; past it the worker is killed (SIGKILL) and a fresh one started for
the next call. ``SystemExit``, ``os._exit``, a crash, a hang or running out of memory in
the user's code become :class:`CageFailure` (a finding about that code: kind ``raised``,
``exited``, ``timeout``), never the auditor's exit status; a monkeypatch of the auditor by
the user's code patches only the worker's copy. ``InvalidInput`` raised by the user's code
keeps its meaning ("undefined here").

:class:`Caged` is the proxy the auditor holds: its ``aggregate`` / ``payments`` /
``sample`` (and, for a plain ``rule(dists, bids)``, the call itself) forward to the worker,
its ``name``, ``reserve``, ``claims``, ``uniforms`` are the worker's description of the
object, made printable by :func:`printable`.

The search, the checks of every answer and the verdicts run in the auditor's process
(:func:`check_in_cage`; the mechanism audit holds a :class:`Caged` in its
:class:`properties.target.Target`): only the user's calls cross, so code that
patches the checker patches the worker's copy, which decides nothing.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import tempfile

import numpy as np

from mechanism.errors import InvalidInput, InvalidValueModel
from properties import cage_channel as channel
from properties.cage_replies import (MAX_REPLY_BYTES, CageFailure, checked_description,
                                     checked_message, checked_value, loads, printable,
                                     warn_unconfined)

MEMORY_MB = 4096
TIMEOUT = 5.0
START_TIMEOUT = 120.0

#: Exceptions from the user's code that would have ended an uncaged checker.
_FATAL = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "MemoryError"}


class CageUndefined(InvalidInput):
    """The caged code raised InvalidInput: undefined at this input (still an InvalidInput)."""
class Cage:
    """One worker process holding the user's object (see the module docstring)."""

    def __init__(self, spec: str, kwargs: dict | None = None, *, paths=(), timeout=TIMEOUT,
                 memory_mb: int = MEMORY_MB):
        self.spec, self.kwargs, self.paths = spec, dict(kwargs or {}), list(paths)
        self.timeout, self.memory_mb = timeout, memory_mb
        self.proc = self.conn = None
        self.fatal: str | None = None  #: the first time the code ended, hung or exited
        self.out = tempfile.NamedTemporaryFile(prefix="tokenauction-cage-", suffix=".log",
                                               delete=False)
        self.out.close()
        self.meta = self._start()

    def _start(self) -> dict:
        ours, theirs = socket.socketpair()
        from properties.loading import WORKER_PATHS  # --path, the working directory
        search = WORKER_PATHS + [p for p in sys.path if p]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(search),
                   PYTHONDONTWRITEBYTECODE="1")  # the worker may not write (confine)
        with open(self.out.name, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "properties.cage_worker", str(theirs.fileno()),
                 str(self.memory_mb)], pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                stdout=out, stderr=out, env=env, close_fds=True, start_new_session=True)
        theirs.close()
        self.conn = ours
        try:
            self._send(pickle.dumps((self.spec, self.kwargs, self.paths), protocol=5),
                       START_TIMEOUT)
            status, *rest = checked_message(self._receive(START_TIMEOUT, "loading"))
            if status not in ("ready", "load_error"):
                raise CageFailure("not_numeric", f"the worker answered {status!r} to loading")
            if status == "ready":
                meta = checked_description(rest[0], isinstance(self.spec, tuple))
                warn_unconfined(meta["unconfined"])
                return meta
        except CageFailure:
            self.close()
            raise
        self.close()
        if rest[1]:  # the user's code ended or broke its own loading
            raise CageFailure("raised", printable(rest[0], 400))
        raise InvalidInput(f"{printable(self.label)}: {printable(rest[0], 400)}",
                           value=self.label)

    @property
    def label(self) -> str:
        return self.spec[1] if isinstance(self.spec, tuple) else str(self.spec)

    def _late(self, timeout: float):
        self._kill()
        raise CageFailure("timeout", f"did not return within {timeout:g} s (per-call "
                          "timeout; the worker was killed; raise it with --timeout)")

    def _send(self, data: bytes, timeout: float) -> None:
        """A request, which the worker must take within ``timeout`` (CageFailure)."""
        try:
            channel.send(self.conn, data, timeout)
        except channel.Late:
            self._late(timeout)
        except (OSError, ValueError):
            code = self._kill()
            raise CageFailure("exited", f"its worker process is gone (exit code {code})") \
                from None

    def _receive(self, timeout: float, what: str):
        """The whole reply within ``timeout`` (a header announcing more than comes hung
        the auditor; :mod:`properties.cage_channel`), read back as data only; anything
        else is a CageFailure and the worker is killed."""
        try:
            data = channel.receive(self.conn, timeout, MAX_REPLY_BYTES)
        except channel.Late:
            self._late(timeout)
        except channel.TooLong:
            self._kill()
            raise CageFailure("not_numeric", f"sent a reply of more than {MAX_REPLY_BYTES} "
                              f"bytes while {what} (a reply is a few distributions; the "
                              "worker was killed)") from None
        except (OSError, EOFError) as exc:
            return self._lost(exc, what)
        try:
            return loads(data)
        except (EOFError, pickle.UnpicklingError, AttributeError, ValueError) as exc:
            return self._lost(exc, what)
        except Exception as exc:  # noqa: BLE001 - bytes a hostile worker chose (a
            # constructor that raises TypeError, an array of 4 TiB: MemoryError): exit 3 once
            return self._lost(pickle.UnpicklingError(f"{type(exc).__name__}: "
                                                     f"{printable(exc, 150)}"), what)

    def _lost(self, exc: BaseException, what: str):
        """The worker ended, or sent bytes that are no reply: killed, CageFailure."""
        code = self._kill()
        if isinstance(exc, pickle.UnpicklingError):
            raise CageFailure("exited", f"sent a reply that is not data while {what} "
                              f"({printable(exc, 200)}; the worker was killed)") from None
        raise CageFailure("exited", f"ended its worker process while {what} (exit code "
                          f"{code}; {type(exc).__name__}){self._tail()}") from None

    def _tail(self) -> str:
        try:
            with open(self.out.name, "rb") as fh:
                fh.seek(max(0, os.path.getsize(self.out.name) - 300))
                tail = fh.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return f"; its output ends: {printable(tail, 300)}" if tail else ""

    def _kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                code = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                code = None
        else:
            code = None
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None
        return code

    def call(self, method: str, *args, context=None):
        """``method(*args)`` in the worker: its output as data, or CageFailure /
        CageUndefined."""
        if self.proc is None:
            if self.fatal:  # the code already ended or hung its worker: no restart per call
                raise CageFailure("exited", f"ended its worker earlier ({self.fatal})")
            self._start()
        self._send(pickle.dumps((method, args, context), protocol=5), self.timeout)
        try:
            status, *rest = checked_message(self._receive(self.timeout, f"running {method}"))
        except CageFailure as exc:
            self.fatal = self.fatal or str(exc)
            raise
        except BaseException:  # interrupted (a caller's own timeout): the reply would be stale
            self._kill()
            raise
        if status == "ok":
            return checked_value(method, rest[0])
        if status == "undefined":
            raise CageUndefined(printable(rest[0], 400))
        if status != "fail":
            raise CageFailure("not_numeric", f"the worker answered {status!r} to {method}")
        kind, exc_name, message = rest
        if kind == "raised" and exc_name in _FATAL:
            self.fatal = self.fatal or f"raised {printable(exc_name, 60)} in {method}"
        raise CageFailure(kind, f"raised {printable(exc_name, 60)}: {printable(message, 300)}"
                          if kind == "raised" else printable(message, 300), exception=exc_name)

    def close(self) -> None:
        self._kill()
        try:
            os.unlink(self.out.name)
        except OSError:
            pass


def _method(cage: Cage, method: str, context: bool):
    if context:
        def call(dists, bids, context=None):
            return cage.call(method, np.asarray(dists), np.asarray(bids), context=context)
    else:
        def call(dists, bids):
            return cage.call(method, np.asarray(dists), np.asarray(bids))
    call.__name__ = method
    return call


class Caged:
    """The auditor's handle on a caged object: the worker's description of it (the
    interface of :mod:`properties.audit.implementation`), its methods forwarded (None where
    the object has none), read by :func:`properties.protocol.read_mechanism`."""

    def __init__(self, cage: Cage):
        m = cage.meta
        self.cage = cage
        self.name = printable(m["name"], 80)
        self.reserve = float(m["reserve"])
        self.claims = dict(m["claims"])
        self.uniforms = m["uniforms"]
        self.context = bool(m["context"])
        self.literals = tuple(m.get("literals", ()))
        self.aggregate = _method(cage, "aggregate", self.context)
        self.payments = _method(cage, "payments", self.context) if m["payments"] else None
        self.sample = self._sample if m["sample"] else None

    def _sample(self, q, u):
        return self.cage.call("sample", np.asarray(q), np.asarray(u))


def caged_mechanism(spec: str, kwargs=None, paths=(), timeout: float = TIMEOUT) -> Caged:
    """``--mechanism SPEC`` loaded in a cage: InvalidInput (a usage error) if it cannot be
    found or built; CageFailure if its code ends, hangs or breaks its own loading (a finding:
    :func:`failed_loading`)."""
    if ":" not in str(spec):
        raise InvalidInput(f"--mechanism {printable(spec)!r}: expected package.module:NAME or "
                           "file.py:NAME", value=spec)
    return Caged(Cage(spec, kwargs, paths=paths, timeout=timeout))


def failed_loading(command: str, target: str, exc: CageFailure) -> tuple[str, dict]:
    """The report of a target whose code ended, hung or broke the worker while it was being
    loaded: REFUTED, exit 1 (text, JSON), the same for ``check`` and ``audit --mechanism``."""
    why = (f"the target {exc} while being loaded: a target that ends, crashes or hangs "
           "the checker is a finding about the target (REFUTED, exit 1)")
    return (f"tokenauction {command} {printable(target)}\nREFUTED: {why}",
            {"target": target, "refuted": True, "exit_code": 1, "error": why, "kind": exc.kind})


def caged_valuation(spec: str, timeout: float = TIMEOUT):
    """``--valuation file.py:NAME``: the user's ``a(p_i, q)`` loaded in a worker; each value is
    one request and only a number comes back (InvalidInput, a usage error, if it cannot be
    loaded; a value that ends, hangs or crashes the worker raises CageFailure)."""
    try:
        cage = Cage(spec, None, timeout=timeout)
    except CageFailure as exc:
        raise InvalidInput(f"--valuation {printable(spec)}: {exc}", value=spec) from None

    def value(p, q):
        try:
            out = np.asarray(cage.call("aggregate", np.asarray(p, dtype=np.float64),
                                       np.asarray(q, dtype=np.float64)))
        except CageFailure as exc:   # it raised, hung or ended its worker: a usage error
            raise InvalidValueModel(f"--valuation {printable(spec)}: {exc}") from None
        if out.size != 1:
            raise InvalidValueModel(f"--valuation {printable(spec)} returned {out.size} "
                                    "numbers for one (p_i, q); a value model returns one float")
        one = out.reshape(-1)[0]   # checked by the value model (a real number, not NaN)
        return one.item() if out.dtype.kind in "fiu" else one

    value.__name__ = printable(cage.meta["name"], 80)
    return value


def caged_check_target(target: str, kind=None, rule=None, paths=(), timeout=TIMEOUT):
    """A ``check`` target (``file.py:NAME``) loaded in a worker: the
    :class:`properties.protocol.UserObject` the checker judges here, whose callable
    (``rule(dists, bids)`` or ``payment(rule, dists, bids)``) makes each call one request to
    the worker. A ``rule=`` that is itself a spec gets a cage of its own."""
    from properties.cage_worker import runs_in_parent
    from properties.protocol import UserObject, read_target
    judge = rule if isinstance(rule, str) else "linear"
    cage = Cage(("check", target, kind, judge),
                paths=paths, timeout=timeout)
    m = cage.meta
    if runs_in_parent(m):
        from proofs.compile import serial, serial_family  # data only: no user code here
        try:
            rule = serial_family.from_worker(m["family"]) if m.get("family") is not None \
                else serial.from_worker(m["compiled"])
        finally:
            cage.close()
        rule.name = printable(rule.name, 80)  # a reproduction loads the target by its spec
        return read_target(rule, spec=target)
    if m["kind"] == "rule":
        fn = _method(cage, "aggregate", False)
    else:
        def fn(rule, dists, bids):
            return cage.call("pay", np.asarray(dists), np.asarray(bids))
    name = printable(m["name"], 80)
    fn.__name__ = fn.__qualname__ = name
    error = printable(m["compile_error"], 600) if m.get("compile_error") else None
    return UserObject(m["kind"], fn, name, dict(m["claims"]), cage=cage, spec=target,
                      literals=tuple(m.get("literals", ())), compile_error=error)


def findings_from_json(rows) -> list:
    """Findings of a JSON report (:meth:`properties.report.Finding.to_json` data: the cage's
    worker, a zoo's Dask worker), text escaped; the one reader of that data."""
    from mechanism.verdicts import Scope, Verdict
    from properties.report import Finding
    out = []
    for r in rows:
        sc = r.get("scope")
        scope = None if sc is None else Scope(
            sc.get("max_agents"), sc.get("max_tokens"), str(sc.get("bids")),
            str(sc.get("arithmetic")), tuple(map(str, sc.get("assumptions") or ())))
        out.append(Finding(printable(r["property"], 80), r.get("order"), Verdict(r["verdict"]),
                           printable(r["engine"], 40), printable(r.get("detail") or "", 400),
                           r.get("counterexample"), int(r.get("examples") or 0),
                           float(r.get("seconds") or 0.0), claimed=r.get("claimed"),
                           valid=r.get("valid"), declined=r.get("declined"), scope=scope,
                           missing=r.get("missing_extra")))
    return out


def _caged_judge(rule, paths, timeout):
    if isinstance(rule, str) and ":" in rule:
        return caged_check_target(rule, "rule", None, paths, timeout)
    return rule


def check_in_cage(target: str, options: dict, paths=()) -> tuple[str, dict, int]:
    """``tokenauction check TARGET`` of user code: the target is loaded and called in a
    worker process; the search, the verdicts and the report are computed here, from the
    numbers the worker sends back (validated here). Its report as (text, JSON, exit code).
    A target that ends, crashes or hangs its worker is REFUTED (exit 1) with the reason."""
    from properties.checker.engine import check
    from properties.loading import load_valuation
    from properties.protocol import UserObject
    opts = dict(options)
    timeout = opts.get("timeout") or TIMEOUT
    cages = []
    try:
        user = caged_check_target(target, opts.pop("kind", None), opts.get("rule"), paths,
                                  timeout)
        if user.cage is not None:  # else: compiled, here
            cages.append(user.cage)
        opts["rule"] = _caged_judge(opts.get("rule"), paths, timeout)
        if isinstance(opts["rule"], UserObject) and opts["rule"].cage is not None:
            cages.append(opts["rule"].cage)
        opts["valuation"] = load_valuation(opts.get("valuation"))
        report = check(user, kind=user.kind, **opts)
    except CageFailure as exc:
        return (*failed_loading("check", target, exc), 1)
    except InvalidInput as exc:
        return f"{printable(target)}: error: {exc}", {"target": target, "error": str(exc)}, 2
    finally:
        for c in cages:
            c.close()
    text, js, code = str(report), report.to_json(), report.exit_code
    fatal = next((c.fatal for c in cages if c.fatal), None)
    if fatal is not None:  # whatever the sampled verdicts, ending the checker is a finding
        why = (f"the target {fatal} while being checked: a target that ends, crashes or "
               "hangs the checker is a finding about the target (REFUTED, exit 1)")
        code = max(code, 1)
        text = f"{text.rsplit(chr(10), 1)[0]}\nresult: REFUTED (exit {code}): {why}"
        js = {k: v for k, v in js.items() if k != "findings"} | {  # the verdict is the failure
            "refuted": True, "exit_code": code, "error": why, "sampled": js["findings"]}
    return text, js, code
