"""The GEMMs of one training step, shape by shape: what OpenBLAS gives the
engine, and what a better GEMM could give.

For a model (hidden layers, batch size, inputs, classes) this lists every
product of a dense training step (forward, weight gradient, delta) and times
each, float32, in a loop of calls:

- ``engine 2T``: the engine's split GEMM as training runs it (C cut along its
  longer side into one block per processor, one single-threaded OpenBLAS call
  per block, on 2 OpenMP threads);
- ``block 1T``: one of those blocks alone on one thread (OpenBLAS);
- ``other cut 1T``: the block had C been cut along its other side (which
  repacks the other operand in each block): what choosing the cut per shape
  could give;
- ``BLAS 2T``: the whole product to OpenBLAS's own 2 threads;
- ``block 1T, M x8``: the same block with 8 times as many rows of C, which
  spreads the packing of the shared operand over 8 times the work: the rate
  packing once would give;
- ``torch 1T`` / ``torch 2T``: PyTorch's ``torch.mm`` (its own GEMM: oneDNN /
  MKL) on the block and on the whole product, when PyTorch is installed.

GFLOP/s are also shown as a share of this machine's sgemm peak (a 4096^3
product, ``bench/peak.py``), measured in the same run.

    python bench/gemm_shapes.py [--hidden 256 128] [--batch-size 128]
                                [--inputs 784] [--outputs 10] [--calls 200]
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from fastmlp._openmp_helpers import n_processors
from fastmlp._testing import matmul_rm
from peak import sgemm_gflops

try:
    import torch
except ImportError:  # PyTorch is a benchmark contender, never a dependency
    torch = None


def step_gemms(sizes, batch):
    """(label, trans, m, n, k) of every product of one dense training step,
    row-major C (m x n) = op(A) op(B); the input layer has no delta."""
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append((f"forward {i + 1}", "NN", batch, b, a))
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append((f"weight grad {i + 1}", "TN", a, b, batch))
    for i, (a, b) in enumerate(zip(sizes[1:-1], sizes[2:])):
        out.append((f"delta {i + 1}", "NT", batch, a, b))
    return out


def operands(trans, m, n, k, rng):
    A = rng.standard_normal((m, k) if trans[0] == "N" else (k, m), dtype=np.float32)
    B = rng.standard_normal((k, n) if trans[1] == "N" else (n, k), dtype=np.float32)
    return A, B, np.empty((m, n), dtype=np.float32)


def best_seconds(fn, calls, repeats=5):
    fn()
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - tic) / calls)
    return best


def block_shape(m, n, parts, by_rows=None):
    """The engine's block of C (D3): the longer side (or the rows if
    `by_rows`, the columns if not) cut in `parts`, edges aligned to 16, no
    block under 32 (``_parallel.matmul``)."""
    by_rows = m >= n if by_rows is None else by_rows
    dim = m if by_rows else n
    per = min(dim, max(32, -(-(-(-dim // parts)) // 16) * 16))
    return (per, n) if by_rows else (m, per)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--inputs", type=int, default=784)
    parser.add_argument("--outputs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    sizes = [args.inputs, *args.hidden, args.outputs]
    parts = n_processors()
    peak1, peak2 = sgemm_gflops(1), sgemm_gflops(2)
    print(f"sizes {sizes}, batch {args.batch_size}, {parts} blocks per split GEMM; "
          f"sgemm peak {peak1:.0f} GFLOP/s (1 thread), {peak2:.0f} (2 threads)\n")
    cols = ["engine 2T", "block 1T", "other cut 1T", "BLAS 2T", "block 1T, M x8"]
    if torch is not None:
        cols += ["torch 1T", "torch 2T"]
    print("| product | m x n x k | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    totals = {c: 0.0 for c in cols}
    flops_total = 0.0
    for label, trans, m, n, k in step_gemms(sizes, args.batch_size):
        flops = 2.0 * m * n * k
        flops_total += flops
        A, B, C = operands(trans, m, n, k, rng)
        split = flops >= 1e6
        with threadpool_limits(limits=1, user_api="blas"):
            t = {"engine 2T": best_seconds(
                lambda: matmul_rm(trans, A, B, C, n_threads=2, split=split,
                                  parts=parts if split else 1), args.calls)}
            bm, bn = block_shape(m, n, parts if split else 1)
            Ab, Bb, Cb = operands(trans, bm, bn, k, rng)
            t["block 1T"] = best_seconds(lambda: matmul_rm(trans, Ab, Bb, Cb),
                                         args.calls) * (m * n) / (bm * bn)
            om, on = block_shape(m, n, parts if split else 1, by_rows=m < n)
            Ao, Bo, Co = operands(trans, om, on, k, rng)
            t["other cut 1T"] = best_seconds(lambda: matmul_rm(trans, Ao, Bo, Co),
                                             args.calls) * (m * n) / (om * on)
            A8, B8, C8 = operands(trans, 8 * bm, bn, k, rng)
            t["block 1T, M x8"] = best_seconds(
                lambda: matmul_rm(trans, A8, B8, C8), max(1, args.calls // 8)
            ) * (m * n) / (8 * bm * bn)
        with threadpool_limits(limits=2, user_api="blas"):
            t["BLAS 2T"] = best_seconds(lambda: matmul_rm(trans, A, B, C), args.calls)
        if torch is not None:
            def tmm(X, Y, Z):
                tx, ty, tz = (torch.from_numpy(v) for v in (X, Y, Z))
                tx = tx.T if trans[0] == "T" else tx
                ty = ty.T if trans[1] == "T" else ty
                return lambda: torch.mm(tx, ty, out=tz)
            torch.set_num_threads(1)
            t["torch 1T"] = best_seconds(tmm(Ab, Bb, Cb), args.calls) * (m * n) / (bm * bn)
            torch.set_num_threads(2)
            t["torch 2T"] = best_seconds(tmm(A, B, C), args.calls)
        cells = []
        for c in cols:
            totals[c] += t[c]
            rate = flops / t[c] / 1e9
            # 1T columns: per-core rate, against the 1-thread peak
            peak = peak2 if c.endswith("2T") else peak1
            cells.append(f"{rate:.0f} ({rate / peak:.0%})")
        print(f"| {label} | {m} x {n} x {k} | " + " | ".join(cells) + " |")
    cells = []
    for c in cols:
        rate = flops_total / totals[c] / 1e9
        peak = peak2 if c.endswith("2T") else peak1
        cells.append(f"{rate:.0f} ({rate / peak:.0%})")
    print("| **step** | | " + " | ".join(cells) + " |")
    print("\nGFLOP/s (share of the peak for that many threads); 1T columns are "
          "one core's rate on the block the engine gives each thread.")


if __name__ == "__main__":
    main()
