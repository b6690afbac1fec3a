"""A hostile class for the boundary between the student's kernel and the grader's judge.

Written against course/agent.py, grader/judge.py and course/symtree.py: each student replaces
the agent's encoder in their own kernel (which they can: it is their kernel) so that one answer
crosses to the grader as a reply of their choosing instead of its honest encoding: SymPy trees
with strings of Python in every place a tree has, nested or huge trees, JSON nested too deeply
for a parser, numbers too large to compute with, arrays that lie about their dtype, shape or
bytes, handles and objects of forged classes. Others hand in a string of Python, or a symbol
whose name is Python, as the answer itself.

Every trick is aimed at one answer that no other test reads (LEAF), whose honest equivalent
is a plain wrong answer (the symbol `hostile_marker`, or an array of 123456.0): each notebook
must score exactly what that honest wrong answer scores, the payload must never run (it would
create the folder WITNESS), and an honest student graded in the same run keeps full marks.

    hostile_class(witness) -> {student: {notebook: notebook node}}
    equivalent(notebook) -> the honest wrong notebook a hostile one must score like
    spy_b3() -> B3 whose checker prints all it can learn about the functions a test hands it
"""
import json

import nbrun
import sample_class

NOTEBOOKS = ("part_a/a1_forward_formulas.ipynb", "part_a/a2_grad_gamma.ipynb", "part_a/a3_grad_xhat.ipynb",
             "part_a/a4_backward_derivation.ipynb", "part_a/a5_running_statistics.ipynb")
ASSIGNMENT = "part_a"

# notebook -> (answer cell, variable): an answer no other test of the notebook reads
LEAF = {
    "a1_forward_formulas": ("a1-y", "y_i"),
    "a2_grad_gamma": ("a2-dbeta", "dL_dbeta"),
    "a3_grad_xhat": ("a3-dxhat", "dL_dxhat_i"),
    "a4_backward_derivation": ("a4-dbias", "dL_dbias"),
    "a5_running_statistics": ("a5-weights", "ema_weight"),
}
ARRAY_LEAF = ("a5_running_statistics", "a5-simulate")  # running_average returns arrays
MARK = 123456.0  # the first item of the honest wrong array

SYMBOL = ["Symbol", "x", {}]


def _payload(witness):
    return f"__import__('os').makedirs({str(witness)!r}, exist_ok=True)"


def sympy_tricks(witness):
    """{name: Python expression, run in the kernel, of the JSON text the marker's answer is
    replaced by}: SymPy trees the grader must refuse (or read as the harmless formula they are)
    without running anything. Large ones are built in the kernel: the notebook stays small."""
    p = _payload(witness)
    trees = {
        "a string as a child": ["Add", SYMBOL, p],
        "a string as an Integer": ["Integer", p],
        "a string as a Float's digits": ["Float", p, 53],
        "strings as a Rational": ["Rational", p, "2"],
        "Python as a symbol's name": ["Symbol", p, {}],
        "Python as an assumption": ["Symbol", "x", {"real": p}],
        "Python as an assumption's name": ["Symbol", "x", {p: True}],
        "Python as a function's name": ["Function", p, SYMBOL],
        "a string in a Sum's limits": ["Sum", SYMBOL, ["Tuple", p, ["Integer", 1], ["Symbol", "m", {}]]],
        "a string as an IndexedBase": ["IndexedBase", p, {}],
        "a node named __import__": ["__import__", "os"],
        "script in an unread kind": ["Unread", "<script>alert(1)</script>"],
        "names that shadow SymPy and Python": ["Mul", ["Symbol", "sqrt", {}], ["Function", "eval", ["Symbol", "Sum", {}]]],
        "a power of a billion digits": ["Pow", ["Integer", 10], ["Integer", 10**9]],
        "999999**999999": ["Pow", ["Integer", 999999], ["Integer", 999999]],
    }
    tricks = {name: repr(json.dumps({"$sym": tree})) for name, tree in trees.items()}
    tricks.update({
        "a tree of 300,000 nodes":
            """'{"$sym": ["Add"' + ''.join(', ["Symbol", "s%d", {}]' % n for n in range(300_000)) + ']}'""",
        "a tree 5,000 levels deep":
            """'{"$sym": ' + '["Add", ' * 5_000 + '["Symbol", "x", {}]' + ', ["Integer", 1]]' * 5_000 + '}'""",
        "JSON 100,000 levels deep": """'{"$sym": ' + '[' * 100_000 + ']' * 100_000 + '}'""",
        "an integer of a million digits": """'{"$sym": ["Integer", ' + '9' * 1_000_000 + ']}'""",
        "not JSON at all": repr('{"$sym": ' + p),
        "a forged handle": repr(json.dumps({"$r": 1, "type": p, "call": True})),
        "an object of a forged class": repr(json.dumps({"$o": ["os.system", {"$d": []}]})),
        "a named tuple with dunder fields": repr(json.dumps({"$nt": [["__class__", "__getattr__"], [1, 2]]})),
        "a reply of 70 MB": """'"' + 'x' * 70_000_000 + '"'""",
    })
    return tricks


def array_tricks(witness):
    """{name: Python expression of the JSON text}: replies that claim to be arrays and lie."""
    p = _payload(witness)
    one = "AAAAAAAAAAA="  # the bytes of one float64 zero

    def a(dtype="<f8", shape=(1,), b64=one, **extra):
        return repr(json.dumps({"$a": {"dtype": dtype, "shape": list(shape), "b64": b64, **extra}}))

    return {
        "an object array": a(dtype="|O"),
        "Python as the dtype": a(dtype=p),
        "a structured dtype": a(dtype="[('a', '<f8')]"),
        "a sub-array dtype": a(dtype="(2,)<f8"),
        "a trillion items in eight bytes": a(shape=(10**12,)),
        "a shape whose product overflows": a(shape=(2**32, 2**32, 2**32), b64=""),
        "a shape of strings": a(shape=("1",)),
        "bytes that are not base64": a(b64="!!!!"),
        "an extra field": a(extra=p),
    }


def _forging_cell(reference, value_line, text, arrays=False):
    """The reference answer cell, then the honest wrong value, then the trick: the agent's
    encoder sends the text the expression `text` makes, instead of the wrong value."""
    if arrays:
        is_marker = (f"type(value).__name__ == 'ndarray' and value.size > 0 "
                     f"and value.dtype.kind == 'f' and float(value.flat[0]) == {MARK!r}")
    else:
        is_marker = "type(value).__name__ == 'Symbol' and getattr(value, 'name', None) == 'hostile_marker'"
    return f"""{reference}
{value_line}
import course.agent as _agent
_honest_encode, _honest_serve = _agent._encode, _agent.serve


def _forged_encode(value, depth=0):
    if {is_marker}:
        return "@@FORGED@@"
    return _honest_encode(value, depth)


_FORGED = {text}


def _forged_serve(request, namespace=None):
    return _honest_serve(request, namespace).replace('"@@FORGED@@"', _FORGED)


_agent._encode, _agent.serve = _forged_encode, _forged_serve
"""


def _marker_line(stem):
    return f"{LEAF[stem][1]} = Symbol('hostile_marker')"


ARRAY_LINE = f"""
def running_average(batch_values, momentum, initial=0.0):
    return np.full(len(batch_values), {MARK!r})
"""


def _filled(source, cell, code):
    """The release notebook handed in with the reference answers, `cell`'s answer `code`."""
    return sample_class.handed_in(source, {cell: code})


def _reference(source, cell):
    return sample_class.reference(source)[cell]


def _with_symbol(code):
    return "from sympy import Symbol, Function\n" + code


def equivalent(stem, arrays=False):
    """The honest wrong notebook (source version, hidden tests in) a hostile notebook must score
    like: its leaf answer the marker, no trick."""
    source = nbrun.load(f"{ASSIGNMENT}/{stem}.ipynb")
    cell = ARRAY_LEAF[1] if arrays else LEAF[stem][0]
    line = ARRAY_LINE if arrays else _marker_line(stem)
    filled = {**sample_class.reference(source), cell: _with_symbol(_reference(source, cell) + "\n" + line)}
    return nbrun.with_answers(source, filled)


def hostile_class(witness):
    """{student: {notebook stem: (notebook node, arrays?, trick)}}: the release notebooks filled
    with the reference answers, one answer of each replaced by a trick; the SymPy tricks spread
    over the five notebooks, a string of Python and a symbol named with Python in every one.
    Plus "honest-perfect" (arrays? None)."""
    sources = {stem: nbrun.load(f"{ASSIGNMENT}/{stem}.ipynb") for stem in LEAF}
    stems = list(LEAF)
    students = {}
    for n, (name, text) in enumerate(sympy_tricks(witness).items()):
        stem = stems[n % len(stems)]
        cell = LEAF[stem][0]
        code = _forging_cell(_reference(sources[stem], cell), _marker_line(stem), text)
        students.setdefault(f"hostile-tree-{n // len(stems):02d}", {})[stem] = (
            _filled(sources[stem], cell, _with_symbol(code)), False, name)
    for n, (name, text) in enumerate(array_tricks(witness).items()):
        stem, cell = ARRAY_LEAF
        code = _forging_cell(_reference(sources[stem], cell), ARRAY_LINE, text, arrays=True)
        students[f"hostile-array-{n:02d}"] = {stem: (_filled(sources[stem], cell, _with_symbol(code)), True, name)}
    strings, symbols = {}, {}
    for stem, (cell, variable) in LEAF.items():
        reference = _reference(sources[stem], cell)
        strings[stem] = (_filled(sources[stem], cell, _with_symbol(f"{reference}\n{variable} = {_payload(witness)!r}\n")),
                         False, "a string of Python as the answer")
        symbols[stem] = (_filled(sources[stem], cell, _with_symbol(
            f"{reference}\n{variable} = Symbol({_payload(witness)!r}) + Function('exec')(Symbol('x'))\n")),
            False, "a symbol named with Python as the answer")
    students["hostile-python-string"] = strings
    students["hostile-python-symbol"] = symbols
    students["honest-perfect"] = {stem: (_filled(sources[stem], LEAF[stem][0], _reference(sources[stem], LEAF[stem][0])),
                                         None, "the reference") for stem in LEAF}
    return students


SPY = """
    import inspect as _inspect
    for _f in (forward, backward):
        if _f is not None:
            _code = getattr(_f, "__code__", None)
            _seen = [getattr(_f, "__name__", None), getattr(_f, "__qualname__", None),
                     getattr(_code, "co_consts", None), getattr(_code, "co_names", None),
                     [type(getattr(c, "cell_contents", None)).__name__ for c in (getattr(_f, "__closure__", None) or ())],
                     sorted(getattr(_f, "__globals__", {}))[:400]]
            try:
                _seen.append(_inspect.getsource(_f))
            except Exception as _error:
                _seen.append(type(_error).__name__)
            SPIED.append(repr(_seen))
"""


def spy_b3():
    """B3 handed in with the reference answers, its gradient checker keeping the name,
    constants, closure, globals and source of every function a test passes it (B3's hidden tests
    hand it forward and backward passes of their own), and a cell added at the end printing
    them into the feedback."""
    import nbformat

    source = nbrun.load("part_b/b3_gradient_check.ipynb")
    code = _reference(source, "b3-checker")
    head, _, body = code.partition('    forward = batchnorm_forward if forward is None else forward')
    assert body, "B3's checker no longer starts as the spy expects"
    spied = "SPIED = []\n" + head + SPY + '    forward = batchnorm_forward if forward is None else forward' + body
    nb = _filled(source, "b3-checker", spied)
    nb.cells.append(nbformat.v4.new_code_cell('print("SPIED", len(SPIED), "functions:")\nfor _s in SPIED:\n    print(_s)'))
    return nb
