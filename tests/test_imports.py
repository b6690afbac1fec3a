"""Importing the course's compute modules stays cheap: no scikit-learn, SciPy, matplotlib or Pillow.

Every notebook of every student starts in a fresh kernel when it is graded, so whatever a notebook's
first cell imports is paid once per notebook and student. The Part C notebooks import only
course.experiments (and course.testing, ...): none of them needs a plotting library to be loaded
before it draws. Each module is imported in a fresh interpreter, with `-X importtime`, so that a
failure names the chain of imports that pulled the heavy package in.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("sklearn", "scipy", "matplotlib", "PIL", "ipywidgets")
LIGHT = ("course.data", "course.experiments", "course.testing", "course.symbolic", "course.gradcheck",
         "course.mlp", "course.palette")
# course.viz: CovariateShiftExplorer subclasses an ipywidgets box, so ipywidgets is loaded with it;
# matplotlib and Pillow are imported by the functions that draw.
ALLOWED = {"course.viz": {"ipywidgets"}}

_PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {heavy!r})))
"""


def _import_in_fresh_interpreter(module, cwd):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE.format(module=module, heavy=HEAVY)],
        capture_output=True, text=True, cwd=cwd, timeout=120)
    assert result.returncode == 0, f"import {module} failed:\n{result.stderr[-3000:]}"
    return set(json.loads(result.stdout.strip().splitlines()[-1])), result.stderr


def _who_imported(package, importtime):
    """The chain of imports that first loaded `package`, from the module under test down to the first
    module of `package`, read from -X importtime's tree.

    -X importtime prints a module after everything it imported, indented two spaces per level; the module
    that imported a line's module is the next line below it with less indentation.
    """
    rows = []
    for line in importtime.splitlines():
        match = re.match(r"import time:\s*[\d ]+\|\s*[\d ]+\|( *)(\S+)", line)
        if match:
            rows.append((len(match.group(1)), match.group(2)))
    first = next((i for i, (_, name) in enumerate(rows) if name.split(".")[0] == package), None)
    if first is None:
        return [package]
    depth, chain = rows[first][0], [rows[first][1]]
    for level, name in rows[first + 1:]:
        if level < depth:
            chain.append(name)
            depth = level
    chain = chain[::-1]
    outermost = next(i for i, name in enumerate(chain) if name.split(".")[0] == package)
    return chain[:outermost + 1]


@pytest.mark.parametrize("module", LIGHT + tuple(ALLOWED))
def test_module_imports_no_heavy_package(module, tmp_path):
    loaded, importtime = _import_in_fresh_interpreter(module, tmp_path)
    packages = {name.split(".")[0] for name in loaded} - ALLOWED.get(module, set())
    culprits = [" -> ".join(_who_imported(package, importtime)) for package in sorted(packages)]
    assert not culprits, (
        f"`import {module}` loads {sorted(packages)}, which costs every graded notebook that imports it; "
        "import it inside the function that needs it instead. First imported by:\n  " + "\n  ".join(culprits))


def test_the_palette_is_one_object_everywhere():
    """Notebooks import COLORS from course.viz (Part B) or course.experiments (Part C): the same colours."""
    import course.experiments
    import course.palette
    import course.viz

    assert course.viz.COLORS is course.palette.COLORS is course.experiments.COLORS
    assert course.viz.LABELS is course.palette.LABELS
    assert course.palette.COLORS == {"plain": "tab:blue", "bn": "tab:orange"}


def test_no_course_module_imports_scikit_learn():
    """The digits ship with the course (course/digits.npz): scikit-learn is no dependency of it."""
    for path in sorted((ROOT / "course").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(sklearn|scipy)\b", text, re.MULTILINE), (
            f"course/{path.name} imports scikit-learn or SciPy, which the course does not depend on")


# What students' kernels may import: the package course, every module of it (the grader's
# modules are the package grader's).
KERNEL_MODULES = {f"course.{p.stem}" for p in (ROOT / "course").glob("*.py") if p.stem != "__init__"}


def test_notebooks_import_only_what_students_kernels_may_see():
    """Notebooks import nothing of the grader's package outside their hidden tests (which run in
    the grader, and import only grader.checks), and the student package imports nothing of it
    either (the kernel's sandbox does not have it)."""
    import nbformat

    from grader.judge import hidden_split

    for path in sorted((ROOT / "source").glob("part_*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                visible, hidden = hidden_split(cell.source)
                assert not re.search(r"^\s*(from|import)\s+grader\b", visible, re.M), (
                    f"{path.name} uses the grader's package")
                imported = re.findall(r"^\s*(?:from|import)\s+(grader[\w.]*)", hidden, re.M)
                assert all(name.startswith("grader.checks.") for name in imported), (path.name, imported)
    for path in sorted((ROOT / "course").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+grader\b", text, re.M), f"course/{path.name} imports the grader"
    listed = set(re.findall(r"^- (course\.\w+)", (ROOT / "course" / "__init__.py").read_text(), re.M))
    assert listed == KERNEL_MODULES, f"course/__init__.py lists {sorted(listed ^ KERNEL_MODULES)} wrongly"


def test_the_graders_processes_start_without_rfc3987_syntax_and_still_validate_notebooks(tmp_path):
    """Every process of the grader (each command, each grading process) imports nbformat, and with
    it jsonschema, which imports rfc3987_syntax where it is installed: 0.85 s of Lark parsers built
    at import, for two formats no notebook schema uses. grader keeps it out; nbformat still finds
    what is wrong with a notebook."""
    probe = ("import json, sys\nimport grader.grading, nbformat, jsonschema\n"
             "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
             "nbformat.validate(nb)\nnb.cells[0]['outputs'] = 'not a list'\n"
             "try:\n    nbformat.validate(nb)\n    caught = False\n"
             "except nbformat.ValidationError:\n    caught = True\n"
             "print(json.dumps([sys.modules.get('rfc3987_syntax') is not None, caught]))")
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded, caught = json.loads(result.stdout.strip().splitlines()[-1])
    assert not loaded, "rfc3987_syntax was imported: " + " -> ".join(_who_imported("rfc3987_syntax", result.stderr))
    assert caught, "nbformat no longer rejects an invalid notebook"
