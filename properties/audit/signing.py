"""Signed chain heads: a platform signs each run's head; the audit verifies it with a key.

The head (the last line's ``hash``) commits to every byte of ``transcript.jsonl`` and, by
the per-step SHA-256, to every block of ``reports.bin``. Without a key, a run rewritten
consistently (new records, a recomputed chain) is caught only when the replay disagrees or
against a head published elsewhere (``--expect-head``). With a signature it is caught
alone: the rewritten run's head is not the signed one, and the forger cannot sign another.

Two schemes, one file ``head.sig`` in the run folder (one canonical JSON line)::

    {"alg": "ed25519" | "hmac-sha256", "format": "tokenauction-head-signature/1",
     "head": "<64 hex>", "key_id": "<16 hex>", "signature": "<hex>"}

* ``ed25519`` (the ``cryptography`` package, extra ``sign``): the platform keeps the private
  key (PEM, PKCS#8), anyone holding the public key (PEM) verifies;
* ``hmac-sha256`` (stdlib): a shared secret (a file of >= 32 random bytes as hex); whoever
  verifies can also sign, so it protects against third parties only.

The signed message is ``b"tokenauction-head/1\\n" + head``: a signature binds a head, not a
folder name (a genuine signed run copied under another name verifies; see docs/audit.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from mechanism.errors import InvalidInput
from mechanism.records import MAX_LINE, canonical, open_binary, parse_line
from mechanism.transcript import JSONL
from properties.config import read_small

SIG_FILE = "head.sig"
SIG_FORMAT = "tokenauction-head-signature/1"
DOMAIN = b"tokenauction-head/1\n"
ALGS = ("ed25519", "hmac-sha256")
SIG_FIELDS = ("alg", "format", "head", "key_id", "signature")


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise InvalidInput('Ed25519 keys need the cryptography package: pip install '
                           '"tokenauction[sign]" (or use an HMAC key)', value=None) from None
    return serialization, ed25519


#: the largest key or signature file read (a PEM key is a few hundred bytes)
MAX_KEY_BYTES = 1 << 20


def _read(path, what: str) -> bytes:
    return read_small(path, what, MAX_KEY_BYTES)


def generate_key(path, alg: str = "ed25519") -> list[Path]:
    """Write a new key: ``ed25519`` -> PATH (private, mode 0600) and PATH.pub; ``hmac-sha256``
    -> PATH (the shared secret, 0600). Refuses to overwrite. Returns the files written."""
    path = Path(path)
    if alg not in ALGS:
        raise InvalidInput(f"unknown signature algorithm {alg!r}; use one of {', '.join(ALGS)}",
                           value=alg)
    outs = [path] + ([Path(str(path) + ".pub")] if alg == "ed25519" else [])
    for p in outs:
        if p.exists():
            raise InvalidInput(f"{p} exists; a key is never overwritten", value=str(p))
    if alg == "ed25519":
        ser, ed = _crypto()
        key = ed.Ed25519PrivateKey.generate()
        private = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                    ser.NoEncryption())
        public = key.public_key().public_bytes(ser.Encoding.PEM,
                                               ser.PublicFormat.SubjectPublicKeyInfo)
        _write_secret(path, private)
        outs[1].write_bytes(public)
    else:
        _write_secret(path, (secrets.token_hex(32) + "\n").encode())
    return outs


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class Key:
    """A signing or verifying key loaded from a file (see :func:`load_key`)."""

    def __init__(self, alg: str, obj, key_id: str, private: bool):
        self.alg, self.obj, self.key_id, self.private = alg, obj, key_id, private

    def sign(self, head: str) -> str:
        if self.alg == "hmac-sha256":
            return hmac.new(self.obj, DOMAIN + head.encode(), hashlib.sha256).hexdigest()
        if not self.private:
            raise InvalidInput("a public key cannot sign; pass the private key", value=None)
        return self.obj.sign(DOMAIN + head.encode()).hex()

    def verify(self, head: str, signature: str) -> bool:
        """Whether ``signature`` signs ``head``; False (never an error) for any string a
        signer could not have written: a head or a signature that is not ASCII (a lone
        surrogate, a non-ASCII letter) is a signature that does not verify (docs/audit.md,
        "Signing runs")."""
        if not (head.isascii() and signature.isascii()):
            return False
        if self.alg == "hmac-sha256":
            return hmac.compare_digest(self.sign(head).encode(), signature.encode())
        pub = self.obj.public_key() if self.private else self.obj
        try:
            pub.verify(bytes.fromhex(signature), DOMAIN + head.encode())
        except Exception:  # InvalidSignature, or a signature that is not hex
            return False
        return True


def load_key(path, alg: str) -> Key:
    """``ed25519``: a PEM private (to sign) or public (to verify) key; ``hmac-sha256``: a file
    holding the secret as hex (at least 32 bytes)."""
    data = _read(path, "key")
    if alg == "hmac-sha256":
        try:
            secret = bytes.fromhex(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise InvalidInput(f"HMAC key {path}: expected the secret as hex digits "
                               "(tokenauction audit --keygen PATH --hmac writes one)",
                               value=str(path)) from None
        if len(secret) < 32:
            raise InvalidInput(f"HMAC key {path}: {len(secret)} bytes; use at least 32",
                               value=len(secret))
        return Key(alg, secret, hashlib.sha256(b"key-id\n" + secret).hexdigest()[:16], True)
    ser, ed = _crypto()
    try:
        if b"PRIVATE KEY" in data:
            obj, private = ser.load_pem_private_key(data, password=None), True
            pub = obj.public_key()
        else:
            obj, private = ser.load_pem_public_key(data), False
            pub = obj
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"key {path}: not a PEM Ed25519 key ({exc})", value=str(path)) from None
    if not isinstance(pub, ed.Ed25519PublicKey):
        raise InvalidInput(f"key {path}: a {type(pub).__name__}, not an Ed25519 key",
                           value=str(path))
    raw = pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return Key(alg, obj, hashlib.sha256(raw).hexdigest()[:16], private)


def load_signing_key(path) -> Key:
    """A key to sign with, its scheme read from the file: a PEM private key is Ed25519,
    anything else an HMAC secret."""
    alg = "ed25519" if b"PRIVATE KEY" in _read(path, "key") else "hmac-sha256"
    key = load_key(path, alg)
    if alg == "ed25519" and not key.private:
        raise InvalidInput(f"key {path}: a public key cannot sign; pass the private key",
                           value=str(path))
    return key


def run_head(folder) -> str:
    """The head of a finished run: the hash of its last line, which must be the end record.
    Only the file's tail is read (at most one line's bound): a run of any length signs in
    bounded memory (the whole transcript was read)."""
    path = Path(folder) / JSONL
    try:
        with open_binary(path) as fh:
            size = fh.seek(0, os.SEEK_END)
            take = min(size, MAX_LINE + 2)
            fh.seek(size - take)
            tail = fh.read(take)
    except OSError as exc:
        raise InvalidInput(f"transcript {path}: cannot be read ({exc.strerror or exc})",
                           value=str(path)) from None
    lines = tail.splitlines(keepends=True)
    if not lines:
        raise InvalidInput(f"{path} is empty; nothing to sign", value=str(path))
    last = parse_line(lines[-1], f"{path} (its last line)")
    if last.get("end") is not True or not isinstance(last.get("hash"), str):
        raise InvalidInput(f"{path}: the run has no end record; only a finished run is signed",
                           value=str(path))
    return last["hash"]


def sign_run(folder, key: Key) -> Path:
    """Write ``head.sig`` for a finished run folder (replacing an older one)."""
    head = run_head(folder)
    rec = {"alg": key.alg, "format": SIG_FORMAT, "head": head, "key_id": key.key_id,
           "signature": key.sign(head)}
    out = Path(folder) / SIG_FILE
    out.write_bytes(canonical(rec) + b"\n")
    return out


def signed_head(folder, key: Key) -> tuple[str | None, str]:
    """``(head, "")`` when ``head.sig`` holds a valid signature by ``key``, else
    ``(None, why)``. Never raises for a bad or missing signature file (that is a finding)."""
    path = Path(folder) / SIG_FILE
    if not path.is_file():
        return None, f"no {SIG_FILE}: the run is not signed"
    try:
        rec = parse_line(_read(path, "signature"), f"{path}:1", max_depth=1)
    except InvalidInput as exc:
        return None, f"{SIG_FILE} is malformed: {exc}"
    if sorted(rec) != sorted(SIG_FIELDS) or rec["format"] != SIG_FORMAT or \
            not all(isinstance(rec[k], str) for k in SIG_FIELDS):
        return None, f"{SIG_FILE} is not a {SIG_FORMAT} record"
    if rec["alg"] != key.alg:
        return None, f"{SIG_FILE} is signed with {rec['alg']!r}, the key is {key.alg!r}"
    if rec["key_id"] != key.key_id:
        return None, f"{SIG_FILE} names key {rec['key_id']}, the key given is {key.key_id}"
    if not key.verify(rec["head"], rec["signature"]):
        return None, f"{SIG_FILE}: the signature does not verify under key {key.key_id}"
    return rec["head"], ""
