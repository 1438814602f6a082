"""Prediction: the forward pass of a fitted estimator's model (or its
snapshot ensemble) over the user's X, with scikit-learn's input validation
and a latency path for a few plain rows.  A mixin of BaseMLP."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

from . import _predictor
from ._sparse_input import CSRInput
from ._threads import blas_limit, effective_n_threads, gemm_blocks

#: scipy.sparse inputs are converted once to CSR (the engine reads rows).
_SPARSE_FORMATS = "csr"

#: Dense inputs that need converting are converted in blocks of about this
#: many bytes (in the model's dtype: 2,675 MNIST rows in float32), at least
#: FEW_ROWS_STREAM rows, once they have more than STREAM_MIN_ROWS rows
#: (bench/DECISIONS.md D25).
STREAM_BYTES = 8 << 20
FEW_ROWS_STREAM = 256
STREAM_MIN_ROWS = 4096


class PredictionMixin:
    """The forward pass of BaseMLP's fitted model."""

    def _forward(self, X, check_input=True, logits=False):
        """The network's outputs for X: the output activations, or with
        `logits` the output layer's pre-activations.  A snapshot ensemble
        averages its snapshots' output activations (probabilities, means);
        its "logits" are then the output link of that average (log p for a
        softmax, logit p for a sigmoid, log mu for Poisson)."""
        if check_input and self._streamed(X):
            return self._forward_streamed(X, logits)
        snapshots = self.__dict__.get("_snapshots")
        if not snapshots:
            return self._forward_model(self._current_model(), X, check_input, logits)
        if check_input:
            X = self._check_predict_input(X, snapshots[0])
        out = None
        for model in snapshots:
            y = self._forward_model(model, X, False, False)
            out = y.astype(np.float64) if out is None else out + y
        out /= len(snapshots)
        out = out.astype(y.dtype)
        if not logits:
            return out
        act = self.out_activation_
        with np.errstate(divide="ignore"):
            if act == "softmax":
                return np.log(out)
            if act == "logistic":
                return np.log(out) - np.log1p(-out)
            if act == "exp":
                return np.log(out)
        if act == "softplus":
            return np.where(out > 20, out, np.log(np.expm1(np.maximum(out, 1e-30))))
        return out

    def _streamed(self, X):
        """Whether X is a large dense ndarray that needs converting (another
        dtype than the model's, integers, or not C-ordered): it is then
        converted block by block (`_forward_streamed`), never whole."""
        if type(X) is not np.ndarray or X.ndim != 2 or X.shape[0] <= STREAM_MIN_ROWS:
            return False
        model = self._current_model()
        return (
            X.dtype.kind in "fiu"
            and (X.dtype != model.network.dtype or not X.flags.c_contiguous)
            and X.shape[1] == self.n_features_in_
            and "feature_names_in_" not in self.__dict__
        )

    def _forward_streamed(self, X, logits):
        """`_forward` of X in blocks of rows, each converted to the model's
        dtype and C order just before its forward pass: the converted block
        is read from cache, and the memory a prediction needs is a block and
        the outputs, not a copy of X (float64 rows of 10 million samples
        would need a float32 copy of 40 bytes per feature and row)."""
        dtype = self._current_model().network.dtype
        rows = max(FEW_ROWS_STREAM, STREAM_BYTES // (X.shape[1] * dtype.itemsize + 1))
        out = None
        for start in range(0, X.shape[0], rows):
            block = np.ascontiguousarray(X[start:start + rows], dtype=dtype)
            y = self._forward(block, True, logits)
            if out is None:
                out = np.empty((X.shape[0],) + y.shape[1:], dtype=y.dtype)
            out[start:start + block.shape[0]] = y
        return out

    def _forward_model(self, model, X, check_input=True, logits=False):
        """The outputs of one model for X (see _forward)."""
        n_threads = effective_n_threads(self.n_threads)
        n_out = model.network.sizes[-1]
        if (
            check_input
            and self._plain_input(X, model)
            and X.shape[0] <= _predictor.FEW_ROWS
        ):
            # Latency path for a few samples: no scikit-learn validation
            # (its checks are done here or, for NaN/inf, in the engine), and
            # no BLAS: the engine's vector-matrix products share columns
            # between threads.
            out = np.empty((X.shape[0], n_out), dtype=X.dtype)
            if model.predictor.forward_few(X, out, n_threads, logits):
                return out
        if check_input:
            X = self._check_predict_input(X, model)
        elif sp.issparse(X):
            X = CSRInput(X, model.network.dtype)
        elif not isinstance(X, CSRInput):
            X = np.ascontiguousarray(X, dtype=model.network.dtype)
        out = np.empty((X.shape[0], n_out), dtype=model.network.dtype)
        # GEMMs cut into blocks shared by the engine's threads, each on one
        # BLAS thread, as in training: one pool at a time, and the same
        # outputs for any number of threads.
        blas_limit.run(1, model.predictor.forward, X, out, logits, n_threads,
                       gemm_blocks())
        return out

    def _plain_input(self, X, model):
        """Whether X is what prediction usually gets and needs no conversion:
        a non-empty C-contiguous 2-d ndarray of the training dtype and width,
        for a model fitted without feature names."""
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype == model.network.dtype
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and "feature_names_in_" not in self.__dict__
        )

    def _check_predict_input(self, X, model):
        """scikit-learn's validation, with a fast path for plain input
        (`_plain_input`), where only the finiteness check remains: on the
        estimator's threads, without a temporary (10,000 MNIST rows: 0.32 ms,
        against 1.25 ms for NumPy's single-threaded sum; bench/DECISIONS.md
        D25)."""
        if self._plain_input(X, model):
            if not _predictor.all_finite(X, effective_n_threads(self.n_threads)):
                # let scikit-learn name the problem (NaN or infinity)
                return validate_data(self, X, reset=False, order="C")
            return X
        X = validate_data(
            self, X, reset=False, dtype=model.network.dtype.type, order="C",
            accept_sparse=_SPARSE_FORMATS,
        )
        # a scipy.sparse X is read as it is, never densified
        return CSRInput(X, model.network.dtype) if sp.issparse(X) else X
