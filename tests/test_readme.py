"""The documentation's examples run as written.

Every ```python block of README.md and docs/user_guide.md runs on its own,
in a fresh namespace, as a reader would paste it: it must finish, print
something, and emit no warning (a warning in an example is one its readers
would see, the README's Quick start included).  A block preceded by a line
``<!-- not tested -->`` is skipped; a block that uses an optional part
(``sklearn.callback`` or ``set_callbacks``: scikit-learn >= 1.9;
``ProgressBar``: rich) is skipped where that part is missing.  Outside the source tree (no
README.md beside tests/), everything is skipped.
"""

import ast
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/user_guide.md")
NOT_TESTED = "<!-- not tested -->"

if not (ROOT / "README.md").is_file():
    pytest.skip("README.md not found: the tests run outside the source tree",
                allow_module_level=True)


def python_blocks(text):
    """(first line number, code, marked not tested) of each ```python block."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            previous = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
            blocks.append((start + 1, "\n".join(lines[start:end]) + "\n",
                           previous == NOT_TESTED))
            i = end
        i += 1
    return blocks


def _examples():
    params = []
    for name in DOCUMENTS:
        path = ROOT / name
        if not path.is_file():
            # in the source tree, a missing document is an error, not a skip
            params.append(pytest.param(name, 0, None, False, id=f"{name}-missing"))
            continue
        for line, code, skip in python_blocks(path.read_text(encoding="utf-8")):
            params.append(pytest.param(name, line, code, skip, id=f"{name}:{line}"))
    return params


EXAMPLES = _examples()

# What a block may use beyond the test requirements: (module, name or
# attribute used, module to import or skip on, why).
OPTIONAL = (
    ("sklearn.callback", "sklearn.callback", "scikit-learn >= 1.9"),
    ("set_callbacks", "sklearn.callback", "scikit-learn >= 1.9"),
    ("ProgressBar", "rich", "rich"),
    ("onnxruntime", "onnxruntime", "the onnx extra"),
    ("skl2onnx", "skl2onnx", "the onnx extra"),
    ("skops.io", "skops", "skops"),
    ("matplotlib", "matplotlib", "matplotlib"),
    ("dask", "distributed", "the dask extra"),
    ("distributed", "distributed", "the dask extra"),
    ("fastmlp.dask", "distributed", "the dask extra"),
)


def _names(code):
    """Modules and names that the block imports, and attributes it reads."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


@pytest.mark.parametrize("document, line, code, not_tested", EXAMPLES)
def test_example_runs_and_prints(document, line, code, not_tested, capsys, tmp_path,
                                 monkeypatch):
    assert code is not None, f"{document} is missing"
    monkeypatch.chdir(tmp_path)   # files an example writes go there
    if not_tested:
        pytest.skip(f"marked {NOT_TESTED}")
    used = _names(code)
    for name, module, reason in OPTIONAL:
        if any(u == name or u.startswith(name + ".") for u in used):
            pytest.importorskip(module, reason=f"the example needs {reason}")
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(code, f"{document}:{line}", "exec"), namespace)
    out = capsys.readouterr().out
    assert out.strip(), f"the example at {document}:{line} printed nothing"


def test_every_document_has_examples():
    """Guards the parser: each document has python blocks, and the README's
    Quick start is one of them."""
    counts = {}
    for param in EXAMPLES:
        document, line, code, _ = param.values
        counts[document] = counts.get(document, 0) + (code is not None)
    assert all(counts.get(name, 0) > 0 for name in DOCUMENTS), counts
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = re.search(r"^## Quick start\n(.*?)^## ", readme, re.M | re.S)
    assert quick_start and "```python" in quick_start.group(1)
