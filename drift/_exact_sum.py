"""Exact sums of doubles, kept as Python integers in units of 2**-1126 (private helper).

Every finite double is an integer multiple of 2**-1126, so sums held this way never round:
added in any order or split, they are identical, which keeps merged regression states equal
to one state fed all the rows.

Examples
--------
>>> import numpy as np
>>> total = exact_int_sum(np.array([1e16, 1.0, -1e16]))
>>> exact_to_float(total)  # a plain float sum gives 0.0
1.0
>>> exact_int_sum(np.array(exact_to_floats(total))) == total
True
"""

from __future__ import annotations

import math

import numpy as np

_EXACT_SHIFT = 1126  # every finite double is an integer multiple of 2**-1126 (and 2**-1074)


def exact_int_sum(values: np.ndarray) -> int:
    """The exact sum of finite doubles, as an integer count of 2**-1126 (vectorised; a
    few values, as a window state holds, summed in Python integers: the same integer)."""
    flat = np.ravel(np.asarray(values, dtype=np.float64))
    if flat.size <= _FEW:
        total = 0
        for value in flat.tolist():
            if not math.isfinite(value):
                break  # not a finite double: as the vectorised pass treats it
            mantissa, exponent = math.frexp(value)
            total += int(mantissa * 2.0**53) << (exponent - 53 + _EXACT_SHIFT)
        else:
            return total
    return exact_column_sums(flat.reshape(-1, 1))[0]


_FEW = 32
"""Up to this many values, :func:`exact_int_sum` adds them one by one."""


def exact_to_float(total: int) -> float:
    """The double nearest to ``total`` units of 2**-1126 (``OverflowError`` if too large)."""
    return total / (1 << _EXACT_SHIFT)  # int / int is correctly rounded


def exact_to_floats(total: int) -> list[float]:
    """Non-overlapping doubles whose exact sum is ``total`` (a compact, JSON-safe form)."""
    parts: list[float] = []
    while total:
        part = exact_to_float(total)
        parts.append(part)
        total -= exact_int_sum(np.array([part]))
    return parts



def exact_column_sums(matrix: np.ndarray) -> list[int]:
    """The exact sum of each column of a 2-D array of finite doubles, as integer counts of
    2**-1126 (one vectorised pass, like :func:`exact_int_sum` on every column).

    >>> import numpy as np
    >>> sums = exact_column_sums(np.array([[1e16, 0.5], [1.0, 0.25], [-1e16, 0.25]]))
    >>> [exact_to_float(s) for s in sums]
    [1.0, 1.0]
    """
    values = np.asarray(matrix, dtype=np.float64)
    rows, columns = values.shape
    totals = [0] * columns
    if values.size == 0:
        return totals
    mantissa, exponent = np.frexp(values)
    integers = (mantissa * 2.0**53).astype(np.int64).ravel()
    shifts = (exponent.astype(np.int64) - 53 + _EXACT_SHIFT).ravel()
    lowest = int(shifts.min())
    # one bin per (shift, column): a bounded range, so bincount needs no sort
    keys = (shifts - lowest) * columns + np.tile(np.arange(columns, dtype=np.int64), rows)
    bins = int(keys.max()) + 1
    high, low = integers >> 26, integers & ((1 << 26) - 1)
    chunk = 1 << 25
    for start in range(0, integers.size, chunk):
        part = slice(start, start + chunk)
        high_sums = np.bincount(keys[part], weights=high[part], minlength=bins)
        low_sums = np.bincount(keys[part], weights=low[part], minlength=bins)
        used = np.flatnonzero((high_sums != 0) | (low_sums != 0))
        for key, h, lo in zip(used.tolist(), high_sums[used].tolist(), low_sums[used].tolist(),
                              strict=True):
            shift, column = divmod(key, columns)
            totals[column] += ((int(h) << 26) + int(lo)) << (shift + lowest)
    return totals


def pack_exact(total: int) -> tuple[int, bytes]:
    """A compact lossless form of an exact sum: ``(trailing zero bits, signed bytes)``.

    >>> pack_exact(0), unpack_exact(*pack_exact(-(5 << 1100))) == -(5 << 1100)
    ((0, b''), True)
    """
    if total == 0:
        return 0, b""
    zeros = (total & -total).bit_length() - 1
    rest = total >> zeros
    return zeros, rest.to_bytes((rest.bit_length() + 8) // 8, "little", signed=True)


def unpack_exact(zeros: int, data: bytes) -> int:
    """Inverse of :func:`pack_exact`."""
    return int.from_bytes(data, "little", signed=True) << zeros if data else 0
