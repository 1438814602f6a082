"""class_weight, and validation monitoring: validation_loss_curve_, scoring,
a user's validation set (X_val, y_val), verbose output."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, log_loss, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=700, n_classes=3, weights=[0.75, 0.18, 0.07],
                               n_informative=6, random_state=0)
    return X, np.array(["a", "b", "c"])[y]


# class_weight ------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("class_weight", ["balanced", {"a": 1.0, "b": 3.0, "c": 0.5}])
def test_class_weight_is_sample_weight(imbalanced, solver, class_weight):
    """A fit with class_weight is, bit for bit, the fit with
    sample_weight=compute_sample_weight(class_weight, y)."""
    X, y = imbalanced
    kw = dict(hidden_layer_sizes=(15,), max_iter=8, random_state=0, solver=solver)
    a = MLPClassifier(class_weight=class_weight, **kw).fit(X, y)
    b = MLPClassifier(**kw).fit(X, y, sample_weight=compute_sample_weight(class_weight, y))
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    # and with sample weights of its own: the product
    sw = np.linspace(0.5, 1.5, len(y))
    c = MLPClassifier(class_weight=class_weight, **kw).fit(X, y, sample_weight=sw)
    d = MLPClassifier(**kw).fit(X, y, sample_weight=sw * compute_sample_weight(
        class_weight, y))
    np.testing.assert_array_equal(c._model.theta, d._model.theta)


def test_balanced_class_weight_raises_minority_recall(imbalanced):
    X, y = imbalanced
    kw = dict(hidden_layer_sizes=(15,), max_iter=30, random_state=0)
    plain = MLPClassifier(**kw).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **kw).fit(X, y)
    recall = lambda est: (est.predict(X[y == "c"]) == "c").mean()  # noqa: E731
    assert recall(balanced) > recall(plain)


def test_multilabel_class_weight_list_of_dicts():
    X, Y = make_multilabel_classification(n_samples=300, n_classes=3, random_state=0)
    weights = [{0: 1.0, 1: 2.0}, {0: 1.0, 1: 0.5}, "balanced"]
    cw = [weights[0], weights[1],
          dict(zip([0, 1], compute_class_weight("balanced", classes=np.array([0, 1]),
                                                y=Y[:, 2])))]
    kw = dict(hidden_layer_sizes=(10,), max_iter=5, random_state=0)
    a = MLPClassifier(class_weight=cw, **kw).fit(X, Y)
    b = MLPClassifier(**kw).fit(X, Y, sample_weight=compute_sample_weight(cw, Y))
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    c = MLPClassifier(class_weight="balanced", **kw).fit(X, Y)
    d = MLPClassifier(**kw).fit(X, Y, sample_weight=compute_sample_weight("balanced", Y))
    np.testing.assert_array_equal(c._model.theta, d._model.theta)


def test_class_weight_in_partial_fit(imbalanced):
    X, y = imbalanced
    classes = np.unique(y)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=classes)
    cw = {"a": 0.5, "b": 2.0, "c": 4.0}
    a = MLPClassifier((10,), class_weight=cw, random_state=0)
    b = MLPClassifier((10,), random_state=0)
    for part in (slice(0, 300), slice(300, None)):
        a.partial_fit(X[part], y[part], classes=classes)
        b.partial_fit(X[part], y[part], classes=classes,
                      sample_weight=compute_sample_weight(cw, y[part]))
    np.testing.assert_array_equal(a._model.theta, b._model.theta)


def test_class_weight_in_the_validation_score(imbalanced):
    """Early stopping scores the validation set with the class weights: on
    the split, and on a user's X_val (with the training's 'balanced'
    weights)."""
    X, y = imbalanced
    est = MLPClassifier((10,), class_weight="balanced", early_stopping=True,
                        max_iter=4, n_iter_no_change=50, random_state=0)
    est.fit(X[:500], y[:500], X_val=X[500:], y_val=y[500:])
    w = dict(zip(np.unique(y[:500]), compute_class_weight(
        "balanced", classes=np.unique(y[:500]), y=y[:500])))
    sw_val = np.array([w[c] for c in y[500:]])
    # the last epoch's model is the fitted one (its score is the best or not:
    # replay without early stopping to get it)
    replay = MLPClassifier((10,), class_weight="balanced", max_iter=4,
                           random_state=0).fit(X[:500], y[:500])
    expected = accuracy_score(y[500:], replay.predict(X[500:]), sample_weight=sw_val)
    assert est.validation_scores_[-1] == pytest.approx(expected)


# validation monitoring ---------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_validation_loss_curve_is_the_validation_log_loss(imbalanced, dtype):
    X, y = imbalanced
    X_val, y_val = X[500:], y[500:]
    est = MLPClassifier((12,), early_stopping=True, max_iter=5, n_iter_no_change=50,
                        random_state=0, dtype=dtype)
    est.fit(X[:500], y[:500], X_val=X_val, y_val=y_val)
    assert len(est.validation_loss_curve_) == len(est.validation_scores_) == 5
    rtol = 1e-5 if dtype == "float32" else 1e-10
    for epoch in (1, 3, 5):
        replay = MLPClassifier((12,), max_iter=epoch, random_state=0,
                               dtype=dtype).fit(X[:500], y[:500])
        proba = replay.predict_proba(X_val)
        assert est.validation_loss_curve_[epoch - 1] == pytest.approx(
            log_loss(y_val, proba, labels=replay.classes_), rel=rtol)
        assert est.validation_scores_[epoch - 1] == pytest.approx(
            accuracy_score(y_val, replay.predict(X_val)))


def test_validation_loss_of_a_regressor():
    """The squared error's validation loss: half the mean squared error
    averaged over outputs, as loss_ (scikit-learn's averaging)."""
    rng = np.random.RandomState(0)
    X = rng.randn(300, 5)
    Y = np.c_[X @ rng.randn(5), X[:, 0] ** 2]
    est = MLPRegressor(hidden_layer_sizes=(10,), early_stopping=True, max_iter=3,
                       n_iter_no_change=50, random_state=0, dtype="float64")
    est.fit(X[:200], Y[:200], X_val=X[200:], y_val=Y[200:])
    replay = MLPRegressor(hidden_layer_sizes=(10,), max_iter=3, random_state=0,
                          dtype="float64").fit(X[:200], Y[:200])
    pred = replay.predict(X[200:])
    assert est.validation_loss_curve_[-1] == pytest.approx(
        0.5 * ((pred - Y[200:]) ** 2).mean(), rel=1e-10)
    assert est.validation_scores_[-1] == pytest.approx(r2_score(Y[200:], pred))


def test_scoring(imbalanced):
    X, y = imbalanced
    kw = dict(hidden_layer_sizes=(12,), early_stopping=True, max_iter=4,
              n_iter_no_change=50, random_state=0)
    loss = MLPClassifier(scoring="loss", **kw).fit(X[:500], y[:500], X_val=X[500:],
                                                   y_val=y[500:])
    np.testing.assert_array_equal(loss.validation_scores_,
                                  -np.array(loss.validation_loss_curve_))
    replay = MLPClassifier((12,), max_iter=4, random_state=0).fit(X[:500], y[:500])
    f1 = MLPClassifier(scoring="f1_macro", **kw).fit(X[:500], y[:500], X_val=X[500:],
                                                     y_val=y[500:])
    assert f1.validation_scores_[-1] == pytest.approx(
        f1_score(y[500:], replay.predict(X[500:]), average="macro"))

    def my_score(est, X, y):
        return -np.mean(est.predict(X) != y)

    custom = MLPClassifier(scoring=my_score, **kw).fit(X[:500], y[:500], X_val=X[500:],
                                                       y_val=y[500:])
    assert custom.validation_scores_[-1] == pytest.approx(
        my_score(replay, X[500:], y[500:]))
    with pytest.raises(ValueError):
        MLPClassifier(scoring="no such scorer", **kw).fit(X, y)


def test_user_validation_set_checks(imbalanced):
    X, y = imbalanced
    est = MLPClassifier((5,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="early_stopping is False"):
        est.fit(X, y, X_val=X, y_val=y)
    est.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="together"):
        est.fit(X, y, X_val=X)
    with pytest.raises(ValueError, match=r"y_val has classes \['z'\]"):
        est.fit(X, y, X_val=X[:5], y_val=np.array(["a", "b", "z", "a", "b"]))
    with pytest.raises(ValueError, match="features"):
        est.fit(X, y, X_val=X[:, :3], y_val=y)
    with pytest.raises(ValueError, match="samples"):
        est.fit(X, y, X_val=X[:10], y_val=y[:9])
    with pytest.raises(ValueError, match="sample_weight_val is given without"):
        est.fit(X, y, sample_weight_val=np.ones(5))
    est.set_params(solver="lbfgs")
    with pytest.raises(ValueError, match="stochastic solver"):
        est.fit(X, y, X_val=X, y_val=y)


def test_x_val_through_a_pipeline(imbalanced):
    """X_val routed to the MLP and transformed as X by the pipeline's steps
    (metadata routing, Pipeline's transform_input)."""
    X, y = imbalanced
    with sklearn.config_context(enable_metadata_routing=True):
        mlp = MLPClassifier((10,), early_stopping=True, max_iter=3, n_iter_no_change=50,
                            random_state=0).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", mlp)],
                        transform_input=["X_val"])
        pipe.fit(X[:500], y[:500], X_val=X[500:], y_val=y[500:])
    scaler = StandardScaler().fit(X[:500])
    replay = MLPClassifier((10,), max_iter=3, random_state=0).fit(
        scaler.transform(X[:500]), y[:500])
    assert pipe[-1].validation_scores_[-1] == pytest.approx(
        accuracy_score(y[500:], replay.predict(scaler.transform(X[500:]))))


def test_verbose_prints_the_validation_loss_and_score(imbalanced, capsys):
    X, y = imbalanced
    MLPClassifier((5,), early_stopping=True, max_iter=2, verbose=True,
                  random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("validation loss = ") == 2
    assert out.count("Validation score: ") == 2


def test_scoring_callable_and_weighted_validation():
    """A weighted validation set is scored with its weights: a scorer that
    takes sample_weight gets them; one that takes none is refused before
    training, with a message saying why (not a TypeError after an epoch)."""
    X, y = make_classification(n_samples=200, random_state=0)
    seen = {}

    def weighted_scorer(est, X, y, sample_weight=None):
        seen["sw"] = sample_weight
        return est.score(X, y, sample_weight=sample_weight)

    def plain_scorer(est, X, y):
        return est.score(X, y)

    clf = MLPClassifier((5,), early_stopping=True, max_iter=3, random_state=0,
                        scoring=weighted_scorer, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert seen["sw"] is not None and seen["sw"].shape == (20,)
    fresh = MLPClassifier((5,), early_stopping=True, max_iter=3, random_state=0,
                          scoring=plain_scorer, class_weight="balanced")
    with pytest.raises(ValueError, match="takes no sample_weight"):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coefs_")
    # unweighted: a plain callable is fine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fresh.set_params(class_weight=None).fit(X, y)
    assert len(fresh.validation_scores_) == fresh.n_iter_
