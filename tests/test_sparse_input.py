"""scipy.sparse inputs, end to end, never densified: the same models as on
the dense equivalent."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from fastmlp import MLPClassifier, MLPRegressor, config_context
from fastmlp._sparse_input import CSRInput

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = sp.random(400, 250, density=0.04, format="csr", random_state=0,
                  dtype=np.float64)
    y = (X @ rng.standard_normal(250) > 0).astype(int) + (X[:, 0].toarray().ravel() > 0)
    return X, y


def _dense_twin(cls, X, y, **kw):
    """The same fit on the dense X, its first layer on the nonzeros (the
    sparse kernels), as a scipy.sparse X always trains."""
    with config_context(sparse_first_layer="always"):
        return cls(**kw).fit(X.toarray(), y)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "csr_array"])
@pytest.mark.parametrize("params", [
    dict(),
    dict(batch_norm=True, dropout=0.2),
    dict(solver="sgd", alpha=1e-2, shuffle=False),
    dict(solver="adagrad", sample_weight=True),
])
def test_same_model_as_on_the_dense_equivalent(data, fmt, params):
    """Every format, converted once to CSR, trains the model the dense
    input does (bit for bit in float64: the same sums in the same order)."""
    X, y = data
    params = dict(params)
    sw = np.linspace(0.5, 2, X.shape[0]) if params.pop("sample_weight", False) else None
    kw = dict(hidden_layer_sizes=(30, 20), max_iter=3, batch_size=64, random_state=0,
              dtype="float64", **params)
    Xs = sp.csr_array(X) if fmt == "csr_array" else X.asformat(fmt)
    a = MLPClassifier(**kw).fit(Xs, y, sample_weight=sw)
    with config_context(sparse_first_layer="always"):
        b = MLPClassifier(**kw).fit(X.toarray(), y, sample_weight=sw)
    np.testing.assert_allclose(a._model.theta, b._model.theta, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(a.predict_proba(Xs), b.predict_proba(X.toarray()),
                               rtol=1e-10, atol=1e-14)
    assert a.score(Xs, y) == b.score(X.toarray(), y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lbfgs_regression_and_early_stopping(data, dtype):
    X, y = data
    target = np.asarray(X.sum(axis=1)).ravel()
    for kw in (dict(solver="lbfgs", max_iter=30), dict(solver="lbfgs", max_iter=30,
                                                      batch_norm=True)):
        a = MLPRegressor(hidden_layer_sizes=(16,), random_state=0, dtype=dtype,
                         **kw).fit(X, target)
        b = MLPRegressor(hidden_layer_sizes=(16,), random_state=0, dtype=dtype,
                         **kw).fit(X.toarray(), target)
        # L-BFGS's full batch takes the dense first layer for a dense X: the
        # same objective summed in another order, the same iterates up to
        # rounding (which 30 float32 iterations amplify)
        if dtype == "float64":
            np.testing.assert_allclose(a._model.theta, b._model.theta, rtol=1e-10,
                                       atol=1e-12)
        else:
            assert abs(a.score(X, target) - b.score(X.toarray(), target)) < 1e-3
    a = MLPClassifier((20,), early_stopping=True, max_iter=5, random_state=0,
                      dtype=dtype).fit(X, y)
    b = _dense_twin(MLPClassifier, X, y, hidden_layer_sizes=(20,),
                    early_stopping=True, max_iter=5, random_state=0, dtype=dtype)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    assert a.validation_scores_ == b.validation_scores_


def test_partial_fit_and_warm_start(data):
    X, y = data
    a = MLPClassifier((20,), random_state=0)
    b = MLPClassifier((20,), random_state=0)
    for lo, hi in ((0, 150), (150, 400)):
        a.partial_fit(X[lo:hi], y[lo:hi], classes=np.unique(y))
        with config_context(sparse_first_layer="always"):
            b.partial_fit(X[lo:hi].toarray(), y[lo:hi], classes=np.unique(y))
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    a.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert np.isfinite(a.predict_proba(X)).all()


def test_a_tfidf_pipeline_learns_a_text_corpus():
    """TfidfVectorizer -> MLPClassifier, as with scikit-learn's MLP: a small
    generated corpus of three topics, learnt from its sparse TF-IDF rows."""
    rng = np.random.default_rng(0)
    topics = [["goal", "match", "team", "score", "league", "coach"],
              ["vote", "party", "election", "minister", "law", "senate"],
              ["cell", "gene", "protein", "enzyme", "dna", "virus"]]
    common = ["the", "a", "of", "and", "in", "today", "new", "report"]
    docs, labels = [], []
    for i in range(600):
        t = i % 3
        words = rng.choice(topics[t], 5).tolist() + rng.choice(common, 6).tolist()
        docs.append(" ".join(rng.permutation(words)))
        labels.append(["sport", "politics", "science"][t])
    pipe = make_pipeline(TfidfVectorizer(), MLPClassifier((32,), max_iter=30,
                                                          random_state=0))
    pipe.fit(docs[:450], labels[:450])
    assert pipe.score(docs[450:], labels[450:]) > 0.95
    assert pipe.predict(["the election and the senate vote today"])[0] == "politics"
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.fit(docs[:450], labels[:450])
    assert search.best_score_ > 0.9


def test_csr_input_conversion():
    """Converted once to CSR with sorted, summed int32 indices and the
    training dtype; explicit duplicates summed; an empty matrix works."""
    X = sp.coo_matrix(([1.0, 2.0, 3.0], ([0, 0, 1], [2, 2, 0])), shape=(2, 4))
    csr = CSRInput(X, np.float32)
    assert csr.shape == (2, 4)
    assert csr.data.dtype == np.float32 and csr.indices.dtype == np.int32
    np.testing.assert_array_equal(csr.indptr, [0, 1, 2])
    np.testing.assert_array_equal(csr.data, [3.0, 3.0])
    np.testing.assert_array_equal(csr.row_lengths, [1, 1])
    assert csr.max_batch_nnz(1) == 1 and csr.max_batch_nnz(5) == 2
    empty = CSRInput(sp.csr_matrix((3, 5)), np.float64)
    assert empty.shape == (3, 5) and empty.max_batch_nnz(2) == 1


def test_empty_rows_and_all_zero_matrix():
    """Rows without a nonzero (the model sees only its biases) and a matrix
    of zeros train and predict."""
    X = sp.csr_matrix((60, 10))
    X[::3, 1] = 1.0
    y = np.arange(60) % 2
    est = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    assert est.predict_proba(X).shape == (60, 2)
    assert np.isfinite(est.predict_proba(sp.csr_matrix((4, 10)))).all()


def test_bad_sparse_input(data):
    X, y = data
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier(max_iter=1).fit(bad, y)
    est = MLPClassifier((5,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        est.predict(bad)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :10])
    with pytest.raises(ValueError, match="input_noise"):
        MLPClassifier(input_noise=0.1, max_iter=1).fit(X, y)


def test_predictions_stream_without_densifying(data):
    """predict_proba of a sparse X goes through the engine's view of the CSR
    arrays (no dense copy): the same outputs as the dense X, for blocks of
    any size."""
    X, y = data
    est = MLPClassifier((20, 10), max_iter=3, random_state=0, dtype="float64").fit(X, y)
    dense = est.predict_proba(X.toarray())
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no SparseEfficiencyWarning, no densify
        np.testing.assert_allclose(est.predict_proba(X), dense, rtol=1e-12)
        for rows in (1, 3, 7):
            np.testing.assert_allclose(est.predict_proba(X[:rows]), dense[:rows],
                                       rtol=1e-12)
