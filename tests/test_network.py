"""The architecture as data (``_network.Network``): the flat parameter
layout, its views, packing, the initialisations, the running statistics'
layout, 64-byte alignment, and the component tables it reads."""

import numpy as np
import pytest
from _helpers import ACTS, PAIRS
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastmlp import _tables
from fastmlp._aligned import ALIGNMENT, aligned, aligned_empty, aligned_zeros, is_aligned
from fastmlp._components import ACTIVATIONS, OUTPUTS, SOLVERS, WEIGHT_INITS
from fastmlp._network import Network

# --- the component tables ---------------------------------------------------------


def test_components_follow_the_c_tables():
    """Every C activation, output and solver has its Python spec with the C
    table's code (and needs_input); "sigmoid" is logistic's alias."""
    for name, (code, needs) in _tables.ACTIVATIONS.items():
        assert ACTIVATIONS[name].name == name
        assert (ACTIVATIONS[name].code, ACTIVATIONS[name].needs_input) == (code, needs)
    assert set(ACTIVATIONS) == set(_tables.ACTIVATIONS) | {"sigmoid"}
    assert ACTIVATIONS["sigmoid"] is ACTIVATIONS["logistic"]
    assert ACTIVATIONS["gelu"].needs_input and ACTIVATIONS["silu"].needs_input
    assert OUTPUTS == _tables.OUTPUTS
    assert {name: s.code for name, s in SOLVERS.items() if s.stochastic} \
        == _tables.SOLVERS
    # the codes are 0..n-1, each once
    for table in (list(_tables.ACTIVATIONS.values()),):
        assert sorted(c for c, _ in table) == list(range(len(table)))
    assert sorted(OUTPUTS.values()) == list(range(len(OUTPUTS)))
    assert sorted(_tables.SOLVERS.values()) == list(range(len(_tables.SOLVERS)))


# --- layout and views ---------------------------------------------------------------


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("sizes", [[3, 2], [5, 4, 3], [6, 7, 5, 2], [2, 9, 1, 4, 3]])
def test_layout(sizes, batch_norm):
    """theta = every weight matrix (row-major, (n_in, n_out)), then every
    bias, then (BN) every hidden layer's gamma; the views share its memory."""
    net = Network(sizes, "relu", "softmax", "log_loss", np.float64,
                  batch_norm=batch_norm)
    fan_in, fan_out = np.array(sizes[:-1]), np.array(sizes[1:])
    n_w = fan_in * fan_out
    hidden = sum(sizes[1:-1])
    bn = batch_norm and len(sizes) > 2
    assert net.batch_norm == bn
    assert net.n_weights == n_w.sum()
    assert net.n_params == n_w.sum() + fan_out.sum() + (hidden if bn else 0)
    np.testing.assert_array_equal(net.w_off, np.r_[0, np.cumsum(n_w)[:-1]])
    np.testing.assert_array_equal(net.b_off, net.n_weights + np.r_[0, np.cumsum(fan_out)[:-1]])
    if bn:
        np.testing.assert_array_equal(
            net.g_off, net.n_weights + fan_out.sum() + np.r_[0, np.cumsum(sizes[1:-1])[:-1]])
    else:
        assert net.g_off.size == 0
    assert net.n_layers == len(sizes) - 1
    theta = np.arange(net.n_params, dtype=np.float64)
    coefs, inter, gammas = net.coefs(theta), net.intercepts(theta), net.bn_gammas(theta)
    assert [c.shape for c in coefs] == list(zip(sizes[:-1], sizes[1:]))
    assert [b.shape for b in inter] == [(s,) for s in sizes[1:]]
    assert [g.shape for g in gammas] == ([(s,) for s in sizes[1:-1]] if bn else [])
    # views, in order, covering theta once
    pieces = [v.ravel() for v in coefs + inter + gammas]
    np.testing.assert_array_equal(np.concatenate(pieces), theta)
    assert all(np.shares_memory(v, theta) for v in coefs + inter + gammas)
    coefs[0][0, 0] = -1.0
    assert theta[0] == -1.0


def test_network_attributes():
    net = Network([4, 6, 5, 3], "leaky_relu", "identity", "squared_error", np.float32,
                  dropout=[0.2, 0.4], input_noise=0.3, seed=7)
    assert net.dtype == np.float32
    assert net.act_codes.dtype == np.intc
    np.testing.assert_array_equal(net.act_codes, [ACTIVATIONS["leaky_relu"].code] * 2)
    np.testing.assert_array_equal(net.act_param, [0.01, 0.01])
    assert net.out_code == OUTPUTS[("identity", "squared_error")]
    assert net.loss_scale == pytest.approx(1 / 3)   # squared error averages outputs
    np.testing.assert_array_equal(net.dropout, [0.2, 0.4])
    assert (net.input_noise, net.seed) == (0.3, 7)
    for pair in PAIRS:
        other = Network([4, 3], "relu", *pair, np.float64)
        assert other.out_code == OUTPUTS[pair]
        assert other.loss_scale == (1 / 3 if pair[1] == "squared_error" else 1.0)
    for name in ACTS:
        spec = ACTIVATIONS[name]
        net = Network([4, 6, 3], name, "softmax", "log_loss", np.float64)
        np.testing.assert_array_equal(net.act_codes, [spec.code])
        np.testing.assert_array_equal(net.act_param, [spec.param or 0.0])
    net = Network([4, 6, 3], "elu", "softmax", "log_loss", np.float64,
                  activation_param=0.5)
    np.testing.assert_array_equal(net.act_param, [0.5])
    for bad in ([4], [4, 0, 3], [[4, 3]], []):
        with pytest.raises(ValueError, match="invalid layer sizes"):
            Network(bad, "relu", "softmax", "log_loss", np.float64)


def test_running_statistics_layout():
    """BN's running statistics: float64, every hidden unit's mean, then
    every variance; initially 0 and 1; views per hidden layer."""
    net = Network([4, 6, 5, 3], "relu", "softmax", "log_loss", np.float32,
                  batch_norm=True)
    running = net.initial_running()
    assert running.dtype == np.float64 and running.shape == (22,)
    np.testing.assert_array_equal(running, np.r_[np.zeros(11), np.ones(11)])
    means, var = net.running_views(running)
    assert [m.shape for m in means] == [(6,), (5,)] == [v.shape for v in var]
    means[1][...] = 7.0
    var[0][...] = 3.0
    np.testing.assert_array_equal(running, np.r_[np.zeros(6), np.full(5, 7.0),
                                                 np.full(6, 3.0), np.ones(5)])
    plain = Network([4, 6, 3], "relu", "softmax", "log_loss", np.float32)
    assert plain.initial_running().size == 0
    assert plain.running_views(plain.initial_running()) == ([], [])
    # no hidden layer: no batch norm
    assert not Network([4, 3], "relu", "softmax", "log_loss", np.float32,
                       batch_norm=True).batch_norm


def test_pack_round_trip_and_shape_errors():
    net = Network([3, 4, 2], "tanh", "softmax", "log_loss", np.float32, batch_norm=True)
    rng = np.random.RandomState(0)
    coefs = [rng.randn(3, 4), rng.randn(4, 2)]
    inter = [rng.randn(4), rng.randn(2)]
    gammas = [rng.randn(4)]
    theta = net.pack(coefs, inter, gammas)
    assert theta.dtype == np.float32 and theta.shape == (net.n_params,)
    assert is_aligned(theta)
    for got, want in zip(net.coefs(theta) + net.intercepts(theta) + net.bn_gammas(theta),
                         coefs + inter + gammas):
        np.testing.assert_array_equal(got, want.astype(np.float32))
    with pytest.raises(ValueError, match=r"coefs_ has a matrix of shape \(3, 5\) where "
                                         r"the network needs \(3, 4\)"):
        net.pack([rng.randn(3, 5), coefs[1]], inter, gammas)
    with pytest.raises(ValueError, match=r"intercepts_ has a vector of shape \(3,\) "
                                         r"where the network needs \(2,\)"):
        net.pack(coefs, [inter[0], rng.randn(3)], gammas)


# --- initialisation ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", ACTS)
def test_glorot_uniform_is_sklearns(act, dtype):
    """glorot_uniform draws scikit-learn's weights and biases, in its order:
    U(-r, r), r = sqrt(factor / (fan_in + fan_out)), factor 2 for the
    logistic, 6 otherwise."""
    sizes = [5, 7, 4, 3]
    net = Network(sizes, act, "softmax", "log_loss", dtype)
    theta = net.init_params(np.random.RandomState(3))
    rs = np.random.RandomState(3)
    factor = 2.0 if act == "logistic" else 6.0
    assert ACTIVATIONS[act].glorot_factor == factor
    for W, b, fi, fo in zip(net.coefs(theta), net.intercepts(theta), sizes[:-1],
                            sizes[1:]):
        bound = np.sqrt(factor / (fi + fo))
        np.testing.assert_array_equal(W, rs.uniform(-bound, bound, (fi, fo)).astype(dtype))
        np.testing.assert_array_equal(b, rs.uniform(-bound, bound, fo).astype(dtype))


def test_glorot_uniform_matches_sklearn_estimator():
    """The same random_state gives scikit-learn's initial coefficients
    (fitted for one step with a rate of ~0: the initial ones)."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 5), rng.randint(0, 3, 30)
    sk = SkMLPClassifier((7,), activation="logistic", max_iter=1, random_state=4,
                         learning_rate_init=1e-300, solver="sgd", momentum=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X, y)
    net = Network([5, 7, 3], "logistic", "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(4))
    for a, b in zip(net.coefs(theta) + net.intercepts(theta), sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("weight_init", [w for w in WEIGHT_INITS
                                         if w not in ("glorot_uniform", "standard")])
def test_other_initialisations(weight_init, act):
    """glorot_normal: N(0, 2 / (fan_in + fan_out)); he_*: variance gain^2 /
    fan_in, gain^2 = 2 / (1 + a^2) with a leaky ReLU's slope (PyTorch's
    kaiming_*_); uniform ones bounded by sqrt(3) std; biases zero."""
    fi, fo = 400, 300
    net = Network([fi, fo, 2], act, "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(0), weight_init)
    W = net.coefs(theta)[0]
    slope = 0.01 if act == "leaky_relu" else 0.0
    gain2 = 2.0 / (1.0 + slope**2)
    assert ACTIVATIONS[act].he_gain2(ACTIVATIONS[act].param or 0.0) == pytest.approx(gain2)
    var = 2.0 / (fi + fo) if weight_init == "glorot_normal" else gain2 / fi
    assert W.var() == pytest.approx(var, rel=0.02)
    assert abs(W.mean()) < 4 * np.sqrt(var / W.size)
    if weight_init == "he_uniform":
        bound = np.sqrt(3 * var)
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert all(np.all(b == 0) for b in net.intercepts(theta))


def test_he_gain_follows_the_leaky_slope():
    net = Network([500, 400, 2], "leaky_relu", "softmax", "log_loss", np.float64,
                  activation_param=0.5)
    W = net.coefs(net.init_params(np.random.RandomState(0), "he_normal"))[0]
    assert W.var() == pytest.approx(2.0 / (1 + 0.25) / 500, rel=0.02)
    with pytest.raises(ValueError, match="weight_init must be one of"):
        net.init_params(np.random.RandomState(0), "zeros")
    assert set(WEIGHT_INITS) == {"glorot_uniform", "glorot_normal", "he_uniform",
                                 "he_normal", "standard"}


def test_standard_initialisation_is_pytorch_linear():
    """'standard': weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    the bound of PyTorch's nn.Linear (and Glorot & Bengio's heuristic)."""
    fi, fo = 400, 300
    net = Network([fi, fo, 2], "tanh", "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(0), "standard")
    bound = 1 / np.sqrt(fi)
    W, b = net.coefs(theta)[0], net.intercepts(theta)[0]
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert W.var() == pytest.approx(bound**2 / 3, rel=0.02)
    assert np.abs(b).max() <= bound and b.std() > 0
    assert np.abs(net.intercepts(theta)[1]).max() <= 1 / np.sqrt(fo)


@pytest.mark.parametrize("weight_init", WEIGHT_INITS)
def test_bn_initialisation(weight_init):
    """BN: gamma 1 and beta 0 (PyTorch's); the weights and the output bias
    are those of the same random_state without BN."""
    kw = dict(layer_sizes=[5, 6, 4, 3], activation="relu", out_activation="softmax",
              loss="log_loss", dtype=np.float64)
    bn = Network(batch_norm=True, **kw)
    plain = Network(**kw)
    t_bn = bn.init_params(np.random.RandomState(0), weight_init)
    t_plain = plain.init_params(np.random.RandomState(0), weight_init)
    for a, b in zip(bn.coefs(t_bn), plain.coefs(t_plain)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(bn.intercepts(t_bn)[-1], plain.intercepts(t_plain)[-1])
    assert all(np.all(b == 0) for b in bn.intercepts(t_bn)[:-1])
    assert all(np.all(g == 1) for g in bn.bn_gammas(t_bn))
    assert is_aligned(t_bn) and is_aligned(t_plain)


# --- alignment --------------------------------------------------------------------------


def test_vectors_start_on_64_byte_boundaries():
    """aligned_empty / aligned_zeros / aligned give 64-byte aligned vectors
    (numpy gives 16)."""
    assert ALIGNMENT == 64
    for n in (1, 7, 1000, 100_003):
        for dtype in (np.float32, np.float64, np.intp):
            a = aligned_empty(n, dtype)
            assert a.shape == (n,) and a.dtype == dtype and a.flags.c_contiguous
            assert a.ctypes.data % ALIGNMENT == 0 and is_aligned(a)
            z = aligned_zeros(n, dtype)
            assert is_aligned(z) and np.all(z == 0) and z.dtype == dtype
    b = np.arange(10.0)[1:]                  # 8 bytes off numpy's alignment
    assert not is_aligned(b)
    assert aligned(b).ctypes.data % ALIGNMENT == 0
    np.testing.assert_array_equal(aligned(b), b)
    a = aligned_empty(9, np.float64)
    assert aligned(a) is a                   # already aligned: itself
    a.flags.writeable = False
    assert aligned(a) is not a and aligned(a).flags.writeable
    m = aligned(np.arange(12.0).reshape(3, 4))   # 2-d: flattened
    assert m.shape == (12,) and is_aligned(m)
