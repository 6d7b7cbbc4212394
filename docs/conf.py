"""Sphinx configuration of fundiff's documentation site (``sphinx-build -W docs docs/_build/html``).

Everything the build needs comes from PyPI (furo, myst-nb, sphinx-mathjax-offline)
or from this repository; it reads nothing from the network. Before the build,
``docs/_ext/generated.py`` writes the pages made from the package: the demo
gallery (from ``fundiff demo``) and the course notebooks rendered with outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))

project = "fundiff"
author = "the fundiff authors"
copyright = "2026, the fundiff authors"  # noqa: A001 (Sphinx's name)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself, not a CDN
    "myst_nb",
    "generated",
]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"  # the notebooks are executed by generated.py, once, with FUNDIFF_FAST
exclude_patterns = ["_build", "results/**", "README.md"]
suppress_warnings = ["myst.header"]

autosummary_generate = True
templates_path = ["_templates"]

html_theme = "furo"
html_title = "fundiff"
html_static_path: list[str] = []
