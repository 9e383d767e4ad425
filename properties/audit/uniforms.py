"""The uniforms of many steps at once: :func:`mechanism.step_uniforms` for a whole chunk.

``step_uniforms(seed, step, n)`` draws ``n + EXTRA_UNIFORMS`` doubles from numpy's
``PCG64`` seeded by ``SeedSequence([seed, step])``; built one step at a time that costs
tens of microseconds (the seed sequence, the bit generator and the generator objects).
:func:`many_step_uniforms` computes the same numbers for a vector of steps by writing
the arithmetic out in numpy, every step in each array operation:

* ``SeedSequence``: the entropy words ``[seed, step]`` (uint32 words, low first), the
  pool of 4 words by the hash mixing (``INIT_A``, ``MULT_A``, ``MIX_MULT_L/R``), then
  ``generate_state(4, uint64)`` (``INIT_B``, ``MULT_B``);
* ``PCG64``: the 128-bit LCG ``state = state * MULT + inc (mod 2^128)`` on four 32-bit
  limbs held in uint64 (each partial product and column sum fits), seeded as
  ``pcg_setseq_128_srandom_r``, each output the XSL-RR of the stepped state;
* ``Generator.random``: ``(x >> 11) * 2^-53``.

It is a second method, not a copy of the first: the chunk filter
(:mod:`properties.audit.chunked`) passes a step only when the recorded uniforms equal
these; any other step is audited by the serial path, which calls ``step_uniforms``
itself. tests/properties/audit/test_batch_reader.py compares both on many seeds and
steps, value by value.
"""

from __future__ import annotations

import numpy as np

M32 = np.uint64(0xFFFFFFFF)
S32 = np.uint64(32)
XSHIFT = np.uint64(16)
INIT_A, MULT_A, INIT_B, MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
MIX_MULT_L, MIX_MULT_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
POOL = 4
#: PCG64's default 128-bit multiplier, as four 32-bit limbs (low first).
MULT = 0x2360ED051FC65DA44385DF649FCCF645
MULT_LIMBS = [np.uint64((MULT >> (32 * k)) & 0xFFFFFFFF) for k in range(4)]


class _HashMix:
    """SeedSequence's ``hashmix`` with its running constant."""

    def __init__(self, const: int, mult: int):
        self.const, self.mult = const, mult

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = (value ^ np.uint64(self.const)) & M32
        self.const = (self.const * self.mult) & 0xFFFFFFFF
        value = (value * np.uint64(self.const)) & M32
        return value ^ (value >> XSHIFT)


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = (MIX_MULT_L * x - MIX_MULT_R * y) & M32
    return r ^ (r >> XSHIFT)


def _words(x: int) -> list[int]:
    """An entropy integer as SeedSequence's uint32 words (low first; 0 is one word)."""
    out = [x & 0xFFFFFFFF]
    while x >> 32:
        x >>= 32
        out.append(x & 0xFFFFFFFF)
    return out


def _seed_words(entropy: list[np.ndarray]) -> list[np.ndarray]:
    """``SeedSequence(entropy).generate_state(8, uint32)``, word by word (at most POOL words)."""
    h = _HashMix(INIT_A, MULT_A)
    zero = np.zeros_like(entropy[0])
    pool = [h(entropy[i] if i < len(entropy) else zero) for i in range(POOL)]
    for src in range(POOL):
        for dst in range(POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], h(pool[src]))
    g = _HashMix(INIT_B, MULT_B)
    return [g(pool[i % POOL]) for i in range(8)]


def _carry(cols: list) -> list[np.ndarray]:
    out, c = [], np.uint64(0)
    for col in cols:
        t = col + c
        out.append(t & M32)
        c = t >> S32
    return out


def _lcg(state: list, inc: list) -> list[np.ndarray]:
    """``state * MULT + inc (mod 2^128)`` on 32-bit limbs (column sums stay below 2^36)."""
    cols = [inc[k] + np.uint64(0) for k in range(4)]
    for i in range(4):
        for j in range(4 - i):
            p = state[i] * MULT_LIMBS[j]
            cols[i + j] = cols[i + j] + (p & M32)
            if i + j < 3:
                cols[i + j + 1] = cols[i + j + 1] + (p >> S32)
    return _carry(cols)


def many_step_uniforms(seed: int, steps: np.ndarray, count: int) -> np.ndarray | None:
    """``(len(steps), count)``: row k is ``step_uniforms(seed, steps[k], count - 5)``;
    None when the entropy takes more than POOL words (a seed beyond 2^96) or a step is
    beyond 2^32 (then call ``step_uniforms``; a recorded step of 2^63 or more is a valid
    JSON integer that no int64 holds)."""
    try:
        steps = np.asarray(steps, dtype=np.int64)
    except OverflowError:
        return None
    seed_words = _words(int(seed))
    if steps.size == 0 or len(seed_words) + 1 > POOL or steps.min() < 0 or steps.max() >> 32:
        return None
    ones = np.ones(steps.size, dtype=np.uint64)
    w = _seed_words([ones * np.uint64(x) for x in seed_words] + [steps.astype(np.uint64)])
    # PCG64: seed = val[0] << 64 | val[1], inc = (val[2] << 64 | val[3]) << 1 | 1, where
    # val[k] = w[2k] | w[2k+1] << 32 (the uint32 words read as uint64, little-endian)
    init = [w[2], w[3], w[0], w[1]]
    seq = [w[6], w[7], w[4], w[5]]
    inc = [((seq[k] << np.uint64(1)) | (seq[k - 1] >> np.uint64(31) if k else ones)) & M32
           for k in range(4)]
    zero = np.zeros(steps.size, dtype=np.uint64)
    state = _lcg([zero] * 4, inc)
    state = _lcg(_carry([state[k] + init[k] for k in range(4)]), inc)
    out = np.empty((count, steps.size))
    for k in range(count):
        state = _lcg(state, inc)
        x = (state[2] | (state[3] << S32)) ^ (state[0] | (state[1] << S32))
        r = state[3] >> np.uint64(26)                       # state >> 122
        x = (x >> r) | (x << ((np.uint64(64) - r) & np.uint64(63)))
        out[k] = (x >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return out.T
