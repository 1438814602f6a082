"""The data of a fit on a Dask cluster, on the client: dask collections
(arrays, Series, DataFrames) or in-memory arrays, cut into row blocks of
delayed (X, y, sample_weight) triples, and the blocks grouped into parts.
"""

import math

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp


def is_dask(obj):
    return dask.is_dask_collection(obj)


def as_array(obj, name):
    """A dask array of `obj`: a dask array, Series or DataFrame (with known
    partition lengths), or in-memory data (None stays None)."""
    if obj is None:
        return None
    if isinstance(obj, da.Array):
        return obj
    if is_dask(obj) and hasattr(obj, "to_dask_array"):
        return obj.to_dask_array(lengths=True)
    if is_dask(obj):
        raise TypeError(f"{name} must be a dask array, Series or DataFrame; got "
                        f"{type(obj).__name__}.")
    return None


class Blocks:
    """The row blocks of a fit's data, as (X, y, sample_weight) triples of
    delayed objects, with the data's shape and column names.

    Dask collections stay where they are (y and the weights are re-blocked
    as X); in-memory data (ndarray, pandas, scipy.sparse) are cut into
    `n_shards` blocks of rows, sent with the graph."""

    def __init__(self, X, y, sample_weight, n_shards):
        self.columns = list(X.columns) if hasattr(X, "columns") else None
        Xa = as_array(X, "X")
        if Xa is None:
            self._in_memory(X, y, sample_weight, n_shards)
            return
        if Xa.ndim != 2:
            raise ValueError(f"X must be 2-dimensional; got {Xa.ndim} dimensions.")
        if any(math.isnan(c) for c in Xa.chunks[0]):
            raise ValueError("X has row blocks of unknown length; call "
                             "X.compute_chunk_sizes() first.")
        Xa = Xa.rechunk({1: -1})
        self.n_samples, self.n_features = Xa.shape
        if self.n_samples < 1:
            raise ValueError("X has no samples.")
        if Xa.numblocks[0] < n_shards:   # at least a block per part
            Xa = Xa.rechunk({0: -(-self.n_samples // n_shards)})
        rows = Xa.chunks[0]
        ya = as_array(y, "y")
        if ya is None:
            ya = da.from_array(np.asarray(y), chunks=-1)
        if ya.shape[0] != self.n_samples:
            raise ValueError(f"X has {self.n_samples} samples but y has {ya.shape[0]}.")
        ya = ya.rechunk((rows,) + ((-1,) if ya.ndim == 2 else ()))
        wa = as_array(sample_weight, "sample_weight")
        if sample_weight is not None and wa is None:
            wa = da.from_array(np.asarray(sample_weight, dtype=np.float64), chunks=-1)
        if wa is not None:
            if wa.shape != (self.n_samples,):
                raise ValueError(f"sample_weight has shape {wa.shape}; expected "
                                 f"({self.n_samples},).")
            wa = wa.rechunk((rows,))
        self.y = ya
        self.rows = list(rows)
        xb, yb = Xa.to_delayed().ravel(), ya.to_delayed().ravel()
        wb = [None] * len(xb) if wa is None else list(wa.to_delayed().ravel())
        self.blocks = list(zip(xb, yb, wb))

    def _in_memory(self, X, y, sample_weight, n_shards):
        if not sp.issparse(X) and not hasattr(X, "iloc"):
            X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional; got {X.ndim} dimensions.")
        y = np.asarray(y)
        self.n_samples, self.n_features = X.shape
        if self.n_samples < 1:
            raise ValueError("X has no samples.")
        if y.shape[0] != self.n_samples:
            raise ValueError(f"X has {self.n_samples} samples but y has {y.shape[0]}.")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (self.n_samples,):
                raise ValueError(f"sample_weight has shape {sample_weight.shape}; "
                                 f"expected ({self.n_samples},).")
        if sp.issparse(X):
            X = sp.csr_matrix(X)
        size = -(-self.n_samples // n_shards)
        starts = range(0, self.n_samples, size)
        take = (lambda a, i: a.iloc[i:i + size]) if hasattr(X, "iloc") else (
            lambda a, i: a[i:i + size])
        pieces = [(take(X, i), y[i:i + size],
                   None if sample_weight is None else sample_weight[i:i + size])
                  for i in starts]
        self.y = y
        self.rows = [p[1].shape[0] for p in pieces]
        # In the graph, not scattered: a part lost with its worker is rebuilt
        # from the graph (scattered data would be lost with it).
        self.blocks = [tuple(dask.delayed(a) if a is not None else None for a in p)
                       for p in pieces]

    def parts(self, n_shards):
        """The blocks cut into at most `n_shards` runs of whole blocks of
        about equal rows, in order."""
        bounds = np.cumsum([0] + self.rows)
        n = bounds[-1]
        edges = [0]
        for k in range(1, n_shards):
            cut = int(np.searchsorted(bounds, k * n / n_shards, side="left"))
            if edges[-1] < cut < len(self.blocks):
                edges.append(cut)
        edges.append(len(self.blocks))
        return [self.blocks[a:b] for a, b in zip(edges[:-1], edges[1:])]
