"""
Batch normalisation and dropout
===============================

A deeper network (four tanh layers) on the digits, with and without batch
normalisation and dropout: the training loss per epoch and the test
accuracy of each. Batch norm uses minibatch statistics in training and the
running (population) statistics at prediction; dropout is active in
training only.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
variants = {"plain": {}, "batch norm": {"batch_norm": True},
            "dropout 0.2": {"dropout": 0.2},
            "batch norm + dropout": {"batch_norm": True, "dropout": 0.2}}
fig, ax = plt.subplots()
for name, params in variants.items():
    clf = MLPClassifier(hidden_layer_sizes=(128, 128, 128, 128), activation="tanh",
                        max_iter=25, n_iter_no_change=26, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    ax.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_,
            label=f"{name}: test accuracy {clf.score(X_test, y_test):.3f}")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.set_yscale("log")
ax.legend()
