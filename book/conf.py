"""Sphinx configuration of the course's book (built by `./run book`, see tools/book.py).

Sphinx reads the staged copy of this folder (_build/book-src/); MyST-NB runs every notebook at
build time and sphinx-book-theme lays the pages out. The site loads nothing from another host:
math is MathML written into the page (grader.mathml, the converter of the feedback pages), the
theme's fonts and scripts are its own local copies, and no widget script is loaded (the book
shows no widget). It opens from disk.
"""
from docutils import nodes

from grader import mathml

project = "Batch Normalization, derived, coded, watched and explained"
author = "the course's authors"
copyright = "the course's authors, MIT licence"
language = "en"

extensions = ["myst_nb"]
exclude_patterns = ["release/**", "**.ipynb_checkpoints"]   # release/: the notebooks to download

# MyST: $...$ and $$...$$ in markdown cells, as in Jupyter
myst_enable_extensions = ["dollarmath"]
myst_dmath_double_inline = True   # $$...$$ inside a paragraph, as Jupyter renders it
myst_heading_anchors = 3

# MyST-NB: run every notebook on every build, fail on the first error (nothing is cached)
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_ipywidgets_js = {}          # no require.js or widget manager from a CDN

html_theme = "sphinx_book_theme"
html_title = "Batch Normalization: the course"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_copy_source = False       # no _sources/ copies: the pages are the book
html_show_sourcelink = False
html_show_search_summary = False   # a summary is fetched from the page, which file:// forbids
html_math_renderer = "mathml"
html_context = {"default_mode": "light"}   # else the theme, finding no saved choice on file://, complains
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_source_button": False,
    "use_edit_page_button": False,
    "use_issues_button": False,
    "launch_buttons": {},
    "navigation_with_keys": False,
}


def _inline(translator, node):
    translator.body.append(mathml.inline(node.astext()))
    raise nodes.SkipNode


def _block(translator, node):
    translator.body.append(f'<div class="math-block">{mathml.block(node.astext())}</div>\n')
    raise nodes.SkipNode


def _alternate(app, env, docnames):
    """With -j, Sphinx reads (and MyST-NB runs) the documents in one run of consecutive names per
    process: alternating them keeps Part C's slow notebooks from all going to one process."""
    docnames[:] = docnames[::2] + docnames[1::2]


def setup(app):
    app.add_html_math_renderer("mathml", (_inline, None), (_block, None))
    app.connect("env-before-read-docs", _alternate)
