"""scikit-learn's callbacks (sklearn.callback, scikit-learn >= 1.9): a fit is
a task tree (fit -> epochs, or L-BFGS iterations), hooks between epochs, a
callback can stop training, propagation under meta-estimators."""

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

HAS_CALLBACKS = parse_version(sklearn.__version__) >= parse_version("1.9")
needs_callbacks = pytest.mark.skipif(not HAS_CALLBACKS,
                                     reason="sklearn.callback needs scikit-learn >= 1.9")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


class Recorder:
    """A FitCallback recording its hooks, and stopping after `stop_after`
    epochs."""

    def __init__(self, stop_after=None):
        self.events = []
        self.stop_after = stop_after

    def setup(self, estimator, context):
        self.events.append(("setup", None))

    def teardown(self, estimator, context):
        self.events.append(("teardown", None))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None):
        self.events.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.events.append(("end", context.task_name))
        if context.task_name == "epoch":
            self.n_iter = fitted_estimator.n_iter_
            self.accuracy = accuracy_score(y, fitted_estimator.predict(X))
            self.sample_weight = (metadata or {}).get("sample_weight")
            return self.stop_after is not None and fitted_estimator.n_iter_ >= self.stop_after
        return False


@pytest.mark.skipif(HAS_CALLBACKS, reason="scikit-learn >= 1.9 has callbacks")
def test_set_callbacks_needs_scikit_learn_1_9():
    with pytest.raises(RuntimeError, match="scikit-learn >= 1.9"):
        MLPClassifier().set_callbacks(object())


@needs_callbacks
def test_scoring_monitor_logs_one_row_per_epoch(digits):
    from sklearn.callback import ScoringMonitor

    X, y = digits
    monitor = ScoringMonitor(scoring="accuracy")
    est = MLPClassifier((20,), max_iter=4, random_state=0).set_callbacks(monitor)
    est.fit(X, y)
    data = monitor.get_logs().data
    epochs = [row for row in data if len(row["task_id_path"]) == 2]
    assert [row["task_id_path"] for row in epochs] == [(0, e) for e in range(4)]
    for e, row in enumerate(epochs, start=1):
        replay = MLPClassifier((20,), max_iter=e, random_state=0).fit(X, y)
        assert row["accuracy"] == pytest.approx(accuracy_score(y, replay.predict(X)))
    # the root task: the fitted model
    root = [row for row in data if row["task_id_path"] == (0,)]
    assert root[0]["accuracy"] == pytest.approx(est.score(X, y))


@needs_callbacks
def test_hooks_order_and_stop(digits):
    X, y = digits
    rec = Recorder(stop_after=3)
    sw = np.ones(len(y))
    est = MLPClassifier((10,), max_iter=50, random_state=0).set_callbacks(rec)
    est.fit(X, y, sample_weight=sw)
    assert est.n_iter_ == 3 == rec.n_iter   # stopped when asked
    assert len(est.loss_curve_) == 3
    assert rec.events[0] == ("setup", None) and rec.events[-1] == ("teardown", None)
    assert rec.events[1] == ("begin", "fit") and rec.events[-2] == ("end", "fit")
    assert rec.events[2:-2] == [("begin", "epoch"), ("end", "epoch")] * 3
    np.testing.assert_array_equal(rec.sample_weight, sw)
    # the copy the hook saw is the model of the epoch: the same as a 3-epoch fit
    ref = MLPClassifier((10,), max_iter=3, random_state=0).fit(X, y)
    assert rec.accuracy == accuracy_score(y, ref.predict(X))
    np.testing.assert_array_equal(est._model.theta, ref._model.theta)


@needs_callbacks
def test_lbfgs_iterations_and_partial_fit(digits):
    X, y = digits
    rec = Recorder()
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=6,
                       random_state=0).set_callbacks(rec)
    est.fit(X, y.astype(float))
    assert rec.events.count(("begin", "lbfgs-iteration")) == est.n_iter_ + 1
    assert rec.events.count(("end", "lbfgs-iteration")) == est.n_iter_ + 1
    rec = Recorder(stop_after=1)
    est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=6,
                       random_state=0).set_callbacks(rec)
    rec.stop_after = None

    class StopLbfgs(Recorder):
        def on_fit_task_end(self, estimator, context, **kw):
            return context.task_name == "lbfgs-iteration" and context.task_id >= 1

    stopper = StopLbfgs()
    est.set_callbacks(stopper).fit(X, y.astype(float))
    assert est.n_iter_ == 2
    rec = Recorder()
    clf = MLPClassifier((8,), random_state=0).set_callbacks(rec)
    clf.partial_fit(X, y, classes=np.unique(y))
    assert rec.events.count(("begin", "epoch")) == 1


@needs_callbacks
def test_progress_bar_renders_and_completes(digits):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = digits
    est = MLPClassifier((10,), max_iter=3, random_state=0).set_callbacks(ProgressBar())
    est.fit(X, y)
    assert est.n_iter_ == 3


@needs_callbacks
def test_callbacks_propagate_under_search_and_pipeline(digits):
    """An auto-propagated callback set on GridSearchCV reaches the MLP inside
    a pipeline; a FitCallback set on the MLP runs in every clone the search
    fits."""
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = digits
    rec = Recorder()
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier((10,), max_iter=2, random_state=0).set_callbacks(rec))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.set_callbacks(ProgressBar(max_propagation_depth=None))
    search.fit(X, y)
    # 2 candidates x 2 folds + the refit, 2 epochs each
    assert rec.events.count(("end", "epoch")) == 5 * 2
    assert search.best_estimator_[-1].n_iter_ == 2
