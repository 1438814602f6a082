"""Every C kernel of csrc/ through ``fastmlp._testing``, against NumPy.

Each kernel runs in float32 and float64 at edge sizes (empty where the
kernel allows it, one element, sizes around the vector widths and block
sizes: 7, 8, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 1000) and on
extreme values: logits of +-100 in float32 and +-1000 in float64, NaN and
infinities, denormals.  The references are ``tests/reference.py`` (from the
maths) or NumPy's own products and sums in float64.

Tolerances are relative to the size of the quantities a result is made of
(``near``): 1e-12 in float64, 1e-5 in float32; where the kernel's
arithmetic is exact (copies, ReLU-type activations, sums in double of
float32 values) the comparison is exact.
"""

import numpy as np
import pytest
import reference as ref
from _helpers import ACTS, PAIR_IDS, PAIRS, targets

from fastmlp import _testing
from fastmlp._components import ACTIVATIONS, OUTPUTS

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}
#: sizes around the vector widths (4, 8, 16 elements) and the kernels' blocks
#: (64-column chunks of BN, 128-column chunks of vecmat)
SIZES = [1, 7, 8, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 1000]
#: extreme logits: +-100 overflow exp() in float32, +-1000 in float64
BIG = {np.float32: 100.0, np.float64: 1000.0}
#: activations whose kernels compute exactly what NumPy does in the dtype
EXACT_ACTS = ("identity", "relu", "leaky_relu")


def near(got, want, tol, scale, what=""):
    """|got - want| <= tol * (|want| + scale), elementwise (scale: the size
    of the terms the value is made of, a scalar or an array)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    bound = tol * (np.abs(want) + scale)
    err = np.abs(got - want)
    bad = ~(err <= bound)   # NaN fails too
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        raise AssertionError(
            f"{what}: {bad.sum()} of {bad.size} differ; first at flat index {i}: "
            f"got {got.ravel()[i]!r}, want {want.ravel()[i]!r}, bound "
            f"{np.broadcast_to(bound, err.shape).ravel()[i]!r}")


def specials(dtype):
    """Values every elementwise kernel must take: zeros of both signs,
    extremes, denormals, small numbers and the neighbourhood of 0."""
    big = BIG[dtype]
    tiny = np.finfo(dtype).tiny
    return np.array([0.0, -0.0, big, -big, tiny / 8, -tiny / 8, 1e-3, -1e-3,
                     0.5, -0.5, 3.0, -3.0, 20.0, -20.0], dtype=dtype)


def act_input(dtype, rows, cols, rng):
    """(rows, cols) pre-activations: normal values, the specials first."""
    z = (rng.randn(rows, cols) * 3).astype(dtype)
    s = specials(dtype)
    flat = z.reshape(-1)
    flat[:min(flat.size, s.size)] = s[:flat.size]
    return z


def act_params():
    """(activation, parameter) pairs: every activation with its default
    parameter (0 if it has none), and leaky ReLU and ELU with another."""
    out = [(name, ACTIVATIONS[name].param or 0.0) for name in ACTS]
    out += [(name, 0.2 if name == "leaky_relu" else 0.5)
            for name in ACTS if ACTIVATIONS[name].param is not None]
    return out


ACT_PARAMS = act_params()
ACT_PARAM_IDS = [f"{name}-{p:g}" for name, p in ACT_PARAMS]


def exact_activation(name, v, p):
    """identity / ReLU / leaky ReLU as the kernel computes them, in v's dtype."""
    if name == "identity":
        return v.copy()
    if name == "relu":
        return np.where(v > 0, v, v.dtype.type(0))
    return np.where(v > 0, v, v.dtype.type(p) * v)


def exact_backward(name, a, g, p):
    """g * act'(input) from the output a, in the dtype (identity / ReLU types)."""
    if name == "identity":
        return g.copy()
    if name == "relu":
        return np.where(a > 0, g, g.dtype.type(0))
    return np.where(a > 0, g, g.dtype.type(p) * g)


def forward_act(name, v, p):
    """The kernel's activation of v (bias 0, the prediction path: no input
    kept), and the input v + 0 that training would keep."""
    a = v.copy()
    zero = np.zeros(v.shape[1], v.dtype)
    _testing.bias_act(a, zero, ACTIVATIONS[name].code, p)
    return a, v + zero


# --- activations --------------------------------------------------------------


def test_every_activation_is_tested():
    """The parametrised lists come from _components: each C activation, and
    the reference knows each."""
    assert set(ACTS) == {spec.name for spec in ACTIVATIONS.values()}
    assert {"gelu", "silu"} <= set(ACTS)
    z = np.linspace(-3, 3, 7)
    for name in ACTS:
        assert ref.activation(name, z).shape == z.shape
        assert ref.activation_derivative(name, z).shape == z.shape


def bias_act_cases(dtype, bias, rng):
    """(rows, cols, z, b): empty, one row of every edge width, many rows."""
    for rows, cols in [(0, 5), (3, 0)] + [(3, c) for c in SIZES] + [(200, 17)]:
        z = act_input(dtype, rows, cols, rng)
        b = (np.zeros(cols) if bias == "zero" else rng.randn(cols)).astype(dtype)
        yield rows, cols, z, b


@pytest.mark.parametrize("bias", ["zero", "random"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, p", ACT_PARAMS, ids=ACT_PARAM_IDS)
def test_bias_act(name, p, dtype, bias):
    """z := act(z + b) row by row (as at prediction: no input kept)."""
    spec = ACTIVATIONS[name]
    tol = TOL[dtype]
    for rows, cols, z, b in bias_act_cases(dtype, bias, np.random.RandomState(0)):
        v = z + b                                   # the kernel's sum, in the dtype
        got = z.copy()
        _testing.bias_act(got, b, spec.code, p)
        what = f"{name} {dtype.__name__} {rows}x{cols}"
        if name in EXACT_ACTS:
            np.testing.assert_array_equal(got, exact_activation(name, v, p), err_msg=what)
        else:
            near(got, ref.activation(name, v.astype(np.float64), p), tol,
                 np.maximum(1.0, np.abs(v)), what)
        assert np.all(np.isfinite(got)), what
        if name in ("logistic", "tanh"):
            assert np.all(np.abs(got) <= 1), what
        if name == "elu":
            assert np.all(got >= -p), what


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_bias_act_keeps_the_input(name, dtype):
    """With u (training), the input z + b is kept in u exactly when the
    activation's derivative needs it, and u is left untouched otherwise;
    the outputs are those without u."""
    spec = ACTIVATIONS[name]
    p = spec.param or 0.0
    for rows, cols, z, b in bias_act_cases(dtype, "random", np.random.RandomState(0)):
        plain = z.copy()
        _testing.bias_act(plain, b, spec.code, p)
        got, u = z.copy(), np.full_like(z, 7.0)
        _testing.bias_act(got, b, spec.code, p, u)
        what = f"{name} {dtype.__name__} {rows}x{cols}"
        np.testing.assert_array_equal(got, plain, err_msg=what)
        if spec.needs_input:
            np.testing.assert_array_equal(u, z + b, err_msg=what)
        else:
            assert np.all(u == 7.0), what


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, p", ACT_PARAMS, ids=ACT_PARAM_IDS)
def test_act_backward(name, p, dtype):
    """a := g * act'(v) from the output a (and the input v where needed)."""
    spec = ACTIVATIONS[name]
    rng = np.random.RandomState(1)
    tol = TOL[dtype]
    for n in [0] + SIZES + [4099]:
        v = act_input(dtype, 1, n, rng)
        a, u = forward_act(name, v, p)
        a, u, v = a.ravel(), u.ravel(), v.ravel()
        g = rng.randn(n).astype(dtype)
        got = a.copy()
        _testing.act_backward(got, g, spec.code, p, u if spec.needs_input else None)
        what = f"{name} {dtype.__name__} n={n}"
        if name in EXACT_ACTS:
            np.testing.assert_array_equal(got, exact_backward(name, a, g, p), err_msg=what)
        else:
            want = g.astype(np.float64) * ref.activation_derivative(
                name, v.astype(np.float64), p)
            near(got, want, tol, np.abs(g), what)


@pytest.mark.parametrize("drop", [0.0, 0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_dropout_act_backward(name, dtype, drop):
    """The backward pass of act followed by inverted dropout, for every
    activation, against g * mask * act'(v) with the mask the engine's
    dropout draws (0 or 1 / (1 - drop)); dropped units get exactly 0."""
    spec = ACTIVATIONS[name]
    p = spec.param or 0.0
    rng = np.random.RandomState(2)
    tol = TOL[dtype]
    for n in [0] + SIZES + [4099]:
        v = act_input(dtype, 1, n, rng)
        out, u = forward_act(name, v, p)
        out, u, v = out.ravel(), u.ravel(), v.ravel()
        mask = np.ones(n, dtype)
        _testing.random_fill(mask, drop, 0.0, 11, 3, n, 1)   # the dropout factors
        a = out * mask                                         # dropout's forward
        g = rng.randn(n).astype(dtype)
        got = a.copy()
        _testing.dropout_act_backward(got, g, mask, drop, spec.code, p,
                                      u if spec.needs_input else None)
        what = f"{name} {dtype.__name__} n={n} drop={drop}"
        if drop == 0:
            assert np.all(mask == 1), what
        assert np.all(got[mask == 0] == 0), what
        gm = g * mask
        if name in EXACT_ACTS:
            kept = a * dtype(1 - drop)
            np.testing.assert_array_equal(got, exact_backward(name, kept, gm, p),
                                          err_msg=what)
        else:
            want = gm.astype(np.float64) * ref.activation_derivative(
                name, v.astype(np.float64), p)
            near(got, want, tol, np.abs(gm), what)


# --- output layers and losses ------------------------------------------------------


def logits(out, dtype, rows, cols, rng):
    """Logits with extremes: +-BIG for the softmax and sigmoid layers,
    moderate for exp (whose outputs overflow past 88 / 709)."""
    z = (rng.randn(rows, cols) * 3).astype(dtype)
    big = BIG[dtype] if out != "exp" else {np.float32: 20.0, np.float64: 200.0}[dtype]
    flat = z.reshape(-1)
    flat[0::7] = big
    flat[3::7] = -big
    return z


def test_every_output_is_tested():
    assert set(PAIRS) == set(OUTPUTS)
    assert len(set(OUTPUTS.values())) == len(OUTPUTS)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_loss_delta(pair, dtype, weighted):
    """Every output row: the loss sum_i w_i l_i and the delta
    scale * w_i * dl_i/dz that replaces the logits."""
    out, loss = pair
    code = OUTPUTS[pair]
    rng = np.random.RandomState(3)
    tol = TOL[dtype]
    scale = 0.37
    for rows, cols in [(0, 3), (1, 1), (5, 2)] + [(5, c) for c in SIZES]:
        z = logits(out, dtype, rows, cols, rng)
        y = targets(out, loss, rows, cols, rng).astype(dtype)
        w = (rng.rand(rows) * 2).astype(dtype)
        if rows:
            w[0] = 0.0
        delta = z.copy()
        value = _testing.loss_delta(delta, y, code, scale, w if weighted else None)
        what = f"{pair} {dtype.__name__} {rows}x{cols}"
        w64 = w.astype(np.float64) if weighted else np.ones(rows)
        z64, y64 = z.astype(np.float64), y.astype(np.float64)
        if rows == 0:
            assert value == 0.0
            continue
        with np.errstate(over="ignore"):
            terms = ref.sample_losses(out, loss, z64, y64)
            mean = ref.output(out, z64)
        want = (w64 * terms).sum()
        size = (w64[:, None] * (1 + np.abs(z64) * (1 + np.abs(y64)))).sum()
        near(value, want, tol, size, what + " loss")
        assert isinstance(value, float)
        want_delta = scale * w64[:, None] * ref.output_delta(out, loss, z64, y64)
        near(delta, want_delta, tol,
             scale * w64[:, None] * (1 + np.abs(mean) + np.abs(y64)), what + " delta")
        if weighted:
            assert np.all(delta[0] == 0), what     # weight 0: no gradient
        if pair == ("identity", "squared_error"):
            ws = (w64 * scale).astype(dtype)[:, None]     # the kernel's (T)(w * scale)
            np.testing.assert_array_equal(delta, (z - y) * ws, err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_loss_of_targets_that_do_not_sum_to_one(dtype):
    """The softmax row loss is the cross-entropy sum_k y_k (lse(z) - z_k)
    for any targets, also rows that do not sum to one: an all-zero row
    costs nothing, a row of 2 one-hot costs twice as much.  (Its delta
    p - y is the gradient only for rows summing to one, which is what the
    estimators pass.)"""
    code = OUTPUTS[("softmax", "log_loss")]
    rng = np.random.RandomState(5)
    for cols in (1, 3, 17):
        z = (rng.randn(4, cols) * 3).astype(dtype)
        y = np.zeros((4, cols))
        y[1, 0] = 2.0                        # sums to 2
        y[2] = rng.rand(cols) * 0.5          # soft, sums to < 1 (for cols < 4)
        y[3] = np.eye(cols)[cols - 1]        # one-hot (row 0 stays all zero)
        y = y.astype(dtype)
        value = _testing.loss_delta(z.copy(), y, code, 1.0, None)
        z64, y64 = z.astype(np.float64), y.astype(np.float64)
        want = ref.sample_losses("softmax", "log_loss", z64, y64)
        near(value, want.sum(), TOL[dtype], (1 + np.abs(z64)).sum() * 3,
             f"{dtype.__name__} {cols}")
        # the all-zero row alone: exactly no loss
        assert _testing.loss_delta(z[:1].copy(), y[:1], code, 1.0, None) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_output_at_prediction(pair, dtype):
    """z := out(z + b): the mean of the target distribution."""
    out, _ = pair
    code = OUTPUTS[pair]
    rng = np.random.RandomState(4)
    tol = TOL[dtype]
    for rows, cols in [(0, 3), (3, 0)] + [(4, c) for c in SIZES]:
        z = logits(out, dtype, rows, cols, rng)
        b = rng.randn(cols).astype(dtype)
        v = z + b
        got = z.copy()
        _testing.output(got, b, code)
        what = f"{pair} {dtype.__name__} {rows}x{cols}"
        if out == "identity" or rows * cols == 0:
            np.testing.assert_array_equal(got, v, err_msg=what)
            continue
        with np.errstate(over="ignore"):
            want = ref.output(out, v.astype(np.float64))
        # probabilities below the normal range are denormals in the dtype
        near(got, want, tol, 4 * np.finfo(dtype).smallest_subnormal / tol, what)
        assert np.all(np.isfinite(got)) and np.all(got >= 0), what
        if out == "softmax" and rows * cols:
            near(got.astype(np.float64).sum(axis=1), np.ones(rows), tol, 0.0, what)
        if out == "logistic":
            assert np.all(got <= 1), what


# --- array kernels ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_colsum(dtype):
    """Column sums in double, in row order: exactly NumPy's sequential sum
    (cumsum) in float64, whatever the width."""
    rng = np.random.RandomState(5)
    for rows in (0, 1, 7, 200):
        for cols in [0] + SIZES:
            x = (rng.randn(rows, cols) * 10 ** rng.uniform(-3, 3, (rows, cols))).astype(dtype)
            got = _testing.colsum(x)
            assert got.dtype == np.float64 and got.shape == (cols,)
            want = (np.cumsum(x.astype(np.float64), axis=0)[-1] if rows
                    else np.zeros(cols))
            np.testing.assert_array_equal(got, want, err_msg=f"{rows}x{cols}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_sumsq(dtype):
    """sum(x**2) in double: float32's largest values do not overflow,
    denormals are summed."""
    rng = np.random.RandomState(6)
    assert _testing.sumsq(np.empty(0, dtype)) == 0.0
    for n in SIZES + [4099, 100_003]:
        x = (rng.randn(n) * 3).astype(dtype)
        x[::5] = 0.0
        x[1::7] = np.finfo(dtype).tiny / 4          # denormals
        got = _testing.sumsq(x)
        want = np.sum(x.astype(np.float64) ** 2)
        near(got, want, 1e-12, 0.0, f"n={n}")
    big = np.full(1000, np.finfo(np.float32).max, np.float32)
    assert _testing.sumsq(big) == pytest.approx(1000 * float(big[0]) ** 2, rel=1e-12)
    sub = np.full(64, np.finfo(np.float32).smallest_subnormal, np.float32)
    assert _testing.sumsq(sub) == pytest.approx(64 * float(sub[0]) ** 2, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite(dtype):
    """NaN, +inf or -inf anywhere is found; extreme finite values, denormals
    and zeros of both signs are finite."""
    finfo = np.finfo(dtype)
    assert _testing.nonfinite(np.empty(0, dtype)) is False
    for n in SIZES + [4099]:
        x = np.random.RandomState(n).randn(n).astype(dtype)
        x[::3] = finfo.max
        x[1::3] = -finfo.max
        x[2::5] = finfo.smallest_subnormal
        x[4::9] = -0.0
        assert _testing.nonfinite(x) is False, n
        for bad in (np.nan, np.inf, -np.inf):
            for i in sorted({0, n // 2, n - 1, min(n - 1, 7), min(n - 1, 16)}):
                xb = x.copy()
                xb[i] = bad
                assert _testing.nonfinite(xb) is True, (n, bad, i)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vecmat(dtype):
    """y = x @ W by prediction's kernel: narrow and wide layers (128-column
    chunks and the narrower last one), zeros of x skipped (the rows of W
    they select are never read: NaN there does not reach y), and the same
    bits on 1 and 2 threads."""
    rng = np.random.RandomState(7)
    tol = TOL[dtype]
    for m, n in [(1, 1), (7, 0), (3, 129)] + [(m, n) for m in (1, 17, 200)
                                               for n in SIZES] + [(1000, 200),
                                                                  (600, 120), (2, 1000)]:
        x = rng.randn(m).astype(dtype)
        x[rng.rand(m) < 0.4] = 0.0
        if m >= 3:
            x[2] = 0.0
        W = rng.randn(m, n).astype(dtype)
        W[x == 0] = np.nan
        ys = []
        for n_threads in (1, 2):
            y = np.full(n, np.nan, dtype)
            _testing.vecmat(x, W, y, n_threads)
            ys.append(y)
        what = f"{dtype.__name__} {m}x{n}"
        nz = x != 0
        x64, W64 = x[nz].astype(np.float64), W[nz].astype(np.float64)
        near(ys[0], x64 @ W64, tol, np.abs(x64) @ np.abs(W64), what)
        np.testing.assert_array_equal(ys[1], ys[0], err_msg=what)
    # an all-zero x: y = 0 without reading W
    W = np.full((5, 130), np.nan, dtype)
    y = np.ones(130, dtype)
    _testing.vecmat(np.zeros(5, dtype), W, y)
    assert np.all(y == 0)


MATMUL_SHAPES = [
    # (m, n, k): tiny, around the vector widths, and big enough (1e6
    # multiply-adds, blocks of 32+ rows) for the split GEMM to cut C along
    # its rows (m >= n) or its columns (m < n)
    (1, 1, 1), (0, 3, 2), (3, 0, 2), (4, 5, 0), (7, 8, 15), (16, 17, 63),
    (64, 65, 127), (128, 129, 1), (200, 129, 65), (129, 200, 64), (1000, 65, 17),
    (65, 1000, 17), (1000, 8, 200),
]


def _op(trans, a):
    return a.T if trans == "T" else a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans", ["NN", "TN", "NT"])
def test_matmul_rm(trans, dtype):
    """C = op(A) @ op(B) + beta C through the engine's row-major GEMM, as
    scikit-learn's test_cython_blas checks its wrappers: beta 0 and 1, whole
    or split into 1 to 5 blocks; a split GEMM gives the same bits on 1 and
    2 threads (its blocks depend on the shapes and the number of parts)."""
    rng = np.random.RandomState(8)
    tol = TOL[dtype]
    for m, n, k in MATMUL_SHAPES:
        A = rng.random_sample((k, m) if trans[0] == "T" else (m, k)).astype(dtype)
        B = rng.random_sample((n, k) if trans[1] == "T" else (k, n)).astype(dtype)
        C0 = rng.random_sample((m, n)).astype(dtype)
        prod = _op(trans[0], A.astype(np.float64)) @ _op(trans[1], B.astype(np.float64))
        for beta in (0.0, 1.0):
            want = prod + beta * C0.astype(np.float64)
            for split, parts in [(False, 1)] + [(True, p) for p in range(1, 6)]:
                results = []
                for n_threads in (1, 2):
                    C = C0.copy()
                    _testing.matmul_rm(trans, A, B, C, beta, n_threads, split, parts)
                    results.append(C)
                what = f"{trans} {m}x{n}x{k} beta={beta} split={split} parts={parts}"
                # positive operands: no cancellation, a relative error
                np.testing.assert_allclose(results[0], want, rtol=tol, atol=0,
                                           err_msg=what)
                if split:
                    np.testing.assert_array_equal(results[1], results[0], err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_rm_signed_operands(dtype):
    """Mixed signs: the error is relative to |op(A)| @ |op(B)| + |beta C|."""
    rng = np.random.RandomState(9)
    tol = TOL[dtype]
    for trans in ("NN", "TN", "NT"):
        for m, n, k in [(200, 129, 65), (65, 1000, 17), (17, 7, 1000)]:
            A = rng.randn(*((k, m) if trans[0] == "T" else (m, k))).astype(dtype)
            B = rng.randn(*((n, k) if trans[1] == "T" else (k, n))).astype(dtype)
            C = rng.randn(m, n).astype(dtype)
            A64 = _op(trans[0], A.astype(np.float64))
            B64 = _op(trans[1], B.astype(np.float64))
            want = A64 @ B64 + C
            bound = np.abs(A64) @ np.abs(B64) + np.abs(C)
            _testing.matmul_rm(trans, A, B, C, 1.0, 2, True, 3)
            near(C, want, tol, bound, f"{trans} {m}x{n}x{k}")


def test_matmul_rm_rejects_shapes():
    A = np.zeros((3, 4))
    with pytest.raises(ValueError, match="shapes do not match"):
        _testing.matmul_rm("NN", A, np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="shapes do not match"):
        _testing.matmul_rm("TN", A, np.zeros((3, 2)), np.zeros((3, 2)))


# --- batch normalisation ----------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_bn_stats(dtype):
    """The batch mean and biased variance of every column, in double; the
    variance from a second pass, so a large mean costs no precision."""
    rng = np.random.RandomState(10)
    for rows in (1, 2, 7, 200):
        for cols in SIZES:
            for offset in (0.0, 1e4):
                z = (rng.randn(rows, cols) * 3 + offset).astype(dtype)
                mean, var = _testing.bn_stats(z)
                z64 = z.astype(np.float64)
                what = f"{rows}x{cols} offset {offset}"
                near(mean, z64.mean(axis=0), 1e-13, 0.0, what + " mean")
                want = ((z64 - z64.mean(axis=0)) ** 2).mean(axis=0)
                near(var, want, 1e-12, 1e-12 * offset, what + " var")
                if rows == 1:
                    assert np.all(var == 0), what


@pytest.mark.parametrize("dtype", DTYPES)
def test_bn_backward(dtype):
    """BN's exact backward pass (Ioffe & Szegedy), column chunks of 64:
    dbeta = sum dy, dgamma = sum dy xhat, and dy := dL/dz, against
    reference.bn_backward."""
    rng = np.random.RandomState(11)
    tol = TOL[dtype]
    eps = 1e-5
    for rows in (1, 2, 7, 200):
        for cols in SIZES:
            z = rng.randn(rows, cols) * 2 + 1
            _, xhat, _, var = ref.bn_train(z, 1.0, 0.0, eps)
            xhat = xhat.astype(dtype)
            inv_std = 1.0 / np.sqrt(var + eps)
            gamma = rng.uniform(0.5, 1.5, cols).astype(dtype)
            dy = rng.randn(rows, cols).astype(dtype)
            dgamma, dbeta = np.full(cols, np.nan, dtype), np.full(cols, np.nan, dtype)
            got = dy.copy()
            _testing.bn_backward(got, xhat, inv_std, gamma, dgamma, dbeta)
            dy64, xh64, g64 = (a.astype(np.float64) for a in (dy, xhat, gamma))
            want, want_dg, want_db = ref.bn_backward(dy64, xh64, g64, var, eps)
            what = f"{dtype.__name__} {rows}x{cols}"
            near(dbeta, want_db, tol, np.abs(dy64).sum(axis=0), what + " dbeta")
            near(dgamma, want_dg, tol, np.abs(dy64 * xh64).sum(axis=0), what + " dgamma")
            size = g64 * inv_std / rows * (rows * np.abs(dy64) + np.abs(dy64).sum(axis=0)
                                           + np.abs(xh64) * np.abs(dy64 * xh64).sum(axis=0))
            near(got, want, tol, size, what + " dz")


# --- minibatches, dropout ------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_rows(dtype):
    """dst = src[idx]: exact, rows repeated and in any order."""
    rng = np.random.RandomState(12)
    for n_src in (1, 7, 200):
        for cols in [0] + SIZES:
            src = rng.randn(n_src, cols).astype(dtype)
            for rows in (0, 1, 17, 300):
                idx = rng.randint(0, n_src, rows).astype(np.intp)
                dst = np.full((rows, cols), np.nan, dtype)
                _testing.gather_rows(src, idx, dst)
                np.testing.assert_array_equal(dst, src[idx])
    with pytest.raises(ValueError, match="shapes do not match"):
        _testing.gather_rows(np.zeros((3, 2)), np.zeros(2, np.intp), np.zeros((3, 2)))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_factors_are_exact(dtype, p):
    """Inverted dropout multiplies each element by exactly 0 or
    (dtype)(1 / (1 - p)); the same draws for either dtype."""
    rng = np.random.RandomState(13)
    for n in [0] + SIZES + [20_000]:
        a = rng.randn(n).astype(dtype)
        got = a.copy()
        _testing.random_fill(got, p, 0.0, 5, 1, 2, 3)
        keep = dtype(1.0 / (1.0 - p))
        kept = got != 0
        np.testing.assert_array_equal(got[kept], a[kept] * keep)
        assert np.all(a[~kept] == 0) or p > 0
        # the mask is the same for either dtype: it comes from the bits only
        masks = []
        for dt in (np.float32, np.float64):
            ones = np.ones(n, dt)
            _testing.random_fill(ones, p, 0.0, 5, 1, 2, 3)
            assert np.all((ones == 0) | (ones == dt(1.0 / (1.0 - p))))
            masks.append(ones != 0)
        np.testing.assert_array_equal(masks[0], masks[1])
        np.testing.assert_array_equal(kept, masks[0] & (a != 0))


# --- the sparse first layer ---------------------------------------------------------


def sparse_rows(rows, n_in, density, dtype, rng):
    X = rng.randn(rows, n_in) * (rng.rand(rows, n_in) < density)
    if n_in > 3:
        X[:, 1] = 0.0                  # a feature that is never nonzero
        X[:, 2] = rng.randn(rows)      # a dense feature
    if rows > 2:
        X[1] = 0.0                     # a sample without nonzeros
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_products(dtype):
    """The sparse first layer's forward product X @ W and weight gradient
    X^T D, computed from X's nonzeros, against the dense products; the
    weight gradient cut into runs of features (empty runs too) gives the
    same bits whatever the cut."""
    rng = np.random.RandomState(14)
    tol = TOL[dtype]
    cases = [(1, 1, 1), (1, 7, 8), (7, 15, 16), (17, 63, 17), (64, 65, 63),
             (129, 127, 64), (200, 200, 65), (16, 1000, 127), (1000, 600, 129),
             (33, 40, 200), (5, 30, 1000)]
    for rows, n_in, n_out in cases:
        for density in (0.05, 0.3, 1.0):
            X = sparse_rows(rows, n_in, density, dtype, rng)
            W = rng.randn(n_in, n_out).astype(dtype)
            D = rng.randn(rows, n_out).astype(dtype)
            X64, W64, D64 = (a.astype(np.float64) for a in (X, W, D))
            cuts = [None, [0, n_in], [0, n_in // 2, n_in], [0, 0, n_in // 3, n_in // 3,
                                                             n_in - 1, n_in, n_in],
                    np.linspace(0, n_in, 6).astype(int)]
            results = [_testing.sparse_products(X, W, D, split=c) for c in cuts]
            Z, dW = results[0]
            what = f"{dtype.__name__} rows={rows} n_in={n_in} n_out={n_out} d={density}"
            assert Z.dtype == dtype and dW.dtype == dtype
            near(Z, X64 @ W64, tol, np.abs(X64) @ np.abs(W64), what + " X @ W")
            near(dW, X64.T @ D64, tol, np.abs(X64).T @ np.abs(D64), what + " X^T D")
            for (Zc, dWc), c in zip(results[1:], cuts[1:]):
                np.testing.assert_array_equal(Zc, Z, err_msg=f"{what} cut {c}")
                np.testing.assert_array_equal(dWc, dW, err_msg=f"{what} cut {c}")
    Z, dW = _testing.sparse_products(np.zeros((0, 4), dtype), np.ones((4, 3), dtype),
                                     np.zeros((0, 3), dtype))
    assert Z.shape == (0, 3) and np.all(dW == 0)
