"""What may cross back from the cage's worker (:mod:`properties.cage`): data only, checked.

The auditor unpickles the worker's bytes (at most :data:`MAX_REPLY_BYTES`) with an
allow-list (``complex`` and numpy's array rebuilders: nothing from the worker can run code
or allocate by a count here), then checks each message's shape
(:func:`checked_message`), each value (:func:`checked_value`: a float64 array, an int for
``sample``) and the object's description (:func:`checked_description`: every field typed).
Whatever the worker sends that is not one of these is :class:`CageFailure` (a failed call,
a finding about the target), never an exception deep in the auditor.
"""

from __future__ import annotations

import builtins
import io
import pickle
import reprlib
import sys
import unicodedata

import numpy as np

#: the globals a reply may name: plain data pickles by opcodes alone (protocol 5: lists,
#: dicts, tuples, sets, ints, floats, strings, bytes), except complex, and numpy's arrays and
#: scalars need these. No constructor that allocates by a count is callable: with
#: ``builtins.bytes`` allowed, a 30-byte reply ``bytes(10**12)`` made the auditor allocate
#: a terabyte (and ``list`` or ``str`` of a large object as much).
_ALLOWED = {("builtins", "complex")}
_ALLOWED |= {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray")
             for n in ("_reconstruct", "scalar")}
_ALLOWED |= {(m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")}
_ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype")}


class CageFailure(Exception):
    """The caged code misbehaved: ``kind`` is raised / exited / timeout / not_numeric."""

    def __init__(self, kind: str, message: str, exception: str | None = None):
        super().__init__(message)
        self.kind, self.exception = kind, exception


#: Unicode categories shown escaped: controls (newlines, ANSI escapes), format characters
#: (bidi overrides and isolates, zero-width spaces: "Trojan Source" reordering of a report),
#: line and paragraph separators, surrogates, private-use and unassigned code points
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escaped(c: str) -> str:
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def printable(text, limit: int = 200) -> str:
    """A string from user code made safe for a terminal: control and invisible characters
    (newlines, ANSI escapes, bidi overrides, zero-width spaces, line separators) shown as
    ``\\xNN`` / ``\\uNNNN``, cut to ``limit`` characters. Only the first ``limit``
    characters are looked at (a reply of a gigabyte costs no more than one of a line)."""
    s = str(text)
    cut = len(s) > limit
    s = "".join(_escaped(c) if unicodedata.category(c) in _HIDDEN else c for c in s[:limit])
    return s[: limit - 3] + "..." if cut or len(s) > limit else s


class _Short(reprlib.Repr):
    """``reprlib`` with every type the unpickler lets through bounded: bytes cut before
    ``repr`` (reprlib writes the whole of them first), an int of more than 4300 digits
    (``repr`` refuses it) by its size, an array by its shape."""

    def repr_bytes(self, x, level):
        cut = builtins.repr(bytes(x[:self.maxstring]))
        return cut if len(x) <= self.maxstring else cut[:-1] + "...'"

    repr_bytearray = repr_bytes

    def repr_int(self, x, level):
        bits = x.bit_length()
        return builtins.repr(x) if bits <= 256 else f"<an int of {bits} bits>"

    def repr_ndarray(self, x, level):
        return f"<array shape={x.shape} dtype={x.dtype}>"

    def repr_instance(self, x, level):
        return f"<{type(x).__name__}>"


_SHORT = _Short()
_SHORT.maxstring = _SHORT.maxother = 60


def shown(value, limit: int = 80) -> str:
    """A value from the worker described for a message: bounded work and length whatever
    its size (:class:`_Short`), control characters escaped (:func:`printable`)."""
    try:
        text = _SHORT.repr(value)
    except Exception:  # noqa: BLE001 - a value that cannot be described is still refused
        text = f"<{type(value).__name__}>"
    return printable(text, limit)


class Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            found = super().find_class(module, name)
            return _bounded(found) if name == "_reconstruct" else found
        raise pickle.UnpicklingError(f"the worker sent {module}.{name}: only data may cross")


def _bounded(reconstruct):
    """numpy's ``_reconstruct`` allocates the shape it is given before any data comes: a
    reply of a few bytes asked the auditor for 4 TiB (MemoryError, exit 3). Bounded here by
    what a reply may hold."""
    def checked(subtype, shape, dtype):
        try:
            count = 1
            for k in shape:
                if type(k) is not int or k < 0:
                    raise TypeError
                count *= k
        except TypeError:
            raise pickle.UnpicklingError("the worker sent an array shape that is not a "
                                         "tuple of sizes") from None
        if count > MAX_REPLY_BYTES:
            raise pickle.UnpicklingError(f"the worker sent an array of {count} elements, "
                                         "more than a reply may hold")
        return reconstruct(subtype, shape, dtype)
    return checked


#: the largest reply read from the worker (a reply is a few distributions or one
#: description: kilobytes); a longer one is a failed call, never held in memory
MAX_REPLY_BYTES = 1 << 28


def loads(data: bytes):
    return Restricted(io.BytesIO(data)).load()


#: the fields of each message from the worker (properties.cage_worker): anything else is junk
_MESSAGES = {"ready": (dict,), "load_error": (str, bool), "ok": (object,), "undefined": (str,),
             "fail": (str, str, str)}


def checked_message(raw) -> tuple:
    """A worker's message, checked against :data:`_MESSAGES` (junk: a failed call)."""
    fields = _MESSAGES.get(raw[0]) if isinstance(raw, tuple) and raw and \
        type(raw[0]) is str else None
    if fields is None or len(raw) != len(fields) + 1 or \
            not all(isinstance(v, t) for v, t in zip(raw[1:], fields)):
        raise CageFailure("not_numeric", f"the worker sent {shown(raw)}, which is "
                          "not one of its messages")
    return raw


def checked_value(method: str, value):
    """The value of an ``ok`` reply, checked: an int for ``sample``, else a float64 array
    (a 2-D grid for ``aggregate_batch``); the caller checks its shape."""
    if method == "sample":
        ok = type(value) is int
    else:
        ok = type(value) is np.ndarray and value.dtype == np.float64 and \
            (method != "aggregate_batch" or value.ndim == 2)
    if not ok:
        raise CageFailure("not_numeric", f"{method} sent back {printable(type(value).__name__)}"
                          f" {shown(value, 60)}, not numbers", exception=None)
    return value


_WARNED: set = set()


def warn_unconfined(why: str | None) -> None:
    """Say once per process (stderr) that the worker runs without its system-call filter:
    ``why`` is the worker's word, and this process's own test of the platform
    (:func:`properties.confine.unavailable`) counts too, a worker's word being no proof."""
    from properties.confine import unavailable
    why = unavailable() or why
    if why is not None and why not in _WARNED:
        _WARNED.add(why)
        print(f"tokenauction: warning: the cage's worker runs without its system-call filter "
              f"({printable(why, 160)}): its code could write files", file=sys.stderr)


def _is_str(v) -> bool:
    return isinstance(v, str)


def _is_bool(v) -> bool:
    return isinstance(v, bool)


def _is_claims(v) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) for k in v)


def _is_literals(v) -> bool:
    return isinstance(v, list) and len(v) <= 256 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


def checked_description(meta, check: bool) -> dict:
    """The worker's description of the loaded object, every field checked (a description
    that is not one is the user's code misbehaving while loading: CageFailure)."""
    from properties.protocol import is_reserve, is_uniforms
    fields = {"name": _is_str, "claims": _is_claims, "literals": _is_literals,
              "unconfined": lambda v: v is None or isinstance(v, str)}
    if check:
        fields |= {"kind": lambda v: v in ("rule", "payment")}
        optional = {"compiled": lambda v: True, "family": lambda v: True,  # strict readers
                    "compile_error": _is_str}                              # (proofs/compile)
    else:
        fields |= {"reserve": is_reserve, "uniforms": is_uniforms, "context": _is_bool,
                   "payments": _is_bool, "sample": _is_bool}
        optional = {}
    bad = [k for k, test in fields.items() if k not in meta or not test(meta[k])]
    bad += [k for k in meta if k not in fields and (k not in optional or not optional[k](meta[k]))]
    if bad:
        names = ", ".join(printable(k, 60) if isinstance(k, str) else shown(k, 60)
                          for k in bad[:8])
        raise CageFailure("not_numeric", "sent a description of itself with "
                          f"missing or malformed fields ({printable(names)})")
    return meta
