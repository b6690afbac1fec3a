"""The course as a book: a static site of every notebook, run once, for reading without a kernel.

    ./run book                   # _build/book/index.html (open it from disk, no server needed)
    ./run book --no-solutions    # the same without the reference solutions, for a class
    ./run book --notebook b5_covariate_shift   # just one notebook (while writing it)

Two steps. `stage` writes the Sphinx project of book/ and one book notebook per source notebook
into _build/book-src/; Sphinx (MyST-NB and sphinx-book-theme, configured in book/conf.py) then
runs each notebook and writes the site to _build/book/. A book notebook is its source notebook
with
- the hidden tests and mark schemes removed by nbgrader's own preprocessors, as in release/;
- every answer cell twice: the release stub (not run), then the reference solution, run, behind
  a fold ("Show the solution") the reader opens; with --no-solutions the solution still runs
  (the figures need it) but is left out of the page;
- after its title, how to do it yourself: the release notebook to download (shipped in the
  site), `./run lab` and `course check`;
- B5's explorer, a widget that needs a running kernel, replaced by a few of its frames.
Both steps write only into _build/ (or beside the folder that --out names).
"""
import argparse
import copy
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id as random_cell_id

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "book"                  # conf.py, index.md, _static/: the committed Sphinx project
STAGE = ROOT / "_build" / "book-src"     # what Sphinx reads (made anew by every build)
OUT = ROOT / "_build" / "book"           # the site
DOWNLOADS = "release"                    # the release notebooks, inside STAGE (not pages of the book)

STUB_TAGS = ["answer-stub", "skip-execution"]   # nbclient does not run a cell tagged skip-execution
SHOW_SOLUTION = {"code_prompt_show": "Show the solution", "code_prompt_hide": "Hide the solution"}
PARTS = {"part_a": "Part A — derivations", "part_b": "Part B — code", "part_c": "Part C — concepts"}
_CONVENTIONS_LINK = re.compile(r"\]\(conventions\.md(#[^)]*)?\)")

# B5 ends with an explorer (ipywidgets) that redraws on every move of its slider: in the book it
# is a few of its frames instead, drawn by the notebook's own function. The cell that displays
# the explorer is found by the name of the function that builds it.
EXPLORER = "visualize_covariate_shift"
EXPLORER_NOTE = ("*In the book:* the explorer needs a running kernel, so here are four of its frames "
                 "(the last hidden layer, both networks, from the first to the last recorded epoch). "
                 "Download the notebook and run it to drag the slider yourself.")
EXPLORER_FRAMES = f"""\
# Book only: four frames of the explorer (its slider needs a running kernel)
from IPython.display import Image, display

explorer = {EXPLORER}(history_plain, history_bn)
for pick in np.unique(np.linspace(0, len(explorer.epochs) - 1, 4).round().astype(int)):
    explorer.slider.value = explorer.epochs[pick]
    display(Image(explorer.image.value))
"""


def release_version(nb, config):
    """The student version of a source notebook, as `course release` makes it (nbgrader's
    ClearSolutions, ClearHiddenTests, ClearMarkScheme), cell for cell; `nb` is not changed."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    release = copy.deepcopy(nb)
    for preprocessor in (ClearSolutions, ClearHiddenTests, ClearMarkScheme):
        release, _ = preprocessor(config=config).preprocess(release, {})
    return release


def book_notebook(nb, config, part, name, solutions=True):
    """The book's notebook of the source notebook `nb` (source/<part>/<name>.ipynb): see the module."""
    from nbgrader.utils import is_grade, is_solution

    release = release_version(nb, config)
    cells = []
    for index, (source, student) in enumerate(zip(nb.cells, release.cells)):
        student.metadata.pop("nbgrader", None)
        if student.cell_type == "markdown":
            student.source = _CONVENTIONS_LINK.sub(r"](../conventions.md\1)", student.source)
        if student.cell_type == "code" and is_solution(source):
            student.metadata["tags"] = student.metadata.get("tags", []) + STUB_TAGS
            answer = nbformat.v4.new_code_cell(source.source, metadata={
                "tags": ["solution", "hide-cell" if solutions else "remove-cell"], "mystnb": SHOW_SOLUTION})
            cells += [student, answer]
        elif student.cell_type == "code" and not is_grade(source) and EXPLORER + "(" in student.source:
            cells += [nbformat.v4.new_markdown_cell(EXPLORER_NOTE),
                      nbformat.v4.new_code_cell(EXPLORER_FRAMES, metadata={"tags": ["explorer-frames", "remove-input"]})]
        else:
            cells.append(student)
        if index == 0:
            cells.append(nbformat.v4.new_markdown_cell(do_it_yourself(part, name, solutions)))
    for cell in cells:
        cell.setdefault("id", random_cell_id())
    return nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(nb.metadata))


def try_first(solutions):
    """What the book shows of the answers, in one sentence."""
    return ("Each answer cell is shown as you get it, and then its reference solution behind a fold: "
            "try the task first, then open *Show the solution*." if solutions else
            "Each answer cell is shown as you get it; the reference solutions are not part of this book.")


def do_it_yourself(part, name, solutions):
    """The box after a notebook's title: where to get it, how to run it, how to check it."""
    notebook = f"release/{part}/{name}.ipynb"
    return f"""\
```{{admonition}} Do it yourself
:class: tip

{try_first(solutions)}

- **The notebook:** {{download}}`{name}.ipynb <../{DOWNLOADS}/{part}/{name}.ipynb>` (the student version;
  it imports the course's package `course`, so install the course first, as its README says).
- **In JupyterLab:** in the course's folder, `./run lab` and open `{notebook}`. Each test cell
  says what passed, or what is wrong.
- **Check it against the hidden tests:** `./run course check {notebook}`.
```
"""


def stage(stage_dir=STAGE, solutions=True, only=None, root=ROOT):
    """Write the Sphinx project into stage_dir: book/'s files, the conventions card, a book
    notebook per source notebook (or per one named in `only`, e.g. {"b1_forward"}) and the
    release notebooks to download. Returns the book notebooks' paths."""
    from grader.coursedir import assignments, load_config, source_notebooks

    config = load_config(root)
    stage_dir = Path(stage_dir)
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(PROJECT, stage_dir, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(root / "docs" / "conventions.md", stage_dir / "conventions.md")
    written = []
    for part in assignments(root):
        for path in source_notebooks(root, part):
            if only is not None and path.stem not in only:
                continue
            released = root / "release" / part / path.name
            if not released.exists():
                sys.exit(f"{released.relative_to(root)} is missing: run ./run course release first")
            (stage_dir / DOWNLOADS / part).mkdir(parents=True, exist_ok=True)
            shutil.copy(released, stage_dir / DOWNLOADS / part / path.name)
            nb = nbformat.read(path, as_version=4)
            target = stage_dir / part / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(book_notebook(nb, config, part, path.stem, solutions), target)
            written.append(target)
    unknown = sorted(set(only or ()) - {path.stem for path in written})
    if unknown:
        sys.exit(f"no source notebook is called {', '.join(unknown)} (a name is like b5_covariate_shift)")
    with open(stage_dir / "index.md", "a") as index:   # what it shows of the answers, the contents in order
        index.write(f"\n{try_first(solutions)}\n")
        index.write(toctree("The conventions", ["conventions"]))
        for part in dict.fromkeys(path.parent.name for path in written):
            index.write(toctree(PARTS.get(part, part), [f"{part}/{p.stem}" for p in written if p.parent.name == part]))
    return written


def toctree(caption, documents):
    """A MyST toctree: the sidebar's and the home page's list of `documents` under `caption`."""
    lines = "\n".join(documents)
    return f"\n```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n{lines}\n```\n"


def build(out=OUT, solutions=True, only=None, jobs="auto", quiet=True):
    """Stage the book (see `stage`) and build the site into `out` with Sphinx; returns the path
    of its index.html.

    Raises SystemExit with Sphinx's status when the build fails (a notebook that raises included).
    """
    from sphinx.cmd.build import build_main

    out = Path(out)
    stage_dir = out.parent / f"{out.name}-src"
    stage(stage_dir, solutions, only)
    if out.exists():
        shutil.rmtree(out)
    # doctrees and the executed notebooks (MyST-NB's jupyter_execute/) go beside the site, not in it
    arguments = ["-b", "html", "-j", str(jobs), "-d", str(out.parent / f"{out.name}-doctrees"),
                 "-W", "--keep-going", str(stage_dir), str(out)]
    if quiet:
        arguments.insert(0, "-q")
    status = build_main(arguments)
    if status:
        raise SystemExit(status)
    return out / "index.html"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-solutions", action="store_true",
                        help="leave the reference solutions out (they still run, for the figures)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the site's folder (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--notebook", action="append", metavar="NAME",
                        help="only this notebook, e.g. b5_covariate_shift (repeatable; default: all)")
    parser.add_argument("--jobs", default="auto", help="notebooks run at a time (Sphinx's -j; default: one per core)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    index = build(args.out.resolve(), solutions=not args.no_solutions, only=args.notebook and set(args.notebook),
                  jobs=args.jobs, quiet=False)
    print(f"the book ({'without' if args.no_solutions else 'with'} solutions) in {time.perf_counter() - start:.0f} s: "
          f"open {index} (it needs no server and no network)")


if __name__ == "__main__":
    main()
