"""TrainingCurveDisplay: its data are the estimator's curves, and it draws
on the Agg backend (matplotlib is an optional dependency)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.inspection import LayerStatsDisplay, TrainingCurveDisplay

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


# --- record_layer_stats and LayerStatsDisplay --------------------------------------


def test_layer_stats_are_recorded_without_changing_the_model(digits):
    X, y = digits
    kw = dict(hidden_layer_sizes=(32, 16), activation="tanh", batch_norm=True, dropout=0.1,
              max_iter=4, random_state=0, batch_size=64)
    plain = fit(MLPClassifier(**kw), X, y)
    est = fit(MLPClassifier(record_layer_stats=True, **kw), X, y)
    np.testing.assert_array_equal(est._model.theta, plain._model.theta)
    np.testing.assert_array_equal(est._model.running, plain._model.running)
    assert plain.layer_stats_ is None
    assert len(est.layer_stats_) == est.n_iter_ == 4
    for entry in est.layer_stats_:
        for key in ("activation_mean", "activation_std", "gradient_mean", "gradient_std"):
            assert entry[key].shape == (2,) and np.isfinite(entry[key]).all()
        for counts, edges in entry["activation_hist"] + entry["gradient_hist"]:
            assert counts.sum() > 0 and len(edges) == len(counts) + 1
    # tanh: activations within (-1, 1)
    for counts, edges in est.layer_stats_[-1]["activation_hist"]:
        assert -1 <= edges[0] and edges[-1] <= 1
    est.partial_fit(X, y)
    assert len(est.layer_stats_) == 5
    fit(est, X, y)   # a new fit starts a new record
    assert len(est.layer_stats_) == 4


def test_layer_stats_match_numpy(digits):
    """The last epoch's statistics are those of the final model on the probe
    (every step-th row, up to batch_size rows), from NumPy: activations of a
    prediction, per-sample back-propagated gradients dl/dz."""
    X, y = digits
    est = fit(MLPRegressor(hidden_layer_sizes=(24, 12), activation="relu", max_iter=3,
                           batch_size=100, random_state=0, dtype="float64",
                           record_layer_stats=True), X, y / 9.0)
    step = max(1, X.shape[0] // 100)
    P, t = X[::step][:100], (y / 9.0)[::step][:100]
    W, b = est.coefs_, est.intercepts_
    z1 = P @ W[0] + b[0]
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W[1] + b[1]
    a2 = np.maximum(z2, 0)
    out = a2 @ W[2] + b[2]
    d3 = out - t[:, None]                      # squared error's dl/dz, per sample
    d2 = (d3 @ W[2].T) * (z2 > 0)
    d1 = (d2 @ W[1].T) * (z1 > 0)
    last = est.layer_stats_[-1]
    np.testing.assert_allclose(last["activation_mean"], [a1.mean(), a2.mean()], rtol=1e-10)
    np.testing.assert_allclose(last["activation_std"], [a1.std(), a2.std()], rtol=1e-10)
    np.testing.assert_allclose(last["gradient_mean"], [d1.mean(), d2.mean()], rtol=1e-8,
                               atol=1e-14)
    np.testing.assert_allclose(last["gradient_std"], [d1.std(), d2.std()], rtol=1e-8)
    counts, edges = last["activation_hist"][1]
    np.testing.assert_array_equal(counts, np.histogram(a2, bins=edges)[0])


def test_no_layer_stats_without_hidden_layers_or_with_lbfgs(digits):
    X, y = digits
    assert fit(MLPClassifier((8,), solver="lbfgs", max_iter=5, record_layer_stats=True),
               X, y).layer_stats_ is None
    from sklearn.exceptions import NotFittedError  # noqa: F401
    with pytest.raises(ValueError, match="record_layer_stats=True"):
        LayerStatsDisplay.from_estimator(fit(MLPClassifier((8,), max_iter=2), X, y))


def test_layer_stats_display(digits):
    X, y = digits
    est = fit(MLPClassifier((32, 32, 32), activation="tanh", max_iter=6,
                            record_layer_stats=True, random_state=0), X, y)
    display = LayerStatsDisplay.from_estimator(est, epoch=3)
    assert len(display.axes_) == 3
    for layer, line in enumerate(display.lines_["activation mean"]):
        x, mean = line.get_data()
        np.testing.assert_array_equal(x, np.arange(1, 7))
        np.testing.assert_array_equal(mean, [s["activation_mean"][layer]
                                             for s in est.layer_stats_])
    for name in ("activation", "gradient"):
        lines = display.lines_[f"{name} histogram"]
        assert len(lines) == 3
        counts, edges = est.layer_stats_[2][f"{name}_hist"][0]
        x, density = lines[0].get_data()
        np.testing.assert_allclose(x, (edges[:-1] + edges[1:]) / 2)
        np.testing.assert_allclose((density * np.diff(edges)).sum(), 1.0)
    display.figure_.canvas.draw()
    plt.close(display.figure_)
    with pytest.raises(ValueError, match="epoch must be in"):
        LayerStatsDisplay.from_estimator(est, epoch=7)
