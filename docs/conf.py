"""Sphinx configuration of fastmlp's documentation site.

Build it (from the repository root, with ``pip install ".[docs]"``)::

    python -m sphinx -W -b html docs docs/_build/html
"""

import os
import re
import warnings

import fastmlp

project = "fastmlp"
author = "The fastmlp developers"
copyright = "2026, The fastmlp developers"
version = release = fastmlp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples/README.rst", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5", "auto_examples/*.pickle"]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"fastmlp {release}"
html_static_path = []

# No network in CI: intersphinx inventories are optional.
intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "plot_gallery": "True",
}

# The examples' own ConvergenceWarnings are part of what they show.
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")
os.environ.setdefault("MPLBACKEND", "Agg")


# Methods inherited from scikit-learn (score, get_params, set_*_request...)
# carry docstrings that refer to scikit-learn's own documentation (its
# glossary and labels), which this site cannot resolve offline: their
# references are shown as literal text.
_ROLE = re.compile(r":(?:ref|term|class|func|meth|obj|mod|attr|doc):`~?([^`<]*?)\s*(?:<[^>]*>)?`")


def _plain_foreign_references(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("fastmlp"):
        return
    lines[:] = [_ROLE.sub(lambda m: f"``{m.group(1).strip()}``", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_foreign_references, priority=400)
