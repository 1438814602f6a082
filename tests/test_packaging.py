"""The package's identity: one version, recorded in pickles."""

import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.exceptions import InconsistentVersionWarning

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_defined_once_in_meson_build():
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", fastmlp.__version__)
    meson = ROOT / "meson.build"
    if not meson.exists():  # tests run against an installed wheel
        pytest.skip("no source tree beside the tests")
    declared = re.search(r"version:\s*'([^']+)'", meson.read_text()).group(1)
    assert fastmlp.__version__ == declared
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]


def test_installed_metadata_matches_the_version():
    from importlib.metadata import version
    assert version("fastmlp") == fastmlp.__version__


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_pickles_record_the_version_and_load_silently(Est):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    est = Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    state = est.__getstate__()
    assert state["_fastmlp_version"] == fastmlp.__version__
    assert "_fastmlp_version" not in est.__dict__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = pickle.loads(pickle.dumps(est))
    assert "_fastmlp_version" not in restored.__dict__
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


@pytest.mark.parametrize("recorded", ["0.0.1", None])
def test_unpickling_another_version_warns(recorded):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    est.fit(X, X[:, 0])
    state = est.__getstate__()
    if recorded is None:
        del state["_fastmlp_version"]  # a pickle older than recorded versions
    else:
        state["_fastmlp_version"] = recorded
    fresh = MLPRegressor.__new__(MLPRegressor)
    with pytest.warns(InconsistentVersionWarning) as record:
        fresh.__setstate__(state)
    w = record[0].message
    assert w.estimator_name == "MLPRegressor"
    assert w.original_version == (recorded or "unknown")
    assert w.current_version == fastmlp.__version__
    assert "MLPRegressor" in str(w) and fastmlp.__version__ in str(w)
    # it still loads: the state is the same layout here
    np.testing.assert_array_equal(fresh.predict(X), est.predict(X))
