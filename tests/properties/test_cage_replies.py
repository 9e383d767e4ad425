"""What crosses back from the cage's worker is described in bounded work: a reply of tens
of megabytes, an int of thousands of digits or a description keyed by such values is a
CageFailure whose message is short, never a hang or a ValueError in the auditor."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from properties.cage_replies import (CageFailure, checked_description, checked_message,
                                     checked_value, printable)

BOMB = bytes(20_000_000)
TEXT = "x" * 20_000_000


def _bounded(fn, *args):
    """Call ``fn`` expecting CageFailure; return its message and the peak memory the call
    allocated (the bomb itself was allocated before, the modules it imports too)."""
    import properties.protocol  # noqa: F401 - checked_description imports it
    tracemalloc.start()
    try:
        with pytest.raises(CageFailure) as info:
            fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(info.value), peak


@pytest.mark.parametrize("call", [
    lambda: checked_value("aggregate", BOMB),
    lambda: checked_message(("junk", BOMB)),
    lambda: checked_value("aggregate", [BOMB, TEXT]),
    lambda: checked_description({BOMB: 1}, True),
])
def test_a_huge_reply_is_described_in_bounded_memory(call):
    """Planted: ``printable(repr(value))`` wrote the whole repr (80 MB for 20 MB of bytes)
    and ran the escaping regex over it before cutting; a 1 GB reply hung the auditor."""
    message, peak = _bounded(call)
    assert len(message) < 700 and peak < 1_000_000, (len(message), peak)


def test_an_int_of_many_digits_is_refused_not_a_value_error():
    """``repr`` of an int over 4300 digits raises ValueError (planted: the old message)."""
    message, _ = _bounded(checked_value, "sample_prob", 10 ** 5000)
    assert "an int of 16610 bits" in message
    message, _ = _bounded(checked_description, {10 ** 5000: 1, "name": "x"}, True)
    assert "an int of 16610 bits" in message


def test_printable_escapes_and_cuts():
    from properties.cage_replies import shown
    assert printable("a\nb\x1b[31m") == "a\\x0ab\\x1b[31m"
    assert printable("x" * 10, 10) == "x" * 10 and printable("x" * 11, 10) == "xxxxxxx..."
    assert printable("\x1b" * 10, 10) == "\\x1b\\x1..."
    assert shown(np.zeros((2, 3))) == "<array shape=(2, 3) dtype=float64>"
    text = shown(b"\x1b" * 100)
    assert text.startswith("b'\\x1b") and text.endswith("...") and len(text) == 80


def _bomb(count: int) -> bytes:
    """A pickle of 30 bytes calling ``builtins.bytes(count)``: ``count`` bytes allocated by
    whoever unpickles it."""
    return b"\x80\x05cbuiltins\nbytes\nJ" + count.to_bytes(4, "little") + b"\x85R."


@pytest.mark.parametrize("name", ["bytes", "list", "str", "int", "set", "dict", "tuple"])
def test_no_constructor_is_callable_from_a_reply(name):
    """Only data crosses: plain data pickles by opcodes, so no builtin but complex may be
    named (planted: the old allow-list, where ``bytes(2**31 - 1)`` from a 30-byte reply
    allocated 2 GB in the auditor; here 10**6 so the old code only returns it)."""
    import pickle
    from properties.cage_replies import loads
    with pytest.raises(pickle.UnpicklingError, match="only data may cross"):
        loads(_bomb(10 ** 6).replace(b"bytes", name.encode()))
    assert loads(pickle.dumps(("ok", np.zeros(3), {1, 2}, frozenset([3]), 1 + 2j, b"x",
                               bytearray(b"y"), 10 ** 30, -0.0, None, True), protocol=5))[4] \
        == 1 + 2j


def test_invisible_and_reordering_characters_are_shown_escaped():
    """Was (red team): only C0/C1 controls were escaped; a user's exception text with a
    right-to-left override (U+202E), a bidi isolate (U+2066), a zero-width space (U+200B)
    or a line separator (U+2028) reordered or hid text in a report ("Trojan Source")."""
    from properties.cage_replies import printable
    text = "A\u202eB\u2066C\u200bD\u2028E\u2029F\ufeffG\x1b[31mH\x9b"
    assert printable(text) == ("A\\u202eB\\u2066C\\u200bD\\u2028E\\u2029F\\ufeffG\\x1b[31mH"
                               "\\x9b")
    assert printable("é 日本 😀 ok") == "é 日本 😀 ok"      # visible text is left alone
