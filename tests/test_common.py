"""scikit-learn's own estimator checks on both estimators."""

from sklearn.base import is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import MLPClassifier, MLPRegressor

# Small, quick models: the checks fit dozens of times on tiny data.  Both
# dtypes are checked: float32 is the default, float64 is what scikit-learn's
# tolerances are written for.
ESTIMATORS = [
    MLPClassifier(max_iter=100, random_state=0),
    MLPRegressor(max_iter=100, random_state=0),
    MLPClassifier(max_iter=100, random_state=0, dtype="float64"),
    MLPRegressor(max_iter=100, random_state=0, dtype="float64"),
    # scikit-learn runs its sample-weight check on its MLPs with lbfgs.
    MLPClassifier(solver="lbfgs", max_iter=100, random_state=0, dtype="float64"),
]

_FLOAT32_REASON = (
    "float32 training: fitting with integer sample weights and with repeated "
    "rows agrees to ~1e-7 relative (float32 rounding), while the check "
    "demands rtol=1e-7; the float64 instances pass it (and the float32 "
    "regressor passes the dense variant, by a small margin)."
)


_LOG_PROBA_REASON = (
    "predict_log_proba is computed from the logits (log-sigmoid, "
    "log-softmax) and stays finite where predict_proba underflows to 0; "
    "lbfgs drives logits on this separable toy set past 745, where "
    "log(predict_proba) is -inf, so the check's inf locations differ. The "
    "adam instances pass this check."
)


def _expected_failed_checks(estimator):
    if estimator.dtype == "float32":
        failing = {"check_sample_weight_equivalence_on_sparse_data": _FLOAT32_REASON}
        if is_classifier(estimator):
            failing["check_sample_weight_equivalence_on_dense_data"] = _FLOAT32_REASON
        return failing
    if estimator.solver == "lbfgs":
        return {"check_classifiers_train": _LOG_PROBA_REASON}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
