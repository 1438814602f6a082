"""
Activations and gradients of the hidden layers
==============================================

``record_layer_stats=True`` makes the engine record, after each epoch, each
hidden layer's activations and back-propagated gradients on a fixed probe
batch. :class:`fastmlp.inspection.LayerStatsDisplay` draws the mean
activation of each layer per epoch (with a band of one standard deviation)
and the histograms of the last epoch: here a deep tanh network on the
digits, initialised as Glorot & Bengio (2010) recommend.
"""

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier
from fastmlp.inspection import LayerStatsDisplay

X, y = load_digits(return_X_y=True)
clf = MLPClassifier(hidden_layer_sizes=(128,) * 5, activation="tanh", solver="sgd",
                    learning_rate_init=0.01, max_iter=20, record_layer_stats=True,
                    random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X / 16, y)
LayerStatsDisplay.from_estimator(clf)
