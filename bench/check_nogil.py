"""Show that a training epoch runs without the GIL.

The engine's epoch is one call (``_engine.Engine.train_epoch``) whose
minibatch loop sits inside ``with nogil:`` - Cython refuses to compile any
Python operation there, so no Python runs per minibatch.  This script checks
the consequence at run time: while one long epoch trains in a background
thread, the main thread keeps running Python code.  If the epoch held the GIL,
the main thread would be frozen for the whole epoch (its longest pause would
be about the epoch's length); without it, its longest pause stays at the
interpreter's switch interval (5 ms).

    python bench/check_nogil.py
"""

import threading
import time
import warnings

import numpy as np

from fastmlp import MLPClassifier


def main():
    rng = np.random.default_rng(0)
    X = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000)
    clf = MLPClassifier((512, 256), batch_size=64, max_iter=1, random_state=0,
                        n_threads=1, shuffle=False)
    done = threading.Event()

    def train():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            clf.fit(X, y)
            train.seconds = time.perf_counter() - t0
        done.set()

    worker = threading.Thread(target=train)
    worker.start()
    ticks, longest, last = 0, 0.0, time.perf_counter()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
        ticks += 1
    worker.join()
    print(f"one epoch: {train.seconds:.2f} s; meanwhile the main thread ran "
          f"{ticks:,} Python loop iterations, longest pause {longest * 1e3:.1f} ms")
    verdict = "released" if longest < 0.1 * train.seconds else "HELD"
    print(f"GIL during the epoch: {verdict}")


if __name__ == "__main__":
    main()
