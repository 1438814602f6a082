"""The machine's sgemm peak through scipy.linalg.cython_blas (the BLAS the
engine calls), at 1 and 2 threads: the reference for "fraction of peak".

    python bench/peak.py [--size 4096] [--threads 1 2]
"""

import argparse
import json
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from fastmlp._testing import gemm

HERE = os.path.dirname(os.path.abspath(__file__))


def sgemm_gflops(n_threads, size=4096, repeats=3):
    """Best GFLOP/s of a float32 size^3 GEMM over `repeats` timings."""
    rng = np.random.default_rng(0)
    A = rng.random((size, size), dtype=np.float32)
    B = rng.random((size, size), dtype=np.float32)
    C = np.empty((size, size), dtype=np.float32)
    with threadpool_limits(limits=n_threads, user_api="blas"):
        gemm(A, B, C)  # warm-up
        best = np.inf
        for _ in range(repeats):
            tic = time.perf_counter()
            gemm(A, B, C)
            best = min(best, time.perf_counter() - tic)
    return 2.0 * size**3 / best / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    peaks = {nt: sgemm_gflops(nt, args.size) for nt in args.threads}
    print("| threads | sgemm GFLOP/s |")
    print("|---|---|")
    for nt, g in peaks.items():
        print(f"| {nt} | {g:.0f} |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "peak.json"), "w") as f:
        json.dump({str(k): v for k, v in peaks.items()}, f, indent=1)


if __name__ == "__main__":
    main()
