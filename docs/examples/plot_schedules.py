"""
Learning-rate schedules
=======================

The rate of each epoch under fastmlp's schedules, for SGD with Nesterov
momentum on the digits: step decay, cosine annealing, cosine annealing with
warm restarts (SGDR: periods of 5, then 10 epochs) and the triangular
cyclic rate. ``learning_rate_curve_`` records the rate each epoch started
with.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier

X, y = load_digits(return_X_y=True)
schedules = {
    "step": {"step_size": 8, "gamma": 0.5},
    "cosine": {},
    "cosine_restarts": {"T_0": 5, "T_mult": 2},
    "cyclic": {"step_size_up": 4},
}
fig, (ax_rate, ax_loss) = plt.subplots(2, 1, sharex=True, figsize=(6.4, 6))
for name, params in schedules.items():
    clf = MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", learning_rate_init=0.05,
                        learning_rate=name, lr_schedule_params=params, max_iter=30,
                        n_iter_no_change=31, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X / 16, y)
    epochs = range(1, clf.n_iter_ + 1)
    ax_rate.plot(epochs, clf.learning_rate_curve_, label=name)
    ax_loss.plot(epochs, clf.loss_curve_, label=name)
ax_rate.set_ylabel("learning rate")
ax_loss.set_ylabel("training loss")
ax_loss.set_yscale("log")
ax_loss.set_xlabel("epoch")
ax_rate.legend()
