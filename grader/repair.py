"""Read and repair a handed-in notebook before it is graded.

A handed-in notebook's cell metadata is untrusted input: a cell copied in JupyterLab keeps its
grade_id, a student's editor may strip the metadata or leave it of the wrong type (`"nbgrader":
"oops"`, points `"lots"`, an integer grade_id, tags as a dict), cells get moved, and cells get
added anywhere, before the setup cell too. nbgrader trusts that metadata (and fails, or scores a
perfect answer 0, when it is broken). Here the notebook that is graded is rebuilt from the
instructor's release version instead, and only the student's code is taken from the handed-in
file:

- The instructor's cells (setup, tests, text) always come from the instructor's version. A
  handed-in cell is one of them when its nbgrader metadata is valid and names it, or when its
  text is that cell's text; the handed-in copy is dropped.
- An answer cell is found by its grade_id when its metadata is valid and names an answer cell;
  else, for code, by what it defines: the cell that defines, at its top level, every name the
  instructor's answer defines (`batchnorm_forward`, `mu_B`); else by its position: the first
  cell of the student's own right after the instructor's cell the answer follows. When several
  cells are one answer (a cell copied in JupyterLab), all of them are kept, in their order, in the
  answer's place: run top to bottom, the last definition counts, as in the student's kernel (a
  copy of the untouched stub counts only when nothing else does).
- Every other cell is the student's own: kept, with its metadata dropped, after the instructor's
  or answer cell it followed; cells placed before the setup cell come right after it, so that
  nothing of the student's runs before the course's own imports.

    read_submission(path) -> (notebook or None, why not)
    repair(handed_in, release_nb, source_nb) -> (notebook, [note])
"""
import ast
import copy
import json
from pathlib import Path

import nbformat


def read_notebook(data):
    """A notebook from parsed JSON, without trusting anything in it but its cells' types and
    texts; None when `data` is not a notebook (no list of cells)."""
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None
    nb = nbformat.v4.new_notebook()
    for raw in data["cells"]:
        if not isinstance(raw, dict):
            continue
        kind = raw.get("cell_type")
        text = _text(raw.get("source", ""))
        cell = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                "raw": nbformat.v4.new_raw_cell}.get(kind, nbformat.v4.new_raw_cell)(text)
        cell.metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        if kind == "code" and isinstance(raw.get("outputs"), list):
            cell.outputs = raw["outputs"]  # untrusted: kept only for figure cells, sanitised (repair)
        nb.cells.append(cell)
    return nb


def _text(source):
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return ""


def claimed_id(cell):
    """The grade_id a handed-in cell's metadata names, or None when that metadata is missing or
    malformed."""
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("grade_id"), str):
        return None
    return meta["grade_id"]


def defined_names(code):
    """Names a cell of code binds at its top level (defs, classes, assignments, imports);
    an empty set when it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(code))
    except Exception:  # noqa: BLE001 (a syntax error, or code too deep for the parser)
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                    if isinstance(part, ast.Name):
                        names.add(part.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _nbgrader(cell):
    meta = cell.metadata.get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _own_cell(cell):
    """A student's cell as a fresh cell: its type and text only (no nbgrader metadata), with its
    tags if they are a list of strings, and no outputs unless it is a figure cell."""
    new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}.get(
        cell.cell_type, nbformat.v4.new_raw_cell)(cell.source)
    tags = cell.metadata.get("tags")
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        new.metadata["tags"] = list(tags)
    _carry_figures(cell, new)
    return new


def _carry_figures(handed_in, cell):
    """A figure cell (one the grader does not run: grader.execute.skipped_when_grading) keeps the
    outputs it was handed in with, sanitised (grader.sanitize): the student's own plots reach
    formgrader and the feedback. Any other cell's outputs are the grader's to make."""
    from grader.execute import skipped_when_grading
    from grader.sanitize import sanitize_output

    if cell.cell_type == "code" and skipped_when_grading(cell):
        cell.outputs = [nbformat.from_dict(kept) for output in handed_in.get("outputs") or []
                        if (kept := sanitize_output(output)) is not None]


def repair(handed_in, release_nb, source_nb):
    """The notebook to grade: release_nb's cells, its answer cells filled with the student's
    code found in `handed_in` (see the module's docstring), the student's own cells in place.

    Inputs: handed_in, the student's notebook (read_notebook); release_nb and source_nb, the
    instructor's release and source versions (the same cells, by grade_id).
    Returns (notebook, [notes]): the notes say what was found other than by valid metadata.
    """
    cells = release_nb.cells
    ids = {_nbgrader(c).get("grade_id"): i for i, c in enumerate(cells) if _nbgrader(c).get("grade_id")}
    answers = {gid: i for gid, i in ids.items() if _nbgrader(cells[i]).get("solution")}
    reference = {_nbgrader(c).get("grade_id"): c.source for c in source_nb.cells}
    names = {gid: defined_names(reference.get(gid, "")) for gid, i in answers.items()
             if cells[i].cell_type == "code"}
    texts = {}
    for i, cell in enumerate(cells):
        if i not in answers.values() and cell.source.strip():
            texts.setdefault((cell.cell_type, cell.source.strip()), i)
    setup = next((i for i, c in enumerate(cells) if c.cell_type == "code"), 0)
    found = {gid: [] for gid in answers}      # answer grade_id -> [student cell]
    after = {i: [] for i in range(len(cells))}  # release index -> [student's own cells after it]
    notes, anchor = [], setup
    figures = {}  # release index -> the handed-in copy of that instructor's cell
    for cell in handed_in.cells:
        gid = claimed_id(cell)
        if gid in answers and cell.cell_type == cells[answers[gid]].cell_type:
            found[gid].append(cell)
            anchor = max(answers[gid], setup)
            continue
        if gid in ids:  # a setup or test cell: the instructor's version is used
            anchor = max(ids[gid], setup)
            continue
        if (cell.cell_type, cell.source.strip()) in texts:
            anchor = max(texts[(cell.cell_type, cell.source.strip())], setup)
            figures.setdefault(texts[(cell.cell_type, cell.source.strip())], cell)
            continue
        if cell.source.strip():
            after[anchor].append(cell)
    # answers whose metadata is gone: by the names they define, else by their position
    own = [c for i in sorted(after) for c in after[i]]
    for gid, i in answers.items():
        if found[gid]:
            continue
        if names.get(gid):
            found[gid] = [c for c in own if c.cell_type == "code" and names[gid] <= defined_names(c.source)]
            how = f"by the names it defines ({', '.join(sorted(names[gid]))})"
        if not found[gid]:
            before = max(i - 1, setup)
            found[gid] = [c for c in after[before] if c.cell_type == cells[i].cell_type][:1]
            how = "by its position"
        if found[gid]:
            notes.append(f"{gid}: found {how}, its cell metadata being missing or broken")
        taken = {id(c) for c in found[gid]}
        own = [c for c in own if id(c) not in taken]
        for spot in after.values():
            spot[:] = [c for c in spot if id(c) not in taken]
    repaired = copy.deepcopy(release_nb)
    repaired.cells = []
    for i, cell in enumerate(cells):
        cell = copy.deepcopy(cell)
        if i in figures:
            _carry_figures(figures[i], cell)
        extra = []
        gid = _nbgrader(cell).get("grade_id")
        if gid in answers and found[gid]:
            versions = found[gid]
            edited = [c for c in versions if c.source.strip() != cell.source.strip()]
            versions = edited or versions[-1:]
            if len(versions) > 1:
                notes.append(f"{gid}: {len(versions)} cells are this answer (a copied cell?): "
                             "all kept, run in their order")
            cell.source = versions[0].source
            extra = [_own_cell(c) for c in versions[1:]]
        repaired.cells += [cell, *extra, *(_own_cell(c) for c in after[i])]
    return repaired, notes


def read_submission(path):
    """(notebook, "") for a readable notebook file, else (None, why it cannot be graded).

    Only the cells' types and texts are trusted (grader.repair.read_notebook): metadata that
    nbformat's schema rejects (tags as a dict, say) does not make a notebook ungradable."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"not a notebook: the file is not valid JSON ({error})"
    except RecursionError:
        return None, "not a notebook: the file is JSON nested too deeply to read"
    nb = read_notebook(data)
    if nb is None:
        return None, "not a notebook: valid JSON, but without notebook cells"
    return nb, ""
