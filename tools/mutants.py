"""Hand-made mutation testing: does the test suite notice small, realistic bugs?

Each entry of ``MUTANTS`` is one single-point bug - a sign error, a wrong
constant, a dropped term, an off-by-one, an inverted condition, a forgotten
factor - written as ``(id, file, old snippet, new snippet, description)``.
For each mutant the tool

1. checks that the snippet occurs exactly once in its file (it refuses to
   run otherwise, and refuses to touch a file with uncommitted changes,
   since the revert is ``git checkout``),
2. applies it in the repository given by ``--repo`` (a clone of your own,
   with an editable install: ``pip install --no-build-isolation -e .``, so
   that importing fastmlp rebuilds what changed),
3. imports fastmlp, which rebuilds the extension: a mutant that does not
   build or import is "invalid", not killed,
4. runs ``python -m pytest -x -q -p no:cacheprovider`` (plus
   ``--pytest-args``): a failing test (or a crash, or the timeout) kills the
   mutant, a passing suite lets it survive,
5. reverts the file (``git checkout -- file``) and goes on.

It prints a table (id, file, description, result, killing test) and the
mutation score killed / (killed + survived), invalid mutants excluded, and
with ``--json`` writes the results to a file.

It is not a test: every mutant rebuilds the package and runs the suite
(about a minute each, less when a test fails early).  Run it in a clone,
never in the working copy other people edit::

    git clone /path/to/fastmlp /tmp/mut
    python -m venv /tmp/venv && . /tmp/venv/bin/activate
    pip install numpy scipy scikit-learn threadpoolctl pytest pandas numpydoc \\
        hypothesis meson-python meson ninja Cython psutil
    (cd /tmp/mut && pip install --no-build-isolation -e .)
    python tools/mutants.py --repo /tmp/mut --json mutants.json
    python tools/mutants.py --repo /tmp/mut --only K05 S02       # a few
    python tools/mutants.py --list                                # the mutants
    python tools/mutants.py --repo /tmp/mut --only K05 \\
        --pytest-args "tests/test_kernels.py"                      # a subset

A survivor is either a gap in the tests (write a test that kills it) or an
equivalent mutant (a change no input can observe); ``EQUIVALENT`` records
the reason for the latter, and the table shows it.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

# (id, file, old snippet, new snippet, description).  Ids: K kernels (csrc),
# E engine (Cython), S schedules, T training drivers and estimators.
MUTANTS = [
    # --- kernels: activations --------------------------------------------
    ("K01", "csrc/activations_impl.h",
     "return a > 0 ? g : p * g;",
     "return a > 0 ? g : (T)0;",
     "leaky ReLU backward ignores the slope (ReLU's derivative)"),
    ("K02", "csrc/activations_impl.h",
     "return a > 0 ? g : g * (a + p);",
     "return a > 0 ? g : g * a;",
     "ELU backward g * (a + p) -> g * a"),
    ("K03", "csrc/activations_impl.h",
     "return g * (cdf + v * pdf);",
     "return g * cdf;",
     "GELU derivative drops the v * pdf term"),
    ("K04", "csrc/activations_impl.h",
     "return g * s * ((T)1 + v * ((T)1 - s));",
     "return g * s * ((T)1 + v * s);",
     "SiLU derivative (1 - s) -> s"),
    ("K05", "csrc/activations_impl.h",
     "a[i] = FM_NAME(fm_grad_##name)(g[i] * mask[i], a[i] * q,",
     "a[i] = FM_NAME(fm_grad_##name)(g[i], a[i] * q,",
     "dropout backward ignores the mask"),
    ("K06", "csrc/activations_impl.h",
     "zi[j] = gamma[j] * xh;",
     "zi[j] = xh;",
     "BN normalisation ignores gamma"),
    ("K07", "csrc/activations_impl.h",
     "return g * ((T)1 - a * a);",
     "return g * ((T)1 - a);",
     "tanh derivative 1 - a^2 -> 1 - a"),
    # --- kernels: BN, dropout, noise --------------------------------------
    ("K08", "csrc/regularization_impl.h",
     "(m * (double)di[j] - sb[j] - (double)xi[j] * sg[j])",
     "(m * (double)di[j] - sb[j])",
     "BN backward drops the xhat * dgamma term"),
    ("K09", "csrc/regularization_impl.h",
     "for (ptrdiff_t j = 0; j < cols; j++) var[j] /= (double)rows;",
     "for (ptrdiff_t j = 0; j < cols; j++) var[j] /= (double)(rows - 1);",
     "BN batch variance divided by rows - 1"),
    ("K10", "csrc/regularization_impl.h",
     "x[i] += (T)(std * fm_gaussian(key, first + (uint32_t)i));",
     "x[i] += (T)fm_gaussian(key, first + (uint32_t)i);",
     "input noise ignores its std"),
    ("K11", "csrc/regularization_impl.h",
     "T m = r >= thr ? keep : (T)0;",
     "T m = r >= thr ? (T)1 : (T)0;",
     "dropout forgets the 1 / (1 - p) rescaling"),
    # --- kernels: losses -------------------------------------------------
    ("K12", "csrc/losses_impl.h",
     "return ysum * log(s) - yz;",
     "return log(s) - yz;",
     "softmax loss drops ysum *"),
    ("K13", "csrc/losses_impl.h",
     "z[j] = (FM_NAME(fm_sigmoid)(zj) - y[j]) * ws;",
     "z[j] = (y[j] - FM_NAME(fm_sigmoid)(zj)) * ws;",
     "binary logistic delta with the wrong sign"),
    ("K14", "csrc/losses_impl.h",
     "- yj * zj - yj + mu;",
     "- yj * zj + mu;",
     "Poisson loss drops the - y term"),
    ("K15", "csrc/losses_impl.h",
     "z[j] = r * FM_NAME(fm_sigmoid)(zj) * ws;",
     "z[j] = r * ws;",
     "softplus-squared delta forgets the chain rule's sigmoid"),
    # --- kernels: optimisers ---------------------------------------------
    ("K16", "csrc/optim_impl.h",
     # Adam's own step (SWATS's Adam phase has the same line, before eps only)
     "lr = (T)(s->lr * sqrt(s->c2) / s->c1),\n            e = (T)o->eps, lam",
     "lr = (T)(s->lr / s->c1),\n            e = (T)o->eps, lam",
     "Adam forgets the sqrt(c2) bias correction"),
    ("K17", "csrc/optim_impl.h",
     "theta[i] += mu * v - eta * g;)",
     "theta[i] += v;)",
     "Nesterov update -> plain momentum"),
    ("K18", "csrc/optim_impl.h",
     "avg = FM_SQRT(Ei - ga * ga) + e;",
     "avg = FM_SQRT(Ei) + e;",
     "centered RMSProp drops - ga * ga"),
    ("K19", "csrc/optim_impl.h",
     "theta[i] -= eta * g / (FM_SQRT(Gi) + e);)",
     "theta[i] -= eta * g / FM_SQRT(Gi + e);)",
     "Adagrad eps inside the sqrt"),
    ("K20", "csrc/optim_impl.h",
     "keep = (T)(1.0 - s->lr * s->decay)",
     "keep = (T)(1.0)",
     "AdamW decay ignored"),
    ("K21", "csrc/optim_impl.h",
     # the FM_STEP macro's line (its trailing blanks and backslash make it
     # unique: SWATS's step has the same statement)
     "acc += (double)theta[i] * (double)theta[i];                       \\",
     "acc += (double)theta[i];                                          \\",
     "optimiser's sum of squares not squared"),
    ("K22", "csrc/optim_impl.h",
     "T dx = FM_SQRT(Edx[i] + e) / FM_SQRT(Egi + e) * g;",
     "T dx = FM_SQRT(Edx[i] + e) / FM_SQRT(Egi) * g;",
     "Adadelta drops eps from the denominator's root"),
    ("K23", "csrc/optim_impl.h",
     "T b = mu * buf[i] + g / avg;",
     "T b = buf[i] + g / avg;",
     "RMSProp momentum buffer not decayed by mu"),
    # --- kernels: arrays -------------------------------------------------
    ("K24", "csrc/arrays_impl.h",
     "for (ptrdiff_t j = 0; j < cols; j++) acc[j] += (double)xi[j];",
     "for (ptrdiff_t j = 0; j < cols; j++) acc[j] = (double)xi[j];",
     "colsum += -> ="),
    ("K25", "csrc/arrays_impl.h",
     "if (xi == 0) continue;\n"
     "            const T *row = W + i * ldw + c;\n"
     "            _Pragma(\"omp simd\")\n"
     "            for (ptrdiff_t j = 0; j < w; j++)",
     "if (xi <= 0) continue;\n"
     "            const T *row = W + i * ldw + c;\n"
     "            _Pragma(\"omp simd\")\n"
     "            for (ptrdiff_t j = 0; j < w; j++)",
     "vecmat skips negative inputs (last, narrow chunk)"),
    ("K26", "csrc/arrays_impl.h",
     "if (xi == 0) continue;\n"
     "            const T *row = W + i * ldw + c;\n"
     "            _Pragma(\"omp simd\")\n"
     "            for (ptrdiff_t j = 0; j < FM_VECMAT_W; j++)",
     "if (xi <= 0) continue;\n"
     "            const T *row = W + i * ldw + c;\n"
     "            _Pragma(\"omp simd\")\n"
     "            for (ptrdiff_t j = 0; j < FM_VECMAT_W; j++)",
     "vecmat skips negative inputs (full 128-column chunks)"),
    # --- engine (Cython) -------------------------------------------------
    ("E01", "src/fastmlp/_passes.pyx",
     "n_in * n_out, alpha * b.scale, ws.partial)",
     "n_in * n_out, alpha, ws.partial)",
     "L2 gradient in forward_backward not scaled by 1 / sum(sw)"),
    ("E02", "src/fastmlp/_parallel.pyx",
     "gb[j] = <floating>(gb[j] + acc[j])",
     "gb[j] = <floating>acc[j]",
     "bias gradient accumulation drops the old value"),
    ("E03", "src/fastmlp/_regularization.pyx",
     "rvar[j] = (1.0 - m) * rvar[j] + m * inv_std[j] * unbias",
     "rvar[j] = (1.0 - m) * rvar[j] + m * inv_std[j]",
     "BN running variance without the unbiasing factor"),
    ("E04", "src/fastmlp/_engine.pyx",
     "batch.scale = 1.0 / sw_sum",
     "batch.scale = 1.0 / rows",
     "minibatch gradient scale 1 / sum(sw) -> 1 / rows"),
    ("E05", "src/fastmlp/_optim.pyx",
     "rest.l2 = rest.decay = 0.0",
     "rest.l2 = 0.0\n    rest.decay = weights.decay",
     "AdamW decay applied to the biases (non-weight part) too"),
    ("E06", "src/fastmlp/_regularization.pyx",
     "rmean[j] = (1.0 - m) * rmean[j] + m * mean[j]",
     "rmean[j] = m * rmean[j] + (1.0 - m) * mean[j]",
     "BN running mean with the momentum's weights swapped"),
    ("E07", "src/fastmlp/_regularization.pyx",
     "shift[j] = <floating>(theta[lay.b_off[l] + j] - sc * lay.running[h + j])",
     "shift[j] = <floating>(theta[lay.b_off[l] + j] + sc * lay.running[h + j])",
     "BN at inference: running mean added instead of subtracted"),
    ("E08", "src/fastmlp/_engine.pyx",
     "batch.scale = 1.0 / sw_total",
     "batch.scale = 1.0 / n",
     "full-batch gradient scale 1 / sum(sw) -> 1 / n"),
    ("E09", "src/fastmlp/_engine.pyx",
     "loss = (self.loss_scale * loss + 0.5 * alpha * sumsq_w) / sw_sum",
     "loss = (self.loss_scale * loss + alpha * sumsq_w) / sw_sum",
     "minibatch objective: L2 penalty without its 1/2"),
    ("E10", "src/fastmlp/_optim.pyx",
     "cut = min(max(st.n_decay, i0), i1)",
     "cut = min(max(st.n_decay - 1, i0), i1)",
     "L2 / decay boundary off by one (last weight treated as a bias)"),
    ("E11", "src/fastmlp/_engine.pyx",
     "if lay.bn and rows < 2:",
     "if lay.bn and rows < 1:",
     "BN: a minibatch of one sample is not skipped"),
    ("E12", "src/fastmlp/_optim.pyx",
     "weights.c1 = rest.c1 = 1.0 - pow(st.o.beta1, <double>t)",
     "weights.c1 = rest.c1 = 1.0 - pow(st.o.beta1, <double>(t + 1))",
     "Adam's first bias correction one step ahead"),
    ("E13", "src/fastmlp/_regularization.pyx",
     "inv_std[j] = 1.0 / sqrt(inv_std[j] + lay.bn_eps)",
     "inv_std[j] = 1.0 / sqrt(inv_std[j])",
     "BN training forgets eps in the inverse std"),
    ("E14", "src/fastmlp/_sparse_input.pyx",
     "per = (nvec + nt - 1) // nt * vl",
     "per = nvec // nt * vl",
     "sparse forward product: the threads' column slabs rounded down"),
    ("E15", "src/fastmlp/_predictor.pyx",
     "return self.loss_scale * total / sw_sum",
     "return total / sw_sum",
     "Predictor.loss (validation loss) without the squared error's 1 / n_outputs"),
    # --- schedules -------------------------------------------------------
    ("S01", "src/fastmlp/_schedules.py",
     "1 + math.cos(math.pi * e / self.T_max)",
     "1 - math.cos(math.pi * e / self.T_max)",
     "cosine 1 + cos -> 1 - cos"),
    ("S02", "src/fastmlp/_schedules.py",
     '(epoch // self.params["step_size"])',
     '(epoch / self.params["step_size"])',
     "step schedule // -> /"),
    ("S03", "src/fastmlp/_schedules.py",
     "amp = 1.0 / 2.0 ** (cycle - 1)",
     "amp = 1.0 / 2.0 ** cycle",
     "triangular2 amplitude exponent off by one"),
    ("S04", "src/fastmlp/_schedules.py",
     "self.lr_init / (n_samples_seen + 1) ** self.power_t",
     "self.lr_init / n_samples_seen ** self.power_t",
     "invscaling (n + 1) -> n"),
    ("S05", "src/fastmlp/_schedules.py",
     "while epoch - start >= T_i:",
     "while epoch - start > T_i:",
     "cosine restarts: a restart one epoch late"),
    ("S06", "src/fastmlp/_schedules.py",
     "self.lr /= 5.0",
     "self.lr /= 2.0",
     "adaptive divides the rate by 2 instead of 5"),
    ("S07", "src/fastmlp/_schedules.py",
     'max_lr = p["max_lr"] if p["max_lr"] is not None else 10 * base_lr',
     'max_lr = p["max_lr"] if p["max_lr"] is not None else 5 * base_lr',
     "cyclic's default max_lr 10 lr_init -> 5 lr_init"),
    ("S08", "src/fastmlp/_schedules.py",
     "scale = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))",
     "scale = np.where(x < ratio, x / ratio, (x - 1) / (ratio - 1))",
     "cyclic: the peak step takes the falling branch"),
    # --- training drivers and estimators ---------------------------------
    ("T01", "src/fastmlp/_training.py",
     "        theta[...] = est._best_theta\n",
     "        pass\n",
     "early stopping does not restore the best weights"),
    ("T02", "src/fastmlp/_training.py",
     "record_epoch(est, total / n_samples, n_samples,",
     "record_epoch(est, total / n_samples, batch_size,",
     "t_ += n_samples -> += batch_size"),
    ("T03", "src/fastmlp/_base.py",
     "            network = model.network\n            for k, v in model.views.items():",
     "            network = model.network\n            return model\n            for k, v in model.views.items():",
     "user-set coefs_ ignored by predict (_current_model returns the fitted model)"),
    ("T04", "src/fastmlp/_components.py",
     '"logistic": _activation("logistic", glorot_factor=2.0)',
     '"logistic": _activation("logistic", glorot_factor=6.0)',
     "logistic's Glorot factor 2 -> 6"),
    ("T05", "src/fastmlp/_books.py",
     "if est.loss_curve_[-1] > est.best_loss_ - est.tol:",
     "if est.loss_curve_[-1] >= est.best_loss_ - est.tol:",
     "no-improvement rule > -> >= (training loss)"),
    ("T06", "src/fastmlp/_multilayer_perceptron.py",
     "return np.vstack([expit(-z), expit(z)]).T",
     "return np.vstack([1 - expit(z), expit(z)]).T",
     "binary predict_proba expit(-z) -> 1 - expit(z)"),
    ("T07", "src/fastmlp/_books.py",
     "if val_score < est.best_validation_score_ + est.tol:",
     "if val_score <= est.best_validation_score_ + est.tol:",
     "no-improvement rule < -> <= (validation score)"),
    ("T08", "src/fastmlp/_training.py",
     'if est.solver == "adam" and est.learning_rate in ("invscaling", "adaptive"):',
     'if est.solver == "adam" and est.learning_rate in ("invscaling",):',
     "adam with learning_rate='adaptive' no longer runs at a constant rate"),
    ("T09", "src/fastmlp/_network.py",
     "1.0 / self.sizes[-1] if loss == \"squared_error\" else 1.0",
     "1.0",
     "squared error not averaged over the outputs in loss_"),
    ("T10", "src/fastmlp/_components.py",
     "return 2.0 / (1.0 + slope**2)",
     "return 2.0 / (1.0 + slope)",
     "He gain of leaky ReLU: slope not squared"),
    ("T11", "src/fastmlp/_training.py",
     "record_epoch(est, total / n_samples,",
     "record_epoch(est, total / n_batches,",
     "epoch loss averaged over batches instead of samples"),
    ("T12", "src/fastmlp/_training.py",
     "return min(200, n_samples)",
     "return min(256, n_samples)",
     "batch_size='auto' is min(256, n) instead of scikit-learn's min(200, n)"),
    ("T13", "src/fastmlp/_books.py",
     "if is_classifier(est) and est.n_outputs_ == 1",
     "if is_classifier(est) and est.n_outputs_ >= 1",
     "early stopping stratifies multiclass targets too (scikit-learn does not)"),
    ("T14", "src/fastmlp/_multilayer_perceptron.py",
     "(y_pred.ravel() > 0.5)",
     "(y_pred.ravel() >= 0.5)",
     "binary predict: a probability of exactly 0.5 gives the second class"),
    ("T15", "src/fastmlp/_base.py",
     "np.any(rates >= 1)",
     "np.any(rates > 1)",
     "a dropout rate of 1 accepted"),
    ("T16", "src/fastmlp/_training.py",
     '"maxfun": est.max_fun,',
     '"maxfun": 15000,',
     "L-BFGS ignores max_fun (scikit-learn's default instead)"),
    ("T17", "src/fastmlp/_training.py",
     '"gtol": est.tol,',
     '"gtol": 1e-4,',
     "L-BFGS ignores tol (scikit-learn's default instead)"),
    ("T18", "src/fastmlp/_multilayer_perceptron.py",
     "return weights if sample_weight_val is None else weights * sample_weight_val",
     "return sample_weight_val",
     "a user's validation set does not take the training's class weights"),
    ("T19", "src/fastmlp/_books.py",
     "if val_score > est.best_validation_score_:",
     "if val_score >= est.best_validation_score_:",
     "early stopping keeps the last of equally good epochs, not the first"),
]

#: Survivors that no input can tell from the original, and why.
EQUIVALENT = {
    "S08": "at x == ratio both branches are exactly 1 (x / ratio and "
           "(x - 1) / (ratio - 1) divide equal doubles), so the rates are "
           "the same bits",
}

DEFAULT_PYTEST = ["-x", "-q", "-p", "no:cacheprovider"]


def _git(repo, *args, check=True):
    return subprocess.run(["git", "-C", repo, *args], check=check,
                          capture_output=True, text=True)


def check_mutants(repo, mutants):
    """Problems that forbid running `mutants` in `repo` (empty: none): a
    snippet that does not occur exactly once, a file with uncommitted
    changes (the revert would lose them), a duplicate id."""
    problems = []
    ids = [m[0] for m in mutants]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{dup}: duplicate id")
    for mid, path, old, new, _ in mutants:
        full = os.path.join(repo, path)
        if not os.path.isfile(full):
            problems.append(f"{mid}: {path} does not exist")
            continue
        with open(full, encoding="utf-8") as f:
            text = f.read()
        n = text.count(old)
        if n != 1:
            problems.append(f"{mid}: the snippet occurs {n} times in {path} "
                            f"(must be exactly once): {old!r}")
        if old == new:
            problems.append(f"{mid}: the new snippet equals the old one")
        if repo is not None and _git(repo, "diff", "--quiet", "HEAD", "--", path,
                                     check=False).returncode != 0:
            problems.append(f"{mid}: {path} has uncommitted changes in {repo}; "
                            "the revert (git checkout) would lose them")
    return problems


def _first_failure(output):
    """The first failing test named in pytest's output (-ra summary, or the
    progress lines), else None."""
    for pattern in (r"^(?:FAILED|ERROR) (\S+)", r"^_{3,} (\S.*?) _{3,}$",
                    r"^ERROR collecting (\S+)"):
        m = re.search(pattern, output, re.M)
        if m:
            return m.group(1)
    return None


def _tail(text, n=15):
    return "\n".join(text.strip().splitlines()[-n:])


def run_mutant(repo, mutant, python, pytest_args, timeout):
    """Apply, build, test, revert one mutant; returns its result dict."""
    mid, path, old, new, desc = mutant
    full = os.path.join(repo, path)
    result = dict(id=mid, file=path, description=desc, result=None, test=None,
                  detail="", seconds=0.0)
    tic = time.time()
    with open(full, encoding="utf-8") as f:
        text = f.read()
    try:
        with open(full, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))
        # the editable install rebuilds on import: a build or import error
        # makes the mutant invalid
        try:
            build = subprocess.run([python, "-c", "import fastmlp"], cwd=repo,
                                   capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            result.update(result="invalid", detail=f"build timed out ({timeout} s)")
            return result
        if build.returncode != 0:
            result.update(result="invalid",
                          detail=_tail(build.stdout + build.stderr))
            return result
        cmd = [python, "-m", "pytest", *DEFAULT_PYTEST, *pytest_args]
        try:
            # its own session, so that a timeout stops the whole group
            proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            result.update(result="killed", test=f"(timeout {timeout} s)")
            return result
        if proc.returncode == 0:
            result["result"] = "survived"
        elif proc.returncode in (1, 2):
            result.update(result="killed", test=_first_failure(out) or "?",
                          detail=_tail(out, 8))
        elif proc.returncode < 0:
            result.update(result="killed", test=f"(crash, signal {-proc.returncode})",
                          detail=_tail(out, 8))
        else:
            # 3: internal error, 4: usage error, 5: no tests collected
            result.update(result="error", detail=_tail(out))
        return result
    finally:
        _git(repo, "checkout", "--", path)
        result["seconds"] = round(time.time() - tic, 1)


def _table(results):
    rows = [("id", "file", "description", "result", "killing test / note")]
    for r in results:
        note = r["test"] or ""
        if r["result"] == "survived" and r["id"] in EQUIVALENT:
            note = "equivalent: " + EQUIVALENT[r["id"]]
        rows.append((r["id"], r["file"].split("/")[-1], r["description"],
                     r["result"], note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths))
                     + "  " + row[4])
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 20)
    return "\n".join(lines)


def score(results):
    """(killed, survived, invalid, score = killed / (killed + survived))."""
    killed = sum(r["result"] == "killed" for r in results)
    survived = sum(r["result"] == "survived" for r in results)
    invalid = sum(r["result"] == "invalid" for r in results)
    total = killed + survived
    return killed, survived, invalid, (killed / total if total else float("nan"))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", help="the clone to mutate (editable install)")
    parser.add_argument("--only", nargs="+", metavar="ID", help="run these mutants")
    parser.add_argument("--list", action="store_true",
                        help="list the mutants (and check their snippets) and exit")
    parser.add_argument("--pytest-args", default="",
                        help="extra arguments for pytest, e.g. 'tests/test_kernels.py'")
    parser.add_argument("--json", metavar="FILE", help="write the results here")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with the editable install (default: this one)")
    parser.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds for a mutant's build and for its test run")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the check that the unmutated suite passes")
    args = parser.parse_args(argv)

    mutants = MUTANTS
    if args.only:
        unknown = set(args.only) - {m[0] for m in MUTANTS}
        if unknown:
            parser.error(f"unknown mutant ids {sorted(unknown)}")
        mutants = [m for m in MUTANTS if m[0] in args.only]

    if args.list:
        repo = args.repo or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        problems = [p for p in check_mutants(repo, mutants)
                    if "uncommitted" not in p]
        for mid, path, old, new, desc in mutants:
            print(f"{mid}  {path:42s} {desc}")
        for p in problems:
            print("PROBLEM:", p)
        print(f"{len(mutants)} mutants")
        return 1 if problems else 0

    if not args.repo:
        parser.error("--repo is required (a clone of your own, never the working copy)")
    repo = os.path.abspath(args.repo)
    if _git(repo, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        parser.error(f"{repo} is not a git work tree")
    problems = check_mutants(repo, mutants)
    if problems:
        for p in problems:
            print("REFUSED:", p, file=sys.stderr)
        return 2
    pytest_args = shlex.split(args.pytest_args)

    if not args.no_baseline:
        print("baseline: the unmutated suite ...", flush=True)
        base = run_mutant(repo, ("baseline", mutants[0][1], "", "", "no mutation"),
                          args.python, pytest_args, args.timeout)
        if base["result"] != "survived":
            print(f"the unmutated suite does not pass ({base['result']}: "
                  f"{base['test']}); fix that first.\n{base['detail']}",
                  file=sys.stderr)
            return 2
        print(f"baseline passes ({base['seconds']} s)", flush=True)

    results = []
    try:
        for i, m in enumerate(mutants, 1):
            print(f"[{i}/{len(mutants)}] {m[0]} {m[1]}: {m[4]} ...", end=" ",
                  flush=True)
            r = run_mutant(repo, m, args.python, pytest_args, args.timeout)
            results.append(r)
            print(f"{r['result']} ({r['seconds']} s){' by ' + r['test'] if r['test'] else ''}",
                  flush=True)
    finally:
        # rebuild the unmutated package, so that the clone is usable as is
        subprocess.run([args.python, "-c", "import fastmlp"], cwd=repo,
                       capture_output=True)

    killed, survived, invalid, sc = score(results)
    print()
    print(_table(results))
    print()
    print(f"killed {killed}, survived {survived}, invalid {invalid}; "
          f"score {killed}/{killed + survived} = {100 * sc:.1f} %")
    for r in results:
        if r["result"] in ("invalid", "error"):
            print(f"\n{r['id']} {r['result']}:\n{r['detail']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(dict(commit=_git(repo, "rev-parse", "HEAD").stdout.strip(),
                           pytest=[*DEFAULT_PYTEST, *pytest_args],
                           killed=killed, survived=survived, invalid=invalid,
                           score=sc, results=results,
                           equivalent={k: v for k, v in EQUIVALENT.items()
                                       if any(r["id"] == k for r in results)}),
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
