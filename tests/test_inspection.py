"""TrainingCurveDisplay: its data are the estimator's curves, and it draws
on the Agg backend (matplotlib is an optional dependency)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.inspection import TrainingCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


def fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def test_curves_of_early_stopping(digits):
    X, y = digits
    est = fit(MLPClassifier((32,), early_stopping=True, learning_rate="cosine",
                            max_iter=30, random_state=0), X, y)
    display = TrainingCurveDisplay.from_estimator(est)
    assert len(display.axes_) == 3
    for name, curve in (("loss", est.loss_curve_),
                        ("validation loss", est.validation_loss_curve_),
                        ("validation score", est.validation_scores_),
                        ("learning rate", est.learning_rate_curve_)):
        x, values = display.lines_[name].get_data()
        np.testing.assert_array_equal(x, np.arange(1, est.n_iter_ + 1))
        np.testing.assert_array_equal(values, curve)
    assert display.best_epoch == int(np.argmax(est.validation_scores_)) + 1
    assert display.axes_[-1].get_xlabel() == "epoch"
    assert display.figure_ is display.axes_[0].figure
    display.figure_.canvas.draw()
    plt.close(display.figure_)


def test_regressor_without_validation_has_loss_and_rate(digits):
    X, y = digits
    est = fit(MLPRegressor(hidden_layer_sizes=(16,), max_iter=8, random_state=0), X, y / 9)
    display = TrainingCurveDisplay.from_estimator(est)
    assert sorted(display.lines_) == ["learning rate", "loss"] and len(display.axes_) == 2
    np.testing.assert_array_equal(display.lines_["loss"].get_data()[1], est.loss_curve_)
    assert display.best_epoch is None
    plt.close(display.figure_)


def test_lbfgs_has_no_curve(digits):
    X, y = digits
    est = fit(MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5,
                           random_state=0), X, y / 9)
    with pytest.raises(ValueError, match="lbfgs"):
        TrainingCurveDisplay.from_estimator(est)


def test_user_axes(digits):
    X, y = digits
    est = fit(MLPClassifier((16,), max_iter=5, random_state=0), X, y)
    fig, axes = plt.subplots(1, 2)
    display = TrainingCurveDisplay.from_estimator(est, axes=axes)
    assert display.figure_ is fig and list(display.axes_) == list(axes)
    with pytest.raises(ValueError, match="axes must hold 2 Axes"):
        TrainingCurveDisplay.from_estimator(est, axes=axes[:1])
    plt.close(fig)


def test_unfitted():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(MLPClassifier())


def test_demo_saves_its_learning_curves(tmp_path, capsys):
    """``python -m fastmlp --plot PATH`` ends by saving the picture."""
    from fastmlp.__main__ import main

    path = tmp_path / "curves.png"
    assert main(["--epochs", "3", "--hidden", "16", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"saved to {path}" in capsys.readouterr().out
