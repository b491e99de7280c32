"""Darshan record ids: Bob Jenkins' 64-bit lookup8 hash of the record name.

The hash walks the key 24 bytes at a time, folding three little-endian words
into the state (a, b, c) and mixing after each block; the last partial block
goes into the same three words, except that the low byte of c carries the key
length. Level (seed) is 0, as in the Darshan runtime.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C13
_BLOCK = 24

# Shift of each of the twelve mixing steps: (a, b, c) per round, negative
# numbers shift right, positive ones shift left.
_ROUNDS = ((-43, 9, -8), (-38, 23, -5), (-35, 49, -11), (-12, 18, -22))


def _shift(x: int, k: int) -> int:
    return (x << k) & _MASK if k > 0 else x >> -k


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    for ka, kb, kc in _ROUNDS:
        a = ((a - b - c) & _MASK) ^ _shift(c, ka)
        b = ((b - c - a) & _MASK) ^ _shift(a, kb)
        c = ((c - a - b) & _MASK) ^ _shift(b, kc)
    return a, b, c


def record_id(name: str | bytes) -> int:
    """The 64-bit id Darshan gives a record called `name` (UTF-8 for str)."""
    key = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    a = b = 0
    c = _GOLDEN
    whole = len(key) - len(key) % _BLOCK
    for pos in range(0, whole, _BLOCK):
        a = (a + int.from_bytes(key[pos:pos + 8], "little")) & _MASK
        b = (b + int.from_bytes(key[pos + 8:pos + 16], "little")) & _MASK
        c = (c + int.from_bytes(key[pos + 16:pos + 24], "little")) & _MASK
        a, b, c = _mix(a, b, c)
    tail = key[whole:]
    c = (c + len(key)) & _MASK
    a = (a + int.from_bytes(tail[0:8], "little")) & _MASK
    b = (b + int.from_bytes(tail[8:16], "little")) & _MASK
    # c's lowest byte holds the length, so the tail's bytes 16..22 start at bit 8
    c = (c + (int.from_bytes(tail[16:23], "little") << 8)) & _MASK
    return _mix(a, b, c)[2]
