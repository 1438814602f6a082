"""How long fastmlp takes to honour Ctrl-C during fit, partial_fit and
predict_proba.

A child process trains (or predicts) on data of MNIST's shape; SIGINT arrives
after --delay seconds, from a timer thread, as from a terminal.  The signal
handler notes the time before raising KeyboardInterrupt (Python runs it at
the engine's next check, every 5 ms between minibatches), and the latency is
the time from the signal to the moment the call has returned (fit, with its
warning) or raised (partial_fit, predict_proba).

    python bench/interrupt_latency.py [--hidden 1024 1024] [--batch-size 256]
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, os, signal, sys, threading, time, warnings
# Ctrl-C as from a terminal, even when this runs as a background job (which
# starts with SIGINT ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
import fastmlp
args = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.random((args["n"], 784), dtype=np.float32)
y = rng.integers(0, 10, args["n"])
est = fastmlp.MLPClassifier(tuple(args["hidden"]), batch_size=args["batch"],
                            max_iter=args["epochs"], random_state=0, tol=0,
                            n_iter_no_change=10**6)
if args["what"] == "predict_proba":
    est.set_params(max_iter=1).fit(X[:1000], y[:1000])
    X = np.tile(X, (args["tile"], 1))
sent = {}
def send():
    sent["t"] = time.perf_counter()
    os.kill(os.getpid(), signal.SIGINT)
threading.Timer(args["delay"], send).start()
result = {}
tic = time.perf_counter()
try:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        if args["what"] == "fit":
            est.fit(X, y)
            result["outcome"] = "returned: " + "; ".join(str(x.message) for x in w)
        elif args["what"] == "partial_fit":
            est.partial_fit(X, y, classes=np.arange(10))
            result["outcome"] = "returned"
        else:
            est.predict_proba(X)
            result["outcome"] = "returned"
except KeyboardInterrupt:
    result["outcome"] = "raised KeyboardInterrupt"
end = time.perf_counter()
result["latency_ms"] = 1e3 * (end - sent["t"]) if "t" in sent else None
result["call_s"] = end - tic
result["n_iter_"] = getattr(est, "n_iter_", None)
print(json.dumps(result))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--delay", type=float, default=5.0,
                        help="seconds from the call's start to the signal")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"MLP{tuple(args.hidden)}, batch {args.batch_size}, {args.samples} x 784, "
          f"SIGINT after {args.delay} s (partial_fit: {min(args.delay, 1.0)} s)")
    print("| call | latency (ms), each run | outcome |")
    print("|---|---|---|")
    for what in ("fit", "partial_fit", "predict_proba"):
        # partial_fit is one epoch: the signal comes within its first second
        delay = min(args.delay, 1.0) if what == "partial_fit" else args.delay
        spec = dict(n=args.samples, hidden=args.hidden, batch=args.batch_size,
                    epochs=100, delay=delay, what=what, tile=20)
        lat, outcome = [], ""
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                raise SystemExit(f"{what}: the child failed")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            lat.append(r["latency_ms"])
            outcome = r["outcome"]
        print(f"| {what} | {', '.join('(done first)' if x is None else f'{x:.1f}' for x in lat)}"
              f" | {outcome[:90]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
