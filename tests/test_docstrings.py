"""Every public docstring passes numpydoc's validation, and its examples run.

After scikit-learn's sklearn/tests/test_docstrings.py: the same error codes
are ignored, and the Examples, See Also and extended summary are required
of the public classes only.
"""

import doctest
import importlib
import inspect

import pytest

import fastmlp
import fastmlp.exceptions
import fastmlp.inspection

try:
    import fastmlp.dask as fastmlp_dask
except ImportError:   # the dask extra is not installed
    fastmlp_dask = None

numpydoc_validation = pytest.importorskip("numpydoc.validate")


def _public_objects():
    """Import paths of every public class, function, method and property."""
    names = [(fastmlp, n) for n in fastmlp.__all__]
    names += [(fastmlp.exceptions, n) for n in fastmlp.exceptions.__all__
              if n not in fastmlp.__all__]
    names += [(fastmlp.inspection, n) for n in fastmlp.inspection.__all__]
    if fastmlp_dask is not None:
        names += [(fastmlp_dask, n) for n in fastmlp_dask.__all__]
    for module, name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            yield f"{obj.__module__}.{obj.__qualname__}", None
            for attr in sorted(dir(obj)):
                member = getattr(obj, attr)
                if attr.startswith("_") or not (callable(member)
                                                or isinstance(member, property)):
                    continue
                # methods of fastmlp's own, or scikit-learn's mixins
                if (getattr(member, "__module__", None) or "").startswith(
                        ("fastmlp", "sklearn")):
                    yield f"{obj.__module__}.{obj.__qualname__}.{attr}", attr
        elif inspect.isfunction(obj):
            yield f"{obj.__module__}.{obj.__name__}", "function"


def _errors(result, method):
    for code, message in result["errors"]:
        # scikit-learn's exceptions: a name in the first line of Returns,
        # the summary's placement
        if code in ("RT02", "GL01", "GL02"):
            continue
        # Examples, See Also and an extended summary: classes only
        if method is not None and code in ("EX01", "SA01", "ES01"):
            continue
        yield code, message


@pytest.mark.parametrize("path, method", list(_public_objects()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_docstring(path, method):
    result = numpydoc_validation.validate(path)
    errors = list(_errors(result, method))
    assert not errors, "\n".join([path, result["docstring"]] +
                                 [f"{code}: {msg}" for code, msg in errors])


def test_help_shows_the_parameters():
    """The class docstrings are docstrings (they were once built as an
    expression, which left __doc__ None), and document every parameter."""
    from numpydoc.docscrape import ClassDoc

    classes = [fastmlp.MLPClassifier, fastmlp.MLPRegressor]
    if fastmlp_dask is not None:
        classes += [fastmlp_dask.MLPClassifier, fastmlp_dask.MLPRegressor]
    for cls in classes:
        assert cls.__doc__ is not None
        documented = {name.strip() for p in ClassDoc(cls)["Parameters"]
                      for name in p.name.split(",")}
        assert documented == set(inspect.signature(cls).parameters)


@pytest.mark.parametrize("module", [
    "fastmlp._multilayer_perceptron", "fastmlp._config", "fastmlp.exceptions",
    "fastmlp._onnx", "fastmlp.inspection",
])
def test_doctests(module):
    """The examples in the docstrings run and print what they show."""
    if module == "fastmlp._onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("skl2onnx")
    if module == "fastmlp.inspection":
        pytest.importorskip("matplotlib")
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
