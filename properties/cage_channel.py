"""The auditor's end of the cage's socket: length-framed messages, sent and received under
a deadline.

The framing is :mod:`multiprocessing.connection`'s (a big-endian ``int32`` length, or
``-1`` then a ``uint64`` one), which the worker's ``Connection`` speaks. The auditor does
not use a ``Connection`` itself: ``poll(timeout)`` waits for a reply's first byte only,
and ``recv_bytes`` then blocks until the announced length has come, so a worker that sent
a header announcing 100 bytes and one byte of them hung the auditor for ever, whatever
``--timeout`` said. Here the whole message, and a request the worker never reads, must
pass within the deadline.
"""

from __future__ import annotations

import socket
import struct
import time


class Late(Exception):
    """The message did not pass within the deadline."""


class TooLong(Exception):
    """The reply announced more bytes than the reader takes."""


def send(sock: socket.socket, data: bytes, timeout: float) -> None:
    """``data`` framed, within ``timeout`` seconds (Late; OSError when the worker is gone)."""
    n = len(data)
    header = struct.pack("!i", n) if n <= 0x7FFFFFFF else struct.pack("!iQ", -1, n)
    sock.settimeout(timeout)   # sendall: the whole call within it (Python >= 3.5)
    try:
        sock.sendall(header + data)
    except socket.timeout:
        raise Late() from None


def receive(sock: socket.socket, timeout: float, limit: int) -> bytes:
    """One framed message within ``timeout`` seconds: Late, TooLong (more than ``limit``
    bytes announced), EOFError (the worker closed its end), OSError."""
    end = time.monotonic() + timeout
    size, = struct.unpack("!i", _exactly(sock, 4, end))
    if size == -1:
        size, = struct.unpack("!Q", _exactly(sock, 8, end))
    if size < 0 or size > limit:
        raise TooLong()
    return _exactly(sock, size, end)


def _exactly(sock: socket.socket, n: int, end: float) -> bytes:
    parts, got = [], 0
    while got < n:
        left = end - time.monotonic()
        if left <= 0:
            raise Late()
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(n - got, 1 << 20))
        except socket.timeout:
            raise Late() from None
        if not chunk:
            raise EOFError("the worker closed its end")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
