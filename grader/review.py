"""Review the student's code: the scan for tricks, a review aid for the instructor (it changes no grade:
the grader judges every test itself, grader.judge)."""
import ast
from dataclasses import dataclass

from nbgrader.utils import is_grade, is_solution

from grader.execute import NBCLIENT_SKIP_TAG
from grader.judge import hidden_split
from grader.repair import claimed_id

# What honest answers to this course never need, and tricks use: looked for in every cell the
# student wrote (answer cells and cells they added), reported for review.
SCAN_MODULES = {
    "builtins", "ctypes", "gc", "glob", "importlib", "inspect", "io", "IPython", "marshal",
    "multiprocessing", "nbformat", "nbgrader", "os", "pathlib", "pickle", "resource", "shutil",
    "signal", "socket", "sqlite3", "subprocess", "sys", "threading", "traitlets", "types",
    "urllib", "requests", "http", "grader"}
SCAN_CALLS = {"open", "exec", "eval", "compile", "__import__", "setattr", "delattr", "globals",
              "vars", "locals", "get_ipython", "breakpoint", "exit", "quit"}
SCAN_ATTRIBUTES = {
    "f_back", "f_globals", "f_locals", "f_builtins", "_getframe", "__globals__", "__builtins__",
    "__code__", "__dict__", "__class__", "__subclasses__", "input_transformers_cleanup",
    "input_transformers_post", "ast_transformers", "set_custom_exc", "excepthook", "modules",
    "settrace", "setprofile", "_exit", "run_cell", "user_ns", "events", "showtraceback"}
SCAN_METHODS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__",
                "__array_ufunc__", "__array_function__", "__array_finalize__", "__float__",
                "__abs__", "__instancecheck__"}


def _python_source(code):
    """A cell's code as IPython runs it (magics turned into calls); None if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        text = TransformerManager().transform_cell(code)
        return text, ast.parse(text)
    except Exception:  # noqa: BLE001 (a syntax error is the student's, and fails on its own)
        return code, None


def _bound_names(tree):
    """Names a piece of code binds at its top level (assignments, loops, defs, imports), not
    the local names inside its functions and classes."""
    names, todo = set(), list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _all_bound(tree):
    """Every name a piece of code binds anywhere, its functions' locals and arguments included."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@dataclass
class NotebookRules:
    """What the source notebook says about the code a student may write in it.

    - locked: grade_ids of the cells nbgrader puts back from the source (setup and tests)
    - protected: names the notebook's own cells define and its tests use (np, check_array, ...)
    - imports: the source's own import statements (a student repeating one is harmless)
    - hidden: names defined only inside hidden tests (_expected, _rng, ...)
    - modules: names the notebook's own imports bind (np, ...)
    - course_code: the code of the notebook's other cells (demonstrations a student may run)
    """
    locked: set
    protected: set
    imports: set
    hidden: set
    modules: set
    course_code: set


def notebook_rules(source_nb):
    """The NotebookRules of a source notebook."""
    locked, protected, imports, hidden, modules, course_code = set(), set(), set(), set(), set(), set()
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or is_solution(cell):
            continue
        if not meta.get("grade_id"):
            course_code.add(cell.source.strip())
            continue
        if meta.get("grade_id"):
            locked.add(meta["grade_id"])
        visible, secret = hidden_split(cell.source)
        _, tree = _python_source(visible)
        if tree is not None:
            if not is_grade(cell):
                protected |= _bound_names(tree)
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    imports.add(ast.dump(node))
                    modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
        _, tree = _python_source(secret)
        if tree is not None:
            # every name the hidden tests bind, the locals of their functions included: the hidden
            # checks run inside a function, and student code that names one of them is still flagged
            hidden |= {n for n in _all_bound(tree)
                       if n.startswith("_") and not n.startswith("__") and n != "_"}
    return NotebookRules(locked, protected, imports, hidden, modules, course_code)


def student_cells(nb, rules):
    """[(index, label, code)] of the code cells a student wrote: answer cells and added cells."""
    cells = []
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if (cell.cell_type == "code" and grade_id not in rules.locked
                and (grade_id or cell.source.strip() not in rules.course_code)):
            cells.append((index, grade_id or f"cell {index + 1}", cell.source))
    return cells


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_cell(code, rules):
    """What in one cell of student code looks like a trick: ["line 3: changes np.allclose", ...]."""
    text, tree = _python_source(code)
    if tree is None:
        return []
    modules = rules.modules | {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    local = _all_bound(tree)
    found = []

    def flag(node, what):
        found.append(f"line {getattr(node, 'lineno', 1)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in SCAN_MODULES:
                    flag(node, f"imports {name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SCAN_CALLS:
            flag(node, f"calls {node.func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in SCAN_ATTRIBUTES:
            flag(node, f"uses .{node.attr}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for part in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                    root = _root_name(part)
                    if isinstance(part, (ast.Attribute, ast.Subscript)) and (
                            root in modules or (root in rules.protected and root not in local)):
                        flag(node, f"changes {ast.unparse(part)}")
        elif isinstance(node, ast.ClassDef):
            bases = [ast.unparse(b) for b in node.bases]
            if any(b.split(".")[-1] in ("ndarray", "float", "int", "tuple") for b in bases):
                flag(node, f"class {node.name} derives from {', '.join(bases)}")
            methods = sorted(f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.Assign))
                             and getattr(f, "name", None) in SCAN_METHODS)
            methods += sorted(t.id for f in node.body if isinstance(f, ast.Assign)
                              for t in f.targets if isinstance(t, ast.Name) and t.id in SCAN_METHODS)
            if methods:
                flag(node, f"class {node.name} defines {', '.join(methods)}")
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and set(node.names) & rules.protected:
            rebound = ", ".join(sorted(set(node.names) & rules.protected))
            flag(node, f"declares {rebound} global (to rebind from a function what the notebook's tests use)")
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            flag(node, "uses __builtins__")
        elif isinstance(node, ast.Name) and node.id in rules.hidden and node.id not in local:
            flag(node, f"uses {node.id}, a name of the hidden tests")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in rules.hidden:
            flag(node, f"mentions '{node.value}', a name of the hidden tests")
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and ast.dump(node) in rules.imports:
            continue  # the notebook's own import, repeated
        rebound = sorted(_bound_names(ast.Module(body=[node], type_ignores=[])) & rules.protected)
        if rebound:
            flag(node, f"redefines {', '.join(rebound)}, which the notebook's tests use")
    return list(dict.fromkeys(found))


def scan_notebook(nb, rules):
    """Every trick-like statement in the student's cells of nb: ["b1-forward, line 3: ...", ...]."""
    flags = []
    for _, label, code in student_cells(nb, rules):
        flags += [f"{label}, {item}" for item in scan_cell(code, rules)]
    return flags + skip_tag_flags(nb)


def skip_tag_flags(nb):
    """The cells of a handed-in notebook tagged to be skipped by nbclient: ["b1-test-values, tagged ..."]."""
    flags = []
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags")
        if isinstance(tags, (list, dict)) and NBCLIENT_SKIP_TAG in tags:
            label = claimed_id(cell) or f"cell {index + 1}"
            flags.append(f"{label}, tagged {NBCLIENT_SKIP_TAG!r} (which would stop it from running); "
                         "the tag was ignored")
    return flags
