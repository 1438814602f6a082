"""Compare label smoothing, gradient clipping and max-norm with PyTorch.

The same network (tanh hidden layers, softmax output), the same initial
weights and the same minibatches (no shuffling), float64, plain SGD: fastmlp
with ``label_smoothing``, ``clip_norm``, ``max_norm`` and ``alpha`` against
a PyTorch loop with ``nn.CrossEntropyLoss(label_smoothing=...)``, the L2
term written into the loss as scikit-learn's (0.5 * alpha * sum ||W||^2 /
batch, weights only), ``torch.nn.utils.clip_grad_norm_`` on all parameters
and, after ``optimizer.step()``, each hidden ``nn.Linear.weight`` row
(a unit's incoming weights; fastmlp's column of ``coefs_[i]``) scaled back
to norm ``max_norm``.  Prints the largest difference of the weights and of
the loss curve for a few settings.  tests/test_stabilisers.py checks the
same against NumPy references, without torch.

    python bench/check_stabilisers_torch.py
"""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier

torch.set_default_dtype(torch.float64)


def torch_run(coefs, inters, X, y, n_classes, epochs, batch, lr, alpha, smoothing, clip,
              maxn, momentum):
    layers = []
    for W, b in zip(coefs, inters):
        lin = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
    params = [p for lin in layers for p in (lin.weight, lin.bias)]
    # scikit-learn's momentum (v <- mu v - lr g) equals torch's only at a
    # constant rate: b <- mu b + g, theta -= lr b (dampening 0)
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    ce = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).long()
    curve = []
    for _ in range(epochs):
        total = 0.0
        for s in range(0, len(X), batch):
            xb, yb = Xt[s:s + batch], yt[s:s + batch]
            h = xb
            for lin in layers[:-1]:
                h = torch.tanh(lin(h))
            loss = ce(layers[-1](h), yb)
            loss = loss + 0.5 * alpha * sum((lin.weight**2).sum() for lin in layers) / len(xb)
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            if maxn is not None:
                with torch.no_grad():
                    for lin in layers[:-1]:
                        norms = lin.weight.norm(dim=1, keepdim=True)
                        lin.weight.mul_(torch.where(norms > maxn, maxn / norms,
                                                    torch.ones_like(norms)))
            total += float(loss.detach()) * len(xb)
        curve.append(total / len(X))
    return [lin.weight.detach().numpy().T for lin in layers], curve


def main():
    rng = np.random.RandomState(0)
    n, d, k = 96, 10, 4
    X = rng.randn(n, d)
    y = rng.randint(0, k, n)
    print("| label_smoothing | clip_norm | max_norm | momentum | max abs weight diff | "
          "max rel loss-curve diff |")
    print("|---|---|---|---|---|---|")
    for smoothing, clip, maxn, mu in ((0.1, None, None, 0.0), (0.0, 0.5, None, 0.0),
                                      (0.0, None, 0.8, 0.0), (0.2, 0.3, 1.0, 0.0),
                                      (0.2, 0.3, 1.0, 0.9)):
        kw = dict(hidden_layer_sizes=(16, 8), activation="tanh", solver="sgd",
                  momentum=mu, nesterovs_momentum=False, learning_rate_init=0.1,
                  alpha=1e-2, batch_size=32, shuffle=False, dtype="float64",
                  random_state=0, tol=0.0, n_iter_no_change=10**6,
                  label_smoothing=smoothing, clip_norm=clip, max_norm=maxn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = MLPClassifier(max_iter=1, **kw).fit(X, y)
            coefs = [rng.uniform(-1, 1, c.shape) for c in est.coefs_]
            inters = [rng.uniform(-1, 1, b.shape) for b in est.intercepts_]
            est.coefs_ = [c.copy() for c in coefs]
            est.intercepts_ = [b.copy() for b in inters]
            est.set_params(warm_start=True, max_iter=5).fit(X, y)
        W_t, curve_t = torch_run(coefs, inters, X, y, k, 5, 32, 0.1, 1e-2, smoothing,
                                 clip, maxn, mu)
        dw = max(np.abs(a - b).max() for a, b in zip(est.coefs_, W_t))
        dl = np.max(np.abs(np.array(est.loss_curve_[-5:]) - curve_t) / np.abs(curve_t))
        print(f"| {smoothing} | {clip} | {maxn} | {mu} | {dw:.1e} | {dl:.1e} |")


if __name__ == "__main__":
    main()
