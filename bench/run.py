"""fastmlp against scikit-learn and PyTorch on the CPU, side by side.

Same data, model and optimiser settings (MLP, relu, Adam, float32, one epoch)
for fastmlp, scikit-learn's MLPClassifier (float32 input) and PyTorch (an
idiomatic eager loop: nn.Sequential, CrossEntropyLoss, torch.optim.Adam,
torch.set_num_threads equal to ours) when PyTorch is installed; in one
process, interleaved, best of several repetitions.  Also prediction latency
(one sample) and batch prediction (10,000 and 100,000 samples, with its
GFLOP/s, 2 x weights x samples), and training on 1 and 2 threads.  With
`--dense` the inputs are standardised first, as a StandardScaler in a
pipeline makes them (almost no zeros: the dense first layer).

Columns: seconds per epoch, samples per second, GFLOP/s counted as
6 x weights x samples, its fraction of the sgemm peak measured (bench/peak.py)
at the same thread count, the ratios of the others' times to fastmlp's, and
the peak RSS of the fit.  Output: a Markdown table (printed), JSON and a PNG
plot in bench/results/.

    python bench/run.py [--data-dir DIR] [--repeats 3] [--threads 2]
                        [--configs 256,128/128 ...] [--quick] [--dense]
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peak import sgemm_gflops  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp import MLPClassifier  # noqa: E402
from fastmlp._datasets import find_data_dir, load_idx_folder  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IDLE = 0.5  # seconds of rest before each timed run

#: models whose prediction latency and throughput are measured
PREDICT_MODELS = [(100,), (256, 128)]

#: (hidden layers, batch size, training samples or None for all)
CONFIGS = [
    ((100,), 128, None),
    ((256, 128), 128, None),
    ((256, 128), 32, None),
    ((1024, 1024), 256, None),
    ((4096, 4096), 512, 8192),
]


class NoMemory:
    """Stands in for PeakRSS in timed runs: the sampling thread would take
    a core from the library being timed every 2 ms."""

    mb = float("nan")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class PeakRSS:
    """Peak resident memory of this process while the block runs, sampled
    every 2 ms from /proc/self/statm (the kernel's own high-water mark cannot
    be reset in every sandbox)."""

    page = os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self):
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * self.page
        except OSError:
            return 0

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.mb = self.peak / 2**20


def n_weights(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# --- the three contenders: each returns (seconds, peak RSS in MB) -------------

def run_fastmlp(X, y, hidden, batch, threads, memory=NoMemory):
    clf = MLPClassifier(hidden, batch_size=batch, max_iter=1, random_state=0,
                        n_threads=threads, dtype="float32")
    gc.collect()
    with warnings.catch_warnings(), memory() as mem:
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        clf.fit(X, y)
        t = time.perf_counter() - tic
    return t, mem.mb, clf


def run_sklearn(X, y, hidden, batch, threads, memory=NoMemory):
    clf = SkMLPClassifier(hidden, batch_size=batch, max_iter=1, random_state=0)
    gc.collect()
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="blas"), \
            memory() as mem:
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        clf.fit(X, y)
        t = time.perf_counter() - tic
    return t, mem.mb, clf


def make_torch_model(n_in, hidden, n_out):
    import torch
    from torch import nn

    layers, prev = [], n_in
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, n_out))
    torch.manual_seed(0)
    return nn.Sequential(*layers)


def run_torch(X, y, hidden, batch, threads, memory=NoMemory):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.int64))
    model = make_torch_model(X.shape[1], hidden, int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gc.collect()
    with memory() as mem:
        tic = time.perf_counter()
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), batch):
            idx = perm[i:i + batch]
            xb, yb = Xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        t = time.perf_counter() - tic
    return t, mem.mb, model


def predict_times(clf, X, repeats, torch_model=None, threads=2):
    """(fastmlp, torch) seconds: one-sample latency, and the time of 10,000
    and of 100,000 samples (X's rows repeated as needed)."""
    one = X[:1].copy()
    batches = {n: np.ascontiguousarray(np.resize(X, (n, X.shape[1])))
               for n in (10_000, 100_000)}

    def best(fn, inner):
        time.sleep(IDLE)
        fn()
        b = np.inf
        for _ in range(repeats):
            tic = time.perf_counter()
            for _ in range(inner):
                fn()
            b = min(b, (time.perf_counter() - tic) / inner)
        return b

    out = {"fastmlp_1": best(lambda: clf.predict_proba(one), 2000)}
    for n, Xn in batches.items():
        out[f"fastmlp_{n // 1000}k"] = best(lambda: clf.predict_proba(Xn),
                                            5 if n <= 10_000 else 1)
    if torch_model is not None:
        import torch

        torch.set_num_threads(threads)
        t1 = torch.from_numpy(one)
        with torch.inference_mode():
            out["torch_1"] = best(lambda: torch.softmax(torch_model(t1), 1), 2000)
            for n, Xn in batches.items():
                tn = torch.from_numpy(Xn)
                out[f"torch_{n // 1000}k"] = best(
                    lambda: torch.softmax(torch_model(tn), 1).numpy(),
                    5 if n <= 10_000 else 1)
    return out


RUNNERS = {"fastmlp": run_fastmlp, "scikit-learn": run_sklearn, "pytorch": run_torch}


def memory_child(args):
    """In a fresh process: load the data and the library, then fit one epoch
    and print the fit's peak RSS above the RSS before it (MB).  A process of
    its own, because in the main one memory freed by an earlier run stays
    resident and hides what a later run allocates."""
    name, config, threads = args.memory_child
    h, b = config.split("/")
    hidden = tuple(int(v) for v in h.split(","))
    X, y, _ = load(args.data_dir, quiet=True)
    if args.dense:
        X = standardised(X)
    if name == "pytorch":
        import torch  # noqa: F401  (imported before the baseline)
    gc.collect()
    before = PeakRSS()._rss()
    _, peak_mb, _ = RUNNERS[name](X, y, hidden, int(b), int(threads), memory=PeakRSS)
    print(json.dumps({"extra_mb": peak_mb - before / 2**20,
                      "x_mb": X.nbytes / 2**20}))


def fit_memory(name, config, threads, data_dir, dense=False):
    """(extra MB during fit, MB of X) of one fit in a child process."""
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", name, config,
           str(threads), "--sparse", fastmlp.get_config()["sparse_first_layer"]]
    if dense:
        cmd.append("--dense")
    if data_dir:
        cmd += ["--data-dir", data_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    return res["extra_mb"], res["x_mb"]


def load(data_dir, quiet=False):
    folder = os.path.join(data_dir, "mnist") if data_dir else None
    if folder and os.path.isdir(folder):
        X, y, _, _ = load_idx_folder(folder)
        return X, y, "MNIST"
    if not quiet:
        print("MNIST not found: synthetic data of its shape (60000 x 784, 10 classes)")
    rng = np.random.default_rng(0)
    return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000), "synthetic"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=find_data_dir(HERE))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=None,
                        help="e.g. 256,128/128 (hidden/batch)")
    parser.add_argument("--quick", action="store_true",
                        help="skip scikit-learn on the two largest configs")
    parser.add_argument("--memory-configs", nargs="*", default=["256,128/128"],
                        help="configs whose fit memory is measured, each library "
                             "in a fresh process")
    parser.add_argument("--sparse", choices=("auto", "always", "never"), default="auto",
                        help="fastmlp's sparse first layer: by the inputs' density "
                             "(auto, the default, as for users), or forced on or off")
    parser.add_argument("--text", type=int, default=100_000,
                        help="the TF-IDF row: N documents over N words, ~100 per "
                             "document, as scipy.sparse CSR (bench/sparse_text.py); "
                             "0 skips it")
    parser.add_argument("--dense", action="store_true",
                        help="standardise the inputs first (StandardScaler), as a "
                             "pipeline would: no zeros, the dense first layer")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    with fastmlp.config_context(sparse_first_layer=args.sparse):
        if args.memory_child:
            return memory_child(args)
        return benchmark(args)


def standardised(X):
    """X as a StandardScaler makes it (float32 kept)."""
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(X).astype(np.float32)


def benchmark(args):
    """The whole comparison, under main's settings (fastmlp's config)."""
    X_all, y_all, data_name = load(args.data_dir)
    if args.dense:
        X_all = standardised(X_all)
        data_name += " standardised"
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
        print("PyTorch not installed: comparing with scikit-learn only")

    configs = CONFIGS
    if args.configs:
        configs = []
        for c in args.configs:
            h, b = c.split("/")
            configs.append((tuple(int(v) for v in h.split(",")), int(b), None))

    peaks = {nt: sgemm_gflops(nt) for nt in sorted({1, args.threads})}

    # scaling: 1 -> n threads on (1024, 1024)/256, measured first, while no
    # other library's thread pool has run in this process
    # (interleaved, best of --repeats each: the machine's noise hits both)
    scale = {1: np.inf, args.threads: np.inf}
    for _ in range(max(2, args.repeats)):
        for nt in scale:
            time.sleep(IDLE)
            t = run_fastmlp(X_all[:20000], y_all[:20000], (1024, 1024), 256, nt)[0]
            scale[nt] = min(scale[nt], t)
    print(f"fastmlp sparse first layer: {args.sparse}")
    print(f"sgemm peak (cython_blas, 4096^3): "
          + ", ".join(f"{nt} thread(s) {g:.0f} GFLOP/s" for nt, g in peaks.items()))

    rows = []
    for hidden, batch, subset in configs:
        X = X_all[:subset] if subset else X_all
        y = y_all[:subset] if subset else y_all
        sizes = [X.shape[1], *hidden, 10]
        flops = 6 * n_weights(sizes) * X.shape[0]
        contenders = {"fastmlp": run_fastmlp}
        big = n_weights(sizes) > 2_000_000
        if not (args.quick and big):
            contenders["scikit-learn"] = run_sklearn
        if have_torch:
            contenders["pytorch"] = run_torch
        run_fastmlp(X[:2048], y[:2048], hidden, batch, args.threads)  # warm-up
        times = {k: [] for k in contenders}
        fitted = {}
        reps = 1 if big and args.repeats > 1 else args.repeats
        for _ in range(reps):
            for name, fn in contenders.items():
                # The previous library's threads spin for a while after its
                # last parallel region (OpenMP, OpenBLAS, MKL): let them go
                # idle, so that no run pays for the one before it.
                time.sleep(IDLE)
                t, _, model = fn(X, y, hidden, batch, args.threads)
                times[name].append(t)
                fitted[name] = model
        best = {k: min(v) for k, v in times.items()}
        row = dict(config=f"{hidden}/{batch}", n_samples=X.shape[0], best=best,
                   gflops=flops / best["fastmlp"] / 1e9,
                   peak_fraction=flops / best["fastmlp"] / 1e9 / peaks[args.threads],
                   threads=args.threads)
        rows.append(row)
        print(f"{row['config']:>22}: " + ", ".join(
            f"{k} {v:.3f} s" for k, v in best.items()), flush=True)

    if args.text:
        # sparse input: the same CSR for both (PyTorch's sparse training is
        # another program, not compared here)
        from sparse_text import tfidf_like

        Xs, ys = tfidf_like(args.text, args.text, 100)
        times = {"fastmlp": [], "scikit-learn": []}
        for _ in range(1 if args.quick else max(1, args.repeats - 1)):
            for name, fn in (("fastmlp", run_fastmlp), ("scikit-learn", run_sklearn)):
                time.sleep(IDLE)
                times[name].append(fn(Xs, ys, (256,), 128, args.threads)[0])
        best = {k: min(v) for k, v in times.items()}
        rows.append(dict(config=f"TF-IDF CSR {args.text}x{args.text} (256,)/128",
                         n_samples=Xs.shape[0], best=best, gflops=float("nan"),
                         peak_fraction=float("nan"), threads=args.threads))
        print(f"{rows[-1]['config']:>22}: " + ", ".join(
            f"{k} {v:.3f} s" for k, v in best.items()), flush=True)

    # prediction, on the (100,) and (256, 128) models
    preds = {}
    for hidden in PREDICT_MODELS:
        clf = run_fastmlp(X_all[:20000], y_all[:20000], hidden, 128, args.threads)[2]
        tmodel = (run_torch(X_all[:2000], y_all[:2000], hidden, 128, args.threads)[2]
                  if have_torch else None)
        preds[str(hidden)] = predict_times(clf, X_all, args.repeats + 2, tmodel,
                                           args.threads)

    memory = {}
    for config in args.memory_configs:
        memory[config] = {
            name: fit_memory(name, config, args.threads, args.data_dir, args.dense)[0]
            for name in RUNNERS if name != "pytorch" or have_torch
        }

    x_bytes = X_all.nbytes / 2**20
    print(f"\n{data_name}, relu, Adam, float32, one epoch, {args.threads} threads; "
          f"best of {args.repeats}; X is {x_bytes:.0f} MB as float32\n")
    head = "| config | samples | fastmlp s | samples/s | GFLOP/s | % of sgemm peak |"
    sep = "|---|---|---|---|---|---|"
    for other in ("scikit-learn", "pytorch"):
        head += f" {other} s | {other} / fastmlp |"
        sep += "---|---|"
    print(head)
    print(sep)
    for r in rows:
        b = r["best"]
        line = (f"| {r['config']} | {r['n_samples']} | {b['fastmlp']:.3f} | "
                f"{r['n_samples'] / b['fastmlp']:,.0f} | {r['gflops']:.0f} | "
                f"{100 * r['peak_fraction']:.0f}% |")
        for other in ("scikit-learn", "pytorch"):
            if other in b:
                line += f" {b[other]:.3f} | {b[other] / b['fastmlp']:.2f}x |"
            else:
                line += " - | - |"
        print(line)
    for config, mem in memory.items():
        print(f"\nmemory, {config}: peak RSS of the fit above the process before it "
              f"(X, {x_bytes:.0f} MB, already loaded; each in a fresh process): "
              + ", ".join(f"{k} {v:.0f} MB" for k, v in mem.items()))
    print()
    for hidden in PREDICT_MODELS:
        model, pred = str(hidden), preds[str(hidden)]
        print(f"predict_proba, {model} model: one sample {pred['fastmlp_1'] * 1e6:.1f} us"
              + (f" (PyTorch {pred['torch_1'] * 1e6:.1f} us, "
                 f"{pred['torch_1'] / pred['fastmlp_1']:.1f}x)" if "torch_1" in pred else ""))
        sizes = [X_all.shape[1], *hidden, 10]
        for n in (10, 100):
            t = pred[f"fastmlp_{n}k"]
            gf = 2 * n_weights(sizes) * n * 1000 / t / 1e9
            print(f"  {n},000 samples {t * 1e3:.2f} ms, {gf:.0f} GFLOP/s "
                  f"({100 * gf / peaks[args.threads]:.0f}% of sgemm peak)"
                  + (f"; PyTorch {pred[f'torch_{n}k'] * 1e3:.2f} ms "
                     f"({pred[f'torch_{n}k'] / t:.2f}x)" if f"torch_{n}k" in pred else ""))
    print(f"threads, (1024, 1024)/256 on 20,000 samples: 1 thread {scale[1]:.3f} s, "
          f"{args.threads} threads {scale[args.threads]:.3f} s, "
          f"speed-up {scale[1] / scale[args.threads]:.2f}x")

    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "run.json"), "w") as f:
        json.dump(dict(data=data_name, peaks=peaks, rows=rows, predict=preds,
                       scaling=scale, fit_memory_mb=memory, x_mb=x_bytes), f, indent=1)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = [r["config"] for r in rows]
        xs = np.arange(len(rows))
        for i, k in enumerate(("fastmlp", "scikit-learn", "pytorch")):
            vals = [r["n_samples"] / r["best"][k] if k in r["best"] else 0 for r in rows]
            ax.bar(xs + (i - 1) * 0.27, vals, 0.27, label=k)
        ax.set_xticks(xs, names, fontsize=7)
        ax.set_ylabel("training samples / s")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.set_title(f"one epoch, {args.threads} threads, float32, Adam", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(HERE, "results", "run.png"), dpi=110)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
