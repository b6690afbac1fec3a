"""Judging outside the kernel (grader.judge, course.agent): the grader runs the test cells, the
kernel only answers with values, and what comes back is read as data."""
import base64
import json

import nbformat
import numpy as np
import pytest
import sympy as sp

from course import agent
from grader import judge
from course import symtree
from grader.judge import BadReply, Judge, Kernel, KernelTimeout, StudentError, decode


def local_kernel(namespace):
    """A Kernel whose 'kernel' is course.agent in this process, over namespace."""
    return Kernel(lambda text, timeout: (agent.serve(text, namespace), []))


def judged(namespace, source):
    """The outputs of a test cell judged against course.agent serving `namespace` (in this
    process: a call of the test's function from the kernel comes straight back to the judge)."""
    j = Judge(lambda text, timeout: (agent.serve(text, namespace), []), timeout=30)
    agent._ask_grader[0] = lambda text: json.dumps(json.loads(j.kernel.call_back(json.loads(text))))
    try:
        return j.run_test(source)
    finally:
        agent._ask_grader[0] = None
        j.close()


def errors(outputs):
    return [(o["ename"], o["evalue"]) for o in outputs if o["output_type"] == "error"]


# ---------------------------------------------------------------------------------------------
# What comes out of the kernel is data.

def _array(a, dtype=None, shape=None, raw=None):
    a = np.asarray(a)
    return {"$a": {"dtype": dtype or a.dtype.str, "shape": list(a.shape if shape is None else shape),
                   "b64": base64.b64encode(a.tobytes() if raw is None else raw).decode()}}


@pytest.mark.parametrize("value, why", [
    (_array(np.zeros(3), dtype="|O"), "not a number's"),
    (_array(np.zeros(3), shape=[4]), "bytes do not match"),
    (_array(np.zeros(2), dtype="|V16"), "not a number's"),
    (_array(np.zeros(1), dtype="__import__('os').system('true')"), "not a number's"),
    (_array(np.zeros(1), dtype="[('a', '<f8')]"), "not a number's"),
    (_array(np.zeros(2), dtype="(2,)<f8", shape=[1]), "not a number's"),
    (_array(np.zeros(1), shape=[10**12]), "impossible shape"),
    (_array(np.zeros(0), shape=[2**32, 2**32, 2**32]), "impossible shape"),
    (_array(np.zeros(0), shape=[2**26, 2**26]), "too large"),
    (_array(np.zeros(1), shape=["1"]), "impossible shape"),
    (_array(np.zeros(1), shape=[1.0]), "impossible shape"),
    ({"$a": {"dtype": "<f8", "shape": [1], "b64": "!!!!"}}, "not base64"),
    ({"$a": {"dtype": "<f8", "shape": [1]}}, "malformed array"),
    ({"$a": {"dtype": "<f8", "shape": [1], "b64": "", "extra": 1}}, "malformed array"),
    ({"$s": {"dtype": "<f8", "shape": [1], "b64": "AAAAAAAAAAA="}}, "does not read"),
    ({"$fn": {"code": "", "name": "f", "defaults": None, "kwdefaults": None, "closure": []}}, "does not read"),
    ({"$pickle": "gASVAAAAAAAAAAA="}, "does not read"),
    ({"$d": [[[1, 2], 3]]}, "cannot be a key"),
    ({"$sym": "__import__('os').system('true')"}, "not a tree"),
    ({"$sym": ["Symbol", "__import__('os').system('true')", {}]}, "not an identifier"),
    ({"$g": {"bit_generator": "MT19937", "state": {}}}, "random generator"),
])
def test_the_grader_reads_only_data(value, why):
    with pytest.raises(BadReply, match=why):
        decode(value, None)


def test_a_handle_whose_class_name_is_code_is_named_object():
    remote = decode({"$r": 7, "type": "__import__('os').system('true')", "call": True}, None)
    assert "__import__" not in repr(remote) and "system" not in type(remote).__name__


def test_a_value_nested_too_deeply_is_refused():
    value = 1.0
    for _ in range(200):
        value = [value]
    with pytest.raises(BadReply, match="nested too deeply"):
        decode(value, None)


def test_sympy_expressions_come_back_unchanged():
    x, i, j, m = sp.IndexedBase("x"), sp.Symbol("i"), sp.Symbol("j"), sp.Symbol("m", positive=True, integer=True)
    eps, f = sp.Symbol("eps", positive=True), sp.Function("f")
    for expr in (sp.Sum(x[j], (j, 1, m)) / m, (x[i] - 3) / sp.sqrt(sp.Rational(14, 3) + eps),
                 sp.Float("1.5") * f(eps) + sp.oo, sp.KroneckerDelta(i, j) * sp.exp(-eps)):
        assert decode({"$sym": agent._encode(expr)["$sym"]}, None) == expr


# ---------------------------------------------------------------------------------------------
# Calls, objects and what the student's code changes.

STUDENT = '''
import numpy as np

def scale_in_place(a, factor):
    a *= factor
    return None

def draw(rng, n):
    return rng.normal(size=n)

def talk(x):
    print("computing", x)
    return x + 1

class Layer:
    def __init__(self, d):
        self.gamma = np.ones(d)

    def forward(self, x):
        return self.gamma * x

def broken():
    raise ValueError("the shapes do not match")
'''


def student_namespace():
    namespace = {"__name__": "__main__"}
    exec(STUDENT, namespace)
    return namespace


def test_an_array_changed_in_place_is_changed_for_the_test_too():
    namespace = student_namespace()
    outputs = judged(namespace, "import numpy as np\na = np.arange(3.0)\nscale_in_place(a, 2.0)\nassert a.tolist() == [0.0, 2.0, 4.0], a\n")
    assert errors(outputs) == []


def test_a_generator_the_students_code_draws_from_moves_on_here_too():
    namespace = student_namespace()
    source = ("rng = np.random.default_rng(0)\nfirst = draw(rng, 3)\nsecond = rng.normal(size=3)\n"
              "ref = np.random.default_rng(0)\nassert np.array_equal(first, ref.normal(size=3))\n"
              "assert np.array_equal(second, ref.normal(size=3))\n")
    assert errors(judged(namespace, "import numpy as np\n" + source)) == []


def test_objects_stay_in_the_kernel_and_are_reached_through_requests():
    namespace = student_namespace()
    source = ("import numpy as np\nlayer = Layer(3)\nassert type(layer).__name__ == 'Layer'\n"
              "layer.gamma = np.array([1.0, 2.0, 3.0])\n"
              "assert layer.forward(np.ones(3)).tolist() == [1.0, 2.0, 3.0]\n"
              "g = layer.gamma\ng[0] = 100.0  # written through: the kernel's gamma changes too\n"
              "assert layer.forward(np.ones(3))[0] == 100.0\n"
              "try:\n    g += 1\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('+= on a kernel array')\n")
    assert errors(judged(namespace, source)) == []


def test_what_the_students_code_prints_and_raises_reaches_the_test_cell():
    namespace = student_namespace()
    outputs = judged(namespace, "assert talk(1) == 2\nbroken()\n")
    assert "computing 1" in "".join(o.get("text", "") for o in outputs)
    assert errors(outputs) == [("ValueError", "your code raised ValueError: the shapes do not match")]
    outputs = judged(namespace, "try:\n    broken()\nexcept ValueError as e:\n    print('caught', type(e).__name__)\n")
    assert errors(outputs) == [] and "caught ValueError" in outputs[0]["text"]


def test_a_name_the_student_never_defined_is_a_name_error():
    outputs = judged(student_namespace(), "batchnorm_forward(1)\n")
    assert errors(outputs) == [("NameError", "your code raised NameError: name 'batchnorm_forward' is not defined")]


def test_a_function_of_the_test_stays_in_the_grader_and_the_kernel_calls_it_back():
    """The kernel gets a handle, not the function's code, name or constants: calling it runs it
    here, with the test's globals; what it raises reaches the kernel as its type alone."""
    namespace = student_namespace()
    namespace["apply"] = lambda f, v: f(v)
    namespace["peek"] = lambda f: [f.__name__, repr(getattr(f, "__code__", None) and f.__code__.co_consts)]
    namespace["catch"] = _raised
    source = ("import numpy as np\n"
              "def check():\n    W = np.array([2.0, 3.0])\n    def times_w(v):\n        return v * W\n"
              "    assert apply(times_w, np.ones(2)).tolist() == [2.0, 3.0]\n"
              "    name, consts = peek(times_w)\n"
              "    assert name != 'times_w' and 'the secret' not in consts, (name, consts)\n"
              "    return 'the secret'\n\ncheck()\n"
              "LIMIT = 3\nassert apply(lambda v: v < LIMIT, 1)\n"
              "def fails(v):\n    raise ValueError('the hidden expected value is 42')\n"
              "assert catch(fails) == \"ValueError:raised by the grader's function\", catch(fails)\n")
    assert errors(judged(namespace, source)) == []


def test_a_pure_function_of_the_test_is_asked_once_for_each_distinct_arguments():
    """A function marked grader.judge.pure keeps one handle however often it is handed over; the
    kernel asks the grader once for each distinct arguments and answers repeats with a fresh copy
    of the answer (changing one changes no other); arguments holding a handle to one of the
    kernel's objects are asked every time (its state may have changed); an unmarked function is
    asked every time; the kernel forgets the answers with the notebook's handles."""
    namespace = student_namespace()
    namespace["visit"] = lambda f, x: [f(x) for _ in range(5)] + [f(x + 1) for _ in range(2)]
    namespace["spoil"] = lambda f, x: (f(x).__setitem__(0, -1.0), f(x))[1]
    namespace["visit_layer"] = lambda f: [f(namespace["Layer"](2)) for _ in range(3)]
    source = ("import numpy as np\nfrom grader.judge import pure\ncalls = []\n"
              "@pure\ndef doubled(x):\n    calls.append('pure')\n    return np.asarray(x) * 2.0\n"
              "def plain(x):\n    calls.append('plain')\n    return np.asarray(x) * 2.0\n"
              "@pure\ndef width(layer):\n    calls.append('layer')\n    return len(layer.gamma)\n"
              "x = np.array([1.0, 2.0])\n"
              "got = visit(doubled, x)\n"
              "assert [g.tolist() for g in got] == [[2.0, 4.0]] * 5 + [[4.0, 6.0]] * 2, got\n"
              "assert calls.count('pure') == 2, calls\n"
              "visit(doubled, x)\n"
              "assert calls.count('pure') == 2, ('handed over again, it was asked again', calls)\n"
              "assert spoil(doubled, x).tolist() == [2.0, 4.0], 'a copy of the answer was changed for the next'\n"
              "visit(plain, x)\n"
              "assert calls.count('plain') == 7, calls\n"
              "assert visit_layer(width) == [2, 2, 2] and calls.count('layer') == 3, calls\n")
    assert errors(judged(namespace, source)) == []
    assert agent._answers == {}, "the kernel kept the answers after the notebook's handles were forgotten"
    callbacks = []
    marked = judge.pure(lambda v: v)
    assert judge.encode(marked, callbacks=callbacks) == judge.encode(marked, callbacks=callbacks) == {"$pcb": 0}
    assert len(callbacks) == 1


def test_a_checks_function_never_goes_to_the_kernel_as_code():
    """A function of grader.checks (or any module) marked to run in the kernel is refused: only a
    function of the notebook's own cells goes there as code; a check's stays in the grader."""
    from course.testing import runs_in_kernel
    from grader.checks import reference

    with pytest.raises(TypeError, match="not a function of the notebook's own cells"):
        judge.encode(runs_in_kernel(lambda v: reference.batchnorm_forward(v, 1.0, 0.0)), callbacks=[])
    with pytest.raises(TypeError, match="not a function of the notebook's own cells"):
        judge.encode(reference.running_average)  # no callbacks: what in_kernel would send as code
    namespace = {}
    exec(compile("def mine(v):\n    return v\n", judge.LOCKED, "exec"), namespace)
    assert "$fn" in judge.encode(runs_in_kernel(namespace["mine"]), callbacks=[])


def test_a_function_of_course_testing_runs_in_the_kernel_by_name_only():
    """in_kernel(with_stand_ins, ...) sends a name, not code, and the kernel takes only the names
    course.testing lists; with_stand_ins puts the student's functions back after the call."""
    from course import testing

    from course import gradcheck

    assert agent._decode({"$kf": "course.testing.with_stand_ins"}, {}) is testing.with_stand_ins
    assert judge.encode(gradcheck.gradient_of, callbacks=[]) == {"$kf": "course.gradcheck.gradient_of"}
    for name in ("os.system", "course.testing._apply", "course.testing.check_array", "with_stand_ins",
                 ["course.testing.with_stand_ins"]):
        with pytest.raises(ValueError):
            agent._decode({"$kf": name}, {})
    sent = []
    kernel = Kernel(lambda text, timeout: (sent.append(json.loads(text)) or json.dumps({"ok": 1}), []))
    assert kernel.apply(testing.with_stand_ins, ({}, print), {}) == 1
    assert sent[0]["function"] == {"$kf": "course.testing.with_stand_ins"}
    namespace = {}
    exec("def forward(x):\n    return x + 1\ndef task(x):\n    return forward(x) * 10\n", namespace)
    assert testing.with_stand_ins({"forward": lambda x: x}, namespace["task"], 2) == 20
    assert namespace["task"](2) == 30


def _raised(f):
    try:
        f(1)
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}:{error}"


def test_a_reply_the_student_forged_is_only_a_value():
    """The student's kernel may answer anything; a forged reply is a value the checks judge."""
    forged = Kernel(lambda text, timeout: (json.dumps({"ok": {"$d": [["verdict", "pass"]]}}), []))
    assert forged.request("get", name="batchnorm_forward") == {"verdict": "pass"}
    for reply in ("not json", json.dumps([1]), json.dumps({"error": {"type": 1}}), "x" * (judge.MAX_REPLY + 1)):
        with pytest.raises(BadReply):
            Kernel(lambda text, timeout, r=reply: (r, [])).request("get", name="f")


def test_a_kernel_that_does_not_answer_in_time_fails_the_test_only():
    def send(text, timeout):
        raise TimeoutError()

    j = Judge(send, timeout=1)
    outputs = j.run_test("f = batchnorm_forward\n")
    assert errors(outputs)[0][0] == "TimeoutError"
    assert issubclass(KernelTimeout, StudentError)


def test_the_hidden_part_is_what_the_kernel_never_sees():
    source = "visible()\n### BEGIN HIDDEN TESTS\nhidden()\n### END HIDDEN TESTS\nafter()\n"
    assert judge.hidden_removed(source) == "visible()\nafter()\n"


# ---------------------------------------------------------------------------------------------
# In a real kernel, through nbgrader's Execute.

def _test_cell(source, grade_id, points=1.0):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": points,
        "schema_version": 3}})


def _run(cells, tmp_path, timeout=60):
    from grader.execute import IsolatedExecute

    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    executed, _ = IsolatedExecute(timeout=timeout).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return executed


def test_a_real_kernel_answers_and_hidden_tests_never_reach_it(tmp_path):
    from nbgrader.utils import determine_grade

    cells = [
        nbformat.v4.new_code_cell("import numpy as np\n\ndef double(x):\n    print('doubling')\n    return 2 * x\n"),
        _test_cell("import numpy as np\nassert double(2) == 4\n### BEGIN HIDDEN TESTS\n_secret = np.arange(3.0)\n"
                   "assert np.array_equal(double(_secret), 2 * _secret), 'double is wrong'\n### END HIDDEN TESTS\n", "t1"),
        nbformat.v4.new_code_cell("print(any('double is ' + 'wrong' in cell for cell in In), '_secret' in globals())"),
    ]
    executed = _run(cells, tmp_path)
    assert determine_grade(executed.cells[1]) == (1.0, 1.0)
    assert "doubling" in executed.cells[1].outputs[0]["text"]
    assert executed.cells[2].outputs[0]["text"].strip() == "False False"


def test_a_call_past_the_timeout_fails_its_test_and_the_next_test_is_judged(tmp_path):
    from nbgrader.utils import determine_grade

    cells = [
        nbformat.v4.new_code_cell("def forever():\n    while True:\n        pass\n\ndef one():\n    return 1\n"),
        _test_cell("forever()\n", "slow"),
        _test_cell("assert one() == 1\n", "fast"),
    ]
    executed = _run(cells, tmp_path, timeout=5)
    assert determine_grade(executed.cells[1]) == (0, 1.0)
    assert executed.cells[1].outputs[-1]["ename"] == "TimeoutError"
    assert determine_grade(executed.cells[2]) == (1.0, 1.0)


def test_an_ipython_that_never_runs_the_requests_fails_the_tests_with_a_reason(tmp_path):
    """An input transformer that turns every cell into `pass` stops course.agent from starting: the
    tests fail with a message (the notebook is still graded), they do not pass."""
    from nbgrader.utils import determine_grade

    cells = [
        nbformat.v4.new_code_cell("def one():\n    return 1\n\n"
                                  "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"),
        _test_cell("assert one() == 2, 'one() should be 2'\n", "t"),
    ]
    executed = _run(cells, tmp_path)
    assert determine_grade(executed.cells[1]) == (0, 1.0)
    assert executed.cells[1].outputs[-1]["ename"] == "NoReply"


def test_a_huge_power_is_read_as_a_formula_not_computed():
    expr = symtree.decode(["Pow", ["Integer", 10], ["Integer", 10**9]])
    assert isinstance(expr, sp.Pow) and expr.exp == 10**9


def test_a_function_that_asks_for_input_fails_its_test_and_the_next_is_judged(tmp_path):
    """The requests travel as answers to input(): a student's own input() call gets one, its test
    fails, and the grader's channel is set right for the next test cell."""
    from nbgrader.utils import determine_grade

    cells = [
        nbformat.v4.new_code_cell("def ask():\n    return input('your name? ')\n\ndef one():\n    return 1\n"),
        _test_cell("assert ask() == 'x'\nassert one() == 1\n", "asks"),
        _test_cell("assert one() == 1\n", "after"),
    ]
    executed = _run(cells, tmp_path, timeout=20)
    assert determine_grade(executed.cells[1]) == (0, 1.0)
    assert determine_grade(executed.cells[2]) == (1.0, 1.0)


def test_a_pathologically_deep_answer_costs_only_its_own_test():
    """A2's dL_dgamma nested 3000 levels deep: the kernel's srepr or the grader's parser gives up,
    that test fails with a reason, the other is graded."""
    import nbrun

    source = nbrun.load("part_a/a2_grad_gamma.ipynb")
    answers = nbrun.release_answers(source)
    reference = {nbrun.grade_id(c): c.source for c in source.cells if nbrun.meta(c).get("solution")}
    deep = "dL_dgamma = x[1]\nfor _ in range(3000):\n    dL_dgamma = sqrt(dL_dgamma + 1)\n"
    result = nbrun.run(nbrun.with_answers(source, {**answers, **reference, "a2-dgamma": deep}))
    failed = result.failed()
    assert list(failed) == ["a2-test-dgamma"], failed
    # too deep to send; or, where the kernel's own SymPy gave up building it first (3.12), the
    # shallower expression it kept is judged, and wrong
    assert "too deep" in failed["a2-test-dgamma"] or "is not right" in failed["a2-test-dgamma"], failed


def test_only_the_instructors_cells_run_in_the_grader(tmp_path, monkeypatch):
    """A cell a student added with test or locked metadata of their own (possible where the notebook
    is not rebuilt first, e.g. formgrader's autograde button) runs in the kernel, never in the
    grader's process: only cells whose source is the gradebook's run there."""
    from nbgrader.api import Gradebook

    from grader.execute import IsolatedExecute

    import os
    import sys

    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])  # alembic
    ran = tmp_path / "ran"
    ran.mkdir()
    evil = f"import os\nopen(os.path.join({str(ran)!r}, str(os.getpid())), 'w').write('x')\n"  # where it ran
    test_source = "assert one() == 1\n"
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        gb.update_or_create_assignment("a")
        gb.update_or_create_notebook("n", "a")
        gb.update_or_create_source_cell("real", "n", "a", source=test_source, cell_type="code", locked=True)
    cells = [
        nbformat.v4.new_code_cell("def one():\n    return 1\n"),
        nbformat.v4.new_code_cell(evil, metadata={"nbgrader": {"locked": True, "grade": False, "solution": False,
                                                                "schema_version": 3}}),
        _test_cell(evil, "fake"),
        _test_cell(test_source, "real"),
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    kernel_folder = tmp_path / "kernel"
    kernel_folder.mkdir()
    monkeypatch.chdir(kernel_folder)
    resources = {"metadata": {"path": str(kernel_folder)}, "nbgrader": {"db_url": db_url, "notebook": "n", "assignment": "a"}}
    executed, _ = IsolatedExecute(timeout=60).preprocess(nb, resources)
    assert str(os.getpid()) not in os.listdir(ran), "a student's cell ran in the grader"
    assert len(os.listdir(ran)) == 1, "both ran in the kernel (one process)"
    assert executed.cells[3].outputs == [] or all(o["output_type"] != "error" for o in executed.cells[3].outputs)


def test_a_module_is_never_taken_from_the_kernel():
    """A test that reads a module the locked cells do not import would use the student's (patched)
    one: the grader refuses, loudly, instead."""
    import numpy

    outputs = judged({"np": numpy, "__name__": "__main__"}, "x = np.ones(3)\n")
    assert errors(outputs)[0][0] == "NameError" and "locked cell" in errors(outputs)[0][1]


def test_a_tests_visible_part_runs_in_the_kernel_only_where_a_later_cell_reads_its_names():
    cells = [nbformat.v4.new_code_cell("def f():\n    return 1\n"),
             _test_cell("x = f()\nassert x == 1\n", "makes-x"),
             _test_cell("y = f()\nassert y == 1\n", "makes-y"),
             nbformat.v4.new_code_cell("print(x + 1)\n"),
             _test_cell("z = f()\n### BEGIN HIDDEN TESTS\nw = 2\n### END HIDDEN TESTS\n", "makes-z")]
    assert judge.visible_runs_needed(cells) == {1}
    cells.append(nbformat.v4.new_code_cell("def broken(:\n"))
    assert judge.visible_runs_needed(cells) == {1, 2, 4}


# ---------------------------------------------------------------------------------------------
# Kernels started ahead, and the judge's channel to them.

def test_a_kernel_started_ahead_is_as_fresh_as_a_new_one_and_stopped_at_the_end(tmp_path):
    """With prestart, the next notebook's kernel boots while this one runs: a process and a folder
    of its own, which the notebook before it never reaches, and which is stopped when no notebook
    takes it."""
    import os

    from grader.execute import IsolatedExecute, _Spare

    leave_traces = ("import os\nopen('trace.txt', 'w').write('x')\nopen(os.path.expanduser('~/trace.txt'), 'w').write('x')\n"
                    "secret = 42\nprint(os.getpid(), os.getcwd())\n")
    look = "import os\nprint(os.getpid(), os.getcwd(), os.path.exists('trace.txt'), "\
           "os.path.exists(os.path.expanduser('~/trace.txt')), 'secret' in globals())\n"
    seen = []
    try:
        for source in (leave_traces, look):
            nb = nbformat.v4.new_notebook()
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            nb.cells = [nbformat.v4.new_code_cell(source)]
            started_ahead = _Spare.kernel
            executed, _ = IsolatedExecute(timeout=60, prestart=True).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
            seen.append((started_ahead, executed.cells[0].outputs[0]["text"].split()))
            assert _Spare.kernel is not None and _Spare.kernel.alive(), "no kernel was started for the next notebook"
        (_, (pid1, cwd1)), (ahead, (pid2, cwd2, *traces)) = seen
        assert ahead is not None and ahead.scratch in cwd2, "the second notebook did not run in the kernel started ahead"
        assert pid1 != pid2 and cwd1 != cwd2
        assert traces == ["False", "False", "False"], "the second kernel saw what the first notebook left"
        assert not os.path.exists(cwd1), "the first kernel's folder was not removed"
        last = _Spare.kernel
    finally:
        _Spare.discard()
    assert not last.alive() and not os.path.exists(last.scratch), "the last kernel started ahead was left running"


def test_a_kernel_started_ahead_for_another_setting_is_not_used(tmp_path, monkeypatch):
    """A kernel started with another environment (or sandbox setting, or kernel name) than the
    notebook needs is stopped, and a new one started."""
    from grader.execute import IsolatedExecute, _Spare

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nprint(os.environ.get('COURSE_TEST_MARK'))\n")]
    try:
        monkeypatch.setenv("COURSE_TEST_MARK", "first")
        IsolatedExecute(timeout=60, prestart=True).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
        ahead = _Spare.kernel
        monkeypatch.setenv("COURSE_TEST_MARK", "second")
        executed, _ = IsolatedExecute(timeout=60).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    finally:
        _Spare.discard()
    assert executed.cells[0].outputs[0]["text"].strip() == "second"
    assert not ahead.alive()


@pytest.fixture
def handshakes(monkeypatch):
    """[seconds] of every handshake of the judge's channel (each try counted as `None`); setting
    handshakes.lose = True loses the kernel's first input request on its way to the judge.
    handshakes.unasked counts the answers the judge sent to no request of the kernel's."""
    import time

    from grader import execute

    record = type("Handshakes", (list,), {"lose": False, "asked": 0, "unasked": 0})()
    original_init, original_handshake = execute._JudgeChannel.__init__, execute._JudgeChannel.handshake

    def init(self, km, timeout):
        original_init(self, km, timeout)
        get_msg, execute_, answer = self.kc.stdin_channel.get_msg, self.kc.execute, self.kc.input

        def losing_get_msg(*args, **kwargs):
            msg = get_msg(*args, **kwargs)
            if msg["msg_type"] == "input_request":
                if record.lose is True:
                    record.lose = "lost"
                    raise execute.Empty()
                record.asked += 1
            return msg

        def counting_input(text):
            if record.asked:
                record.asked -= 1
            else:
                record.unasked += 1
            answer(text)

        self.kc.input = counting_input

        def counting_execute(code, *args, **kwargs):
            if code == execute.HANDSHAKE:
                record.append(None)
            return execute_(code, *args, **kwargs)

        self.kc.stdin_channel.get_msg, self.kc.execute = losing_get_msg, counting_execute

    def timed_handshake(self):
        started = time.monotonic()
        original_handshake(self)
        record.append(time.monotonic() - started)

    monkeypatch.setattr(execute._JudgeChannel, "__init__", init)
    monkeypatch.setattr(execute._JudgeChannel, "handshake", timed_handshake)
    return record


def test_an_input_request_lost_before_the_channel_connected_costs_no_wait(tmp_path, handshakes):
    """zmq connects the judge's stdin socket in the background, and the kernel's first input request
    can be lost on the way: the handshake interrupts the kernel and tries again soon, instead of
    waiting out the interrupt's grace; and it never answers unasked (a stray answer would be read
    as the answer to a later request of the grader)."""
    from nbgrader.utils import determine_grade

    from grader.execute import INTERRUPT_GRACE

    handshakes.lose = True
    executed = _run([nbformat.v4.new_code_cell("def one():\n    return 1\n"), _test_cell("assert one() == 1\n", "t")], tmp_path)
    assert handshakes.lose == "lost", "no input request was lost"
    assert determine_grade(executed.cells[1]) == (1.0, 1.0)
    tries, (seconds,) = handshakes.count(None), [h for h in handshakes if h is not None]
    assert tries > 1 and seconds < INTERRUPT_GRACE, "the handshake waited out the grace for the lost request"
    assert handshakes.unasked == 0, "the judge answered a request the kernel never made"


def test_a_student_variable_named_input_does_not_stall_the_channel(tmp_path, handshakes):
    from nbgrader.utils import determine_grade

    from grader.execute import INTERRUPT_GRACE

    cells = [nbformat.v4.new_code_cell("input = [1.0, 2.0]\n\ndef one():\n    return 1\n"),
             _test_cell("assert one() == 1\n", "t")]
    executed = _run(cells, tmp_path)
    assert determine_grade(executed.cells[1]) == (1.0, 1.0)
    (seconds,) = [h for h in handshakes if h is not None]
    assert seconds < INTERRUPT_GRACE


def test_both_sides_of_the_exchange_use_the_one_protocol():
    """The tags the agent and the judge write and read are those of course.protocol, and no other
    (one definition: a tag added on one side only fails here)."""
    import re
    from pathlib import Path

    from course import protocol

    root = Path(__file__).resolve().parents[1]
    for path in (root / "course" / "agent.py", root / "grader" / "judge.py"):
        used = set(re.findall(r'"(\$[a-z]+)"', path.read_text()))
        assert used <= set(protocol.TAGS), f"{path.name} uses tags course.protocol does not define: {used - set(protocol.TAGS)}"
    both = set(re.findall(r'"(\$[a-z]+)"', (root / "course" / "agent.py").read_text())) & set(
        re.findall(r'"(\$[a-z]+)"', (root / "grader" / "judge.py").read_text()))
    assert both == set(protocol.TAGS), f"tags of course.protocol one side never uses: {set(protocol.TAGS) - both}"
