"""Vectors on 64-byte boundaries for the engine.

numpy's allocator aligns to 16 bytes, and then every 64-byte load of a row
of W straddles two cache lines (the sparse first layer's products were 1.4x
slower: bench/DECISIONS.md D14).  theta, the gradient, the optimiser state
and the workspace come from here.
"""

import numpy as np

#: Byte boundary of the engine's vectors: a cache line and an AVX-512 register.
ALIGNMENT = 64


def aligned_empty(n, dtype):
    """An uninitialised 1-d array of `n` elements of `dtype` whose data
    starts on an ALIGNMENT-byte boundary."""
    dtype = np.dtype(dtype)
    buf = np.empty(n * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -buf.ctypes.data % ALIGNMENT
    return buf[start:start + n * dtype.itemsize].view(dtype)


def aligned_zeros(n, dtype):
    """`aligned_empty`, zeroed."""
    out = aligned_empty(n, dtype)
    out[...] = 0
    return out


def is_aligned(a):
    """Whether `a`'s data starts on an ALIGNMENT-byte boundary."""
    return a.ctypes.data % ALIGNMENT == 0


def aligned(a):
    """A writeable 1-d C-contiguous array on an ALIGNMENT-byte boundary
    holding `a`: `a` itself when it is one."""
    if a.ndim == 1 and a.flags.c_contiguous and a.flags.writeable and is_aligned(a):
        return a
    out = aligned_empty(a.size, a.dtype)
    out[...] = a.ravel()
    return out
