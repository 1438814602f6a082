"""Export to ONNX: a fitted estimator's inference graph, with the ``onnx``
package's helpers, and its registration with ``skl2onnx`` so that whole
pipelines convert.

The graph is what ``predict`` and ``predict_proba`` compute: one ``Gemm``
per layer, batch normalisation folded into the preceding layer's weights and
bias (``s = gamma / sqrt(var + eps)``: ``W s`` and ``beta - mean s``), the
hidden activation with standard operators (GELU through ``Erf``, SiLU as
``x * Sigmoid(x)``), dropout and input noise absent (they act in training
only), and the output layer.  Classifiers have scikit-learn's (and
``skl2onnx``'s) outputs ``label`` and ``probabilities``; regressors one
output ``variable`` of shape (n, n_outputs).
"""

import numpy as np

#: The lowest opset whose operators the graph uses (Softmax on the last
#: axis, ArgMax, Gather, Erf, Softplus, Elu, LeakyRelu: all by opset 13).
MIN_OPSET = 13
#: The default: supported by every onnxruntime released since 2022.
DEFAULT_OPSET = 17


def _onnx():
    try:
        import onnx
    except ImportError as exc:   # pragma: no cover - depends on the extra
        raise ImportError(
            "fastmlp.to_onnx needs the 'onnx' package: pip install 'fastmlp[onnx]'"
        ) from exc
    return onnx


class _Builder:
    """Nodes and initialisers of a graph, with names made unique by
    `unique` (a function of a hint)."""

    def __init__(self, unique, dtype):
        onnx = _onnx()
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.TensorProto = onnx.TensorProto
        self.unique = unique
        self.dtype = np.dtype(dtype)
        self.nodes, self.initializers = [], []

    def const(self, hint, value, dtype=None):
        name = self.unique(hint)
        arr = np.asarray(value, dtype=dtype or self.dtype)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, hint=None, output=None, **attrs):
        output = output or self.unique(hint or op.lower())
        self.nodes.append(self.helper.make_node(op, list(inputs), [output],
                                                name=self.unique(op), **attrs))
        return output


def _folded_layers(est):
    """(W, b) of every layer in float64, batch norm folded in."""
    coefs = [np.asarray(c, dtype=np.float64) for c in est.coefs_]
    biases = [np.asarray(b, dtype=np.float64) for b in est.intercepts_]
    layers = []
    for i, (W, b) in enumerate(zip(coefs, biases)):
        if est.batch_norm and i < len(coefs) - 1:
            scale = np.asarray(est.bn_gamma_[i], np.float64) / np.sqrt(
                np.asarray(est.bn_running_var_[i], np.float64) + est.bn_eps)
            W = W * scale
            b = b - np.asarray(est.bn_running_mean_[i], np.float64) * scale
        layers.append((W, b))
    return layers


def _activation(g, name, x):
    """Nodes of a hidden activation of x; returns the output's name."""
    from ._components import ACTIVATIONS

    param = ACTIVATIONS[name].param
    if name == "identity":
        return x
    simple = {"logistic": "Sigmoid", "sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
    if name in simple:
        return g.node(simple[name], [x], name)
    double = g.dtype == np.float64
    if name == "leaky_relu":
        if not double:
            return g.node("LeakyRelu", [x], name, alpha=float(param))
        # LeakyRelu's alpha is a float32 attribute: the slope as a double
        return g.node("Where", [g.node("Greater", [x, g.const("zero", 0.0)]), x,
                                g.node("Mul", [x, g.const("slope", float(param))])], name)
    if name == "elu":
        if not double:
            return g.node("Elu", [x], name, alpha=float(param))
        # onnxruntime has no double Elu: alpha (exp(min(x, 0)) - 1) where x <= 0
        neg = g.node("Sub", [g.node("Exp", [g.node("Min", [x, g.const("zero", 0.0)])]),
                             g.const("one", 1.0)])
        return g.node("Where", [g.node("Greater", [x, g.const("zero", 0.0)]), x,
                                g.node("Mul", [neg, g.const("alpha", float(param))])],
                      name)
    if name == "gelu":
        # x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, the exact form
        e = g.node("Mul", [x, g.const("inv_sqrt2", 0.5 ** 0.5)])
        if double:
            # onnxruntime has no double Erf: erf in float32 (~1e-7 relative)
            e = g.node("Cast", [e], to=g.TensorProto.FLOAT)
            e = g.node("Cast", [g.node("Erf", [e])], to=g.TensorProto.DOUBLE)
        else:
            e = g.node("Erf", [e])
        half = g.node("Mul", [x, g.const("half", 0.5)])
        return g.node("Mul", [half, g.node("Add", [e, g.const("one", 1.0)])], name)
    if name == "silu":
        if double:
            # x / (1 + exp(-x)): onnxruntime fuses x * Sigmoid(x) into its
            # QuickGelu, which has no double kernel in some versions
            return g.node("Div", [x, g.node("Add", [g.const("one", 1.0), g.node(
                "Exp", [g.node("Neg", [x])])])], name)
        return g.node("Mul", [x, g.node("Sigmoid", [x])], name)
    raise ValueError(f"no ONNX form for the activation {name!r}")


def _logits(g, est, x):
    """Nodes of the forward pass up to the output layer's pre-activation."""
    layers = _folded_layers(est)
    for i, (W, b) in enumerate(layers):
        x = g.node("Gemm", [x, g.const(f"coef{i}", W), g.const(f"intercept{i}", b)],
                   f"layer{i}")
        if i < len(layers) - 1:
            x = _activation(g, est.activation, x)
    return x


def _class_labels(est):
    """classes_ as an ONNX-storable array (int64 or strings), and whether
    they are strings."""
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64), False
    if classes.dtype.kind == "f":
        if not np.all(classes == np.round(classes)):
            raise ValueError("ONNX labels must be integers or strings; classes_ holds "
                             "non-integral floats.")
        return classes.astype(np.int64), False
    return np.array([str(c) for c in classes], dtype=object), True


def _task_labels(est):
    """A multitask model's classes_, one array per task, all int64 or all
    strings (one ONNX label tensor holds every task), and whether strings."""
    classes = [np.asarray(c) for c in est.classes_]
    if all(c.dtype.kind in "iub" or (c.dtype.kind == "f" and np.all(c == np.round(c)))
           for c in classes):
        return [c.astype(np.int64) for c in classes], False
    if any(c.dtype.kind == "f" for c in classes):
        raise ValueError("ONNX labels must be integers or strings; classes_ holds "
                         "non-integral floats.")
    return [np.array([str(v) for v in c], dtype=object) for c in classes], True


def _multitask_outputs(g, est, z, label, proba):
    """Multitask (one softmax per task): `proba` the tasks' probabilities
    side by side (predict_proba's arrays concatenated), `label` (n, k)."""
    classes, _ = _task_labels(est)
    probas, labels = [], []
    start = 0
    for j, c in enumerate(classes):
        zj = g.node("Slice", [z, g.const(f"start{j}", [start], np.int64),
                              g.const(f"end{j}", [start + len(c)], np.int64),
                              g.const(f"axes{j}", [1], np.int64)], f"logits_task{j}")
        pj = g.node("Softmax", [zj], f"proba_task{j}", axis=-1)
        idx = g.node("ArgMax", [pj], f"argmax_task{j}", axis=1, keepdims=1)
        labels.append(g.node("Gather", [g.const(f"classes{j}", c, c.dtype), idx],
                             f"label_task{j}", axis=0))
        probas.append(pj)
        start += len(c)
    g.node("Concat", probas, output=proba, axis=1)
    g.node("Concat", labels, output=label, axis=1)


def _classifier_outputs(g, est, x, label, proba):
    """Nodes from the input x to the outputs `label` and `proba`."""
    z = _logits(g, est, x)
    if est._multitask:
        _multitask_outputs(g, est, z, label, proba)
        return
    multilabel = est._label_binarizer.y_type_ == "multilabel-indicator"
    classes, _ = _class_labels(est)
    if est.out_activation_ == "softmax":
        p = g.node("Softmax", [z], output=proba, axis=-1)
        idx = g.node("ArgMax", [p], "argmax", axis=1, keepdims=0)
    elif multilabel:
        p = g.node("Sigmoid", [z], output=proba)
        g.node("Cast", [g.node("Greater", [p, g.const("threshold", 0.5)])],
               output=label, to=g.TensorProto.INT64)
        return
    elif len(classes) == 1:
        # a model fitted on one class: probability 1, that class
        shape = g.node("Shape", [z])
        p = g.node("ConstantOfShape", [shape], output=proba,
                   value=g.numpy_helper.from_array(np.ones(1, g.dtype)))
        rows = g.node("Slice", [shape, g.const("start", [0], np.int64),
                                g.const("end", [1], np.int64)])
        idx = g.node("ConstantOfShape", [rows], "index",
                     value=g.numpy_helper.from_array(np.zeros(1, np.int64)))
    else:
        # binary: [sigmoid(-z), sigmoid(z)] as predict_proba, and the second
        # class where sigmoid(z) > 0.5 as predict
        p1 = g.node("Sigmoid", [z])
        p0 = g.node("Sigmoid", [g.node("Neg", [z])])
        g.node("Concat", [p0, p1], output=proba, axis=1)
        above = g.node("Greater", [p1, g.const("threshold", 0.5)])
        idx = g.node("Cast", [g.node("Squeeze", [above, g.const("axis", [1], np.int64)])],
                     "index", to=g.TensorProto.INT64)
    g.node("Gather", [g.const("classes", classes, classes.dtype), idx], output=label,
           axis=0)


def _regressor_outputs(g, est, x, variable):
    z = _logits(g, est, x)
    ops = {"identity": "Identity", "logistic": "Sigmoid", "softplus": "Softplus",
           "exp": "Exp"}
    if est.out_activation_ not in ops:
        raise ValueError(f"no ONNX form for the output {est.out_activation_!r}")
    if est.out_activation_ == "softplus" and g.dtype == np.float64:
        # onnxruntime has no double Softplus: max(z, 0) + log(1 + exp(-|z|))
        tail = g.node("Log", [g.node("Add", [g.const("one", 1.0), g.node(
            "Exp", [g.node("Neg", [g.node("Abs", [z])])])])])
        g.node("Add", [g.node("Relu", [z]), tail], output=variable)
        return
    g.node(ops[est.out_activation_], [z], output=variable)


def _input_cast(g, x, dtype):
    """The input in the model's dtype (a float64 model fed float32 data and
    the reverse compute in the graph's dtype, as predict converts)."""
    return x if dtype == g.dtype else g.node("Cast", [x], "input_cast",
                                             to=_proto_type(g, g.dtype))


def _proto_type(g, dtype):
    return g.TensorProto.FLOAT if np.dtype(dtype) == np.float32 else g.TensorProto.DOUBLE


def _check_fitted(estimator):
    from ._multilayer_perceptron import MLPClassifier, MLPRegressor

    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise TypeError("to_onnx converts fastmlp's MLPClassifier and MLPRegressor; "
                        f"got {type(estimator).__name__}.")
    from ._base import check_fitted

    check_fitted(estimator)
    if estimator.__dict__.get("_snapshots"):
        raise ValueError(
            f"This model is a snapshot ensemble of {len(estimator._snapshots)} "
            "networks (snapshot_ensemble); to_onnx exports one network. Export "
            "a model fitted with snapshot_ensemble=None, or average the "
            "snapshots' outputs outside ONNX.")
    # the public arrays may have been set by the user: checked as predict does
    estimator._current_model()
    return isinstance(estimator, MLPClassifier)


def to_onnx(estimator, *, dtype=None, target_opset=None):
    """The inference graph of a fitted estimator as an ONNX model.

    Batch normalisation is folded into the preceding layer, dropout and
    input noise are absent (training only).  A classifier's graph has
    ``skl2onnx``'s outputs: ``label`` (the predicted classes, int64 or
    strings; for multilabel models an int64 indicator matrix) and
    ``probabilities`` (``predict_proba``'s columns; for a multitask model,
    ``label`` is (n_samples, n_tasks) and ``probabilities`` the tasks'
    ``predict_proba`` arrays side by side, ``n_outputs_`` columns); a regressor's has
    ``variable``, of shape (n_samples, n_outputs).  The input is ``X``,
    of shape (n_samples, n_features).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted estimator.
    dtype : {'float32', 'float64'} or None, default=None
        The input's and the computation's type; None is the estimator's
        ``dtype``.  A float32 graph of a float64 model rounds its
        parameters to float32.
    target_opset : int or None, default=None
        The ONNX opset (13 or later); None is 17.

    Returns
    -------
    model : onnx.ModelProto
        The checked ONNX model (``onnx.checker.check_model``).

    Raises
    ------
    TypeError
        If `estimator` is not a fastmlp estimator.
    sklearn.exceptions.NotFittedError
        If it is not fitted.
    ValueError
        For an opset below 13, an unknown dtype, classes that are neither
        integers nor strings, or a snapshot ensemble (``snapshot_ensemble``:
        several networks).

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from fastmlp import MLPClassifier, to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> clf = MLPClassifier(max_iter=300, random_state=0).fit(X, y)
    >>> onx = to_onnx(clf)
    >>> sess = ort.InferenceSession(onx.SerializeToString(),
    ...                             providers=["CPUExecutionProvider"])
    >>> label, proba = sess.run(None, {"X": X[:3]})
    >>> bool((label == clf.predict(X[:3])).all())
    True
    """
    onnx = _onnx()
    classifier = _check_fitted(estimator)
    dtype = np.dtype(estimator.dtype if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype}.")
    opset = DEFAULT_OPSET if target_opset is None else int(target_opset)
    if opset < MIN_OPSET:
        raise ValueError(f"target_opset must be at least {MIN_OPSET}; got {opset}.")
    counts = {}

    def unique(hint):
        counts[hint] = counts.get(hint, -1) + 1
        return hint if counts[hint] == 0 else f"{hint}_{counts[hint]}"

    g = _Builder(unique, dtype)
    for reserved in ("X", "label", "probabilities", "variable"):
        unique(reserved)
    helper = onnx.helper
    elem = _proto_type(g, dtype)
    n_features = int(estimator.n_features_in_)
    inputs = [helper.make_tensor_value_info("X", elem, [None, n_features])]
    if classifier and estimator._multitask:
        _classifier_outputs(g, estimator, "X", "label", "probabilities")
        _, strings = _task_labels(estimator)
        outputs = [
            helper.make_tensor_value_info(
                "label", onnx.TensorProto.STRING if strings else onnx.TensorProto.INT64,
                [None, len(estimator.classes_)]),
            helper.make_tensor_value_info("probabilities", elem,
                                          [None, int(estimator.n_outputs_)]),
        ]
    elif classifier:
        _classifier_outputs(g, estimator, "X", "label", "probabilities")
        classes, strings = _class_labels(estimator)
        multilabel = estimator._label_binarizer.y_type_ == "multilabel-indicator"
        n_proba = len(classes) if estimator.n_outputs_ > 1 or len(classes) > 2 else \
            (1 if len(classes) == 1 else 2)
        label_type = onnx.TensorProto.STRING if strings else onnx.TensorProto.INT64
        outputs = [
            helper.make_tensor_value_info(
                "label", onnx.TensorProto.INT64 if multilabel else label_type,
                [None, n_proba] if multilabel else [None]),
            helper.make_tensor_value_info("probabilities", elem, [None, n_proba]),
        ]
    else:
        _regressor_outputs(g, estimator, "X", "variable")
        outputs = [helper.make_tensor_value_info("variable", elem,
                                                 [None, int(estimator.n_outputs_)])]
    graph = helper.make_graph(g.nodes, f"fastmlp_{type(estimator).__name__}",
                              inputs, outputs, g.initializers)
    model = helper.make_model(
        graph, producer_name="fastmlp",
        opset_imports=[helper.make_opsetid("", opset)])
    # the oldest IR that carries the opset: readable by older runtimes
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model)
    return model


class _ContainerBuilder(_Builder):
    """A _Builder that writes into a skl2onnx converter's container."""

    def __init__(self, scope, container, dtype):
        super().__init__(scope.get_unique_variable_name, dtype)
        self.scope, self.container = scope, container

    def const(self, hint, value, dtype=None):
        name = self.unique(hint)
        arr = np.asarray(value, dtype=dtype or self.dtype)
        if arr.dtype == object:   # strings: skl2onnx stores them as bytes
            elem, content = self.TensorProto.STRING, [str(v).encode() for v in arr.ravel()]
        else:
            elem = self.helper.np_dtype_to_tensor_dtype(arr.dtype)
            content = arr.ravel().tolist()
        self.container.add_initializer(name, elem, list(arr.shape), content)
        return name

    def node(self, op, inputs, hint=None, output=None, **attrs):
        output = output or self.unique(hint or op.lower())
        self.container.add_node(op, list(inputs), [output],
                                name=self.scope.get_unique_operator_name(op), **attrs)
        return output


def _converter(scope, operator, container):
    """skl2onnx's converter for fastmlp's estimators: the graph of
    `to_onnx`, computed in the input's type (as skl2onnx's own MLP
    converter does)."""
    from skl2onnx.common.data_types import DoubleTensorType

    est = operator.raw_operator
    if getattr(est, "_multitask", False):
        raise ValueError("skl2onnx's classifier outputs have no multitask form; "
                         "export a multitask MLPClassifier with fastmlp.to_onnx.")
    dtype = np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) \
        else np.float32
    g = _ContainerBuilder(scope, container, dtype)
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.__class__.__name__ not in ("FloatTensorType",
                                                         "DoubleTensorType"):
        x = g.node("Cast", [x], "input_cast", to=_proto_type(g, dtype))
    if len(operator.outputs) == 2:
        _classifier_outputs(g, est, x, operator.outputs[0].full_name,
                            operator.outputs[1].full_name)
    else:
        _regressor_outputs(g, est, x, operator.outputs[0].full_name)


def _classifier_shapes(operator):
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )

    est = operator.raw_operator
    if est._multitask:
        raise ValueError("skl2onnx's classifier outputs have no multitask form; "
                         "export a multitask MLPClassifier with fastmlp.to_onnx.")
    calculate_linear_classifier_output_shapes(operator)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n, len(est.classes_)])


def _regressor_shapes(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    cls = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) \
        else FloatTensorType
    operator.outputs[0].type = cls([n, int(est.n_outputs_)])


def register_skl2onnx_converters():
    """Register fastmlp's estimators with ``skl2onnx``.

    After this call ``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn``
    convert pipelines that hold fastmlp's estimators, with the graph of
    :func:`to_onnx` computed in the input's type.  Classifiers take
    skl2onnx's options ``zipmap`` and ``nocl``.  Calling it again is
    harmless.

    Raises
    ------
    ImportError
        If ``skl2onnx`` is not installed (``pip install 'fastmlp[onnx]'``).

    Examples
    --------
    >>> import numpy as np, onnxruntime as ort, skl2onnx
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastmlp import MLPClassifier, register_skl2onnx_converters
    >>> register_skl2onnx_converters()
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> pipe = make_pipeline(StandardScaler(),
    ...                      MLPClassifier(max_iter=300, random_state=0)).fit(X, y)
    >>> onx = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    >>> sess = ort.InferenceSession(onx.SerializeToString(),
    ...                             providers=["CPUExecutionProvider"])
    >>> label, proba = sess.run(None, {"X": X[:3]})
    >>> bool((label == pipe.predict(X[:3])).all())
    True
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError as exc:   # pragma: no cover - depends on the extra
        raise ImportError(
            "register_skl2onnx_converters needs skl2onnx: "
            "pip install 'fastmlp[onnx]'") from exc
    from ._multilayer_perceptron import MLPClassifier, MLPRegressor

    update_registered_converter(
        MLPClassifier, "FastmlpMLPClassifier", _classifier_shapes, _converter,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]})
    update_registered_converter(
        MLPRegressor, "FastmlpMLPRegressor", _regressor_shapes, _converter)
