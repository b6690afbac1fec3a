"""Check derivations typed as SymPy expressions, and say what is off when they are wrong.

Part A asks for formulas (the batch mean, the gradient with respect to the variance, ...). You
type each one as a SymPy expression in the symbols below, and a test cell compares it with the
expected expression:

    >>> from course.symbolic import symbols, check
    >>> x, j, m = symbols("x j m")
    >>> sum_of_squares = Sum(x[j]**2, (j, 1, m))
    >>> check("sum_of_squares", sum_of_squares, expected)   # CheckFailed, with reasons, if wrong

A notebook's visible test uses `check_example`: the answer's value on one worked example (a batch
the student can do by hand, or a finite difference), with a printed line saying what that did and
did not check; the hidden tests then `check` the formula itself.

The answer is right when one of these layers says so, tried in order:
1. structure: after expanding the shorthands, SymPy sees the same tree;
2. algebra: `simplify(a - b) == 0`, for small expressions without sums (where it is quick and
   reliable); `equals()` answering None ("cannot tell") never counts as equal;
3. numbers: the sums are written out for several batch sizes m and both expressions are
   evaluated at many random points of the valid domain (eps > 0, so sigma^2 + eps > 0) for the
   sample indices i; they must agree at every point.
A point where they differ proves the answer wrong. The message then shows the answer as LaTeX
and names what is off: a constant or symbolic factor ("a factor m/(m - 1)"), a missing or extra
term, a symbol it should (not) depend on, a known mistake passed in by the test cell, or the
batch sizes where it differs. A malformed answer (a string, a number, None, an unknown symbol,
an unevaluated Derivative) gets a message saying how to write it instead.

Which batch sizes: without a key (your own kernel) m = 2, 3, 5 and every i = 1..m. The grader
calls `set_sizes_key(key)` with a secret key per notebook before it runs the notebook's tests;
then m = 2, 3 and four sizes drawn from the key between 4 and 100000 (`batch_sizes()` lists
them), so that no answer can be tuned to the sizes compared, and in a large batch i = 1, i = m
and a few i drawn between. The same key gives the same sizes: grading again gives the same grade.

The expected expressions, the known mistakes and evaluate's expression are SymPy expressions
built in code (or plain numbers); a string is refused, never parsed.

Symbols (all real; the batch is x[1], ..., x[m]):
- x, dy: IndexedBase, the inputs x_i and the upstream gradients dL/dy_i
- i, j: integer indices (i the sample, j for sums: Sum(..., (j, 1, m))); k: steps back (A5)
- m: batch size (positive integer); gamma, beta: scale and shift; eps: epsilon > 0
- momentum (rho in the math, docs/conventions.md), running_mean, running_var: the running
  statistics of A5; a hand-made Symbol("rho") counts as momentum
- shorthands mu_B, sigma2_B, x_hat (x_hat[i] is x-hat_i): allowed in answers, expanded to their
  definitions from the batch before comparing

Nothing here knows the answers: the expected expressions come from the test cells.
"""
import functools
import hashlib
import hmac
import numbers
import operator
import zlib

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from course.testing import CheckFailed

__all__ = ["symbols", "check", "check_form", "check_value", "check_example", "evaluate", "equivalent",
           "expand_shorthands", "normalize_symbols", "set_sizes_key", "batch_sizes", "CheckFailed"]

# ---------------------------------------------------------------------------------------------
# The course's symbols. Names are part of the course's interface: the notebooks use them.
m = sp.Symbol("m", integer=True, positive=True)
i = sp.Symbol("i", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
x = sp.IndexedBase("x", real=True)
dy = sp.IndexedBase("dy", real=True)
gamma = sp.Symbol("gamma", real=True)
beta = sp.Symbol("beta", real=True)
eps = sp.Symbol("epsilon", positive=True)
momentum = sp.Symbol("momentum", positive=True)
running_mean = sp.Symbol("running_mean", real=True)
running_var = sp.Symbol("running_var", positive=True)
# Shorthands: an answer may use them; they are replaced by their definitions before comparing.
mu_B = sp.Symbol("mu_B", real=True)
sigma2_B = sp.Symbol("sigma_B^2", nonnegative=True)
x_hat = sp.IndexedBase("xhat", real=True)

_SYMBOLS = dict(x=x, dy=dy, i=i, j=j, k=k, m=m, gamma=gamma, beta=beta, eps=eps,
                momentum=momentum, running_mean=running_mean, running_var=running_var,
                mu_B=mu_B, sigma2_B=sigma2_B, x_hat=x_hat)
_SHORTHANDS = {mu_B, sigma2_B, x_hat}
_ALL = set(_SYMBOLS.values())
# What a student may call a symbol when making it by hand (Symbol("eps"), IndexedBase("x")).
# rho is the momentum's symbol in the math (docs/conventions.md); the code calls it momentum.
_ALIASES = {"epsilon": eps, "eps": eps, "sigma2_B": sigma2_B, "sigma_B^2": sigma2_B,
            "xhat": x_hat, "x_hat": x_hat, "rho": momentum}
_ALIASES.update({name: s for name, s in _SYMBOLS.items() if name not in _ALIASES})
# How to name a symbol in a message.
_SAY = {x: "x", dy: "dy (the upstream gradient dL/dy)", i: "i (the sample index)", k: "k",
        m: "m", gamma: "gamma", beta: "beta", eps: "eps", momentum: "momentum",
        running_mean: "running_mean", running_var: "running_var"}

# Definitions of the shorthands, each sum with its own summation index.
_k1, _k2 = sp.Dummy("k1", integer=True, positive=True), sp.Dummy("k2", integer=True, positive=True)
_MEAN = sp.Sum(x[_k1], (_k1, 1, m)) / m
_VAR = sp.Sum((x[_k2] - sp.Sum(x[_k1], (_k1, 1, m)) / m) ** 2, (_k2, 1, m)) / m

BATCH_SIZES = (2, 3, 5)   # m for which sums are written out and compared, when no key is set
N_POINTS = 24             # random points per batch size and sample index (fewer for very large m)
_RTOL, _ATOL = 1e-8, 1e-10
_ATOL_GROWS_AFTER = 10    # m beyond which the absolute tolerance grows in proportion to m
_SIMPLIFY_MAX_OPS = 40    # larger expressions go straight to the numerical comparison


def symbols(names=None):
    """The course's SymPy symbols.

    Inputs:
    - names: a string of names separated by spaces, e.g. "x dy i j m gamma beta eps";
      None for all of them
    Returns a tuple in the order of `names` (a single symbol for a single name), or a dict of
    all symbols by name. Raises KeyError for a name the course does not define.
    """
    if names is None:
        return dict(_SYMBOLS)
    found = tuple(_SYMBOLS[name] for name in names.replace(",", " ").split())
    return found[0] if len(found) == 1 else found


def expand_shorthands(expr):
    """expr with mu_B, sigma2_B and x_hat[.] replaced by their definitions over the batch."""
    expr = expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == x_hat,
                        lambda e: (x[e.indices[0]] - _MEAN) / sp.sqrt(_VAR + eps))
    return expr.xreplace({mu_B: _MEAN, sigma2_B: _VAR})


# ---------------------------------------------------------------------------------------------
# Reading an answer. Nothing here parses text: a number becomes a SymPy number through its
# constructor, and a string is refused (sympify would run it through eval).

def _number(value):
    """A real number (int, float, Fraction, NumPy scalar) as a SymPy number; None for anything else."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, np.generic) and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, numbers.Rational):
        return sp.Rational(int(value.numerator), int(value.denominator))
    if isinstance(value, numbers.Real):
        return sp.Float(float(value))
    return None


def _expression(value, what, by=None):
    """An expression given to this module (expected, a known mistake, evaluate's expr) as SymPy.
    by: who must build it ("the instructor"), for the message. Raises TypeError for a string
    (text is never parsed) or anything that is neither a SymPy expression nor a real number."""
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise TypeError(f"{what} is a string ({shown!r}); {by + ' must build' if by else 'build'} it from code "
                        "with the course's symbols, e.g. Sum(x[j], (j, 1, m)) / m: text is never parsed")
    number = _number(value)
    if number is not None:
        return number
    if not isinstance(value, sp.Expr):
        raise TypeError(f"{what} is a {type(value).__name__}, not a SymPy expression")
    return value


def _fail(name, lines, hint=None, answer=None, mistake=None):
    __tracebackhide__ = True
    formula = None
    if answer is not None:
        _show(name, answer)
        formula = rf"\text{{{name}}} = {sp.latex(answer)}"
    if hint:
        lines = list(lines) + [f"Hint: {hint}"]
    raise CheckFailed("\n".join(lines), mistake, formula)


def _show(name, answer):
    """Render the answer as math in the notebook (only inside a Jupyter kernel)."""
    try:
        from IPython import get_ipython
        from IPython.display import Math, display
        if get_ipython() is not None:
            display(Math(rf"\text{{{name}}} = {sp.latex(answer)}"))
    except Exception:  # noqa: BLE001 (showing is a courtesy; never let it fail the check)
        pass


def normalize_symbols(expr):
    """Map symbols a student made by hand (Symbol("gamma"), IndexedBase("x")) to the course's."""
    swap, bases = {}, expr.atoms(sp.IndexedBase)
    labels = {b.label for b in bases}
    for s in expr.atoms(sp.Symbol) - labels:
        ours = _ALIASES.get(s.name)
        if isinstance(ours, sp.Symbol) and s != ours and not isinstance(s, sp.Dummy):
            swap[s] = ours
    for b in bases:
        ours = _ALIASES.get(str(b.label))
        if isinstance(ours, sp.IndexedBase) and b != ours:
            swap[b] = ours
    return expr.xreplace(swap) if swap else expr


MAX_ANSWER_NODES = 20_000  # nodes of an answer (the course's longest expanded formula has a few hundred)
MAX_ANSWER_DIGITS = 1_000  # digits of a number in an answer


def _too_large(answer):
    """Why an answer is too large to compare (its size, a huge number, a power of numbers left
    unevaluated because it is huge), or "" if it is not: comparing it could take minutes."""
    for count, node in enumerate(sp.preorder_traversal(answer)):
        if count >= MAX_ANSWER_NODES:
            return f"an expression of more than {MAX_ANSWER_NODES} nodes"
        if isinstance(node, sp.Rational) and max(abs(node.p), node.q).bit_length() > 3.33 * MAX_ANSWER_DIGITS:
            return f"an expression with a number of more than {MAX_ANSWER_DIGITS} digits"
        if isinstance(node, sp.Pow) and node.base.is_Number and node.exp.is_Number and abs(node.exp) > 1000:
            return "an expression with a power of numbers too large to work out"
    return ""


def _read(name, answer, shorthands=True, constants=False):
    """The answer as a SymPy expression in the course's symbols, or CheckFailed saying why not.
    constants: whether a plain number is a valid answer (when the result may be a constant)."""
    __tracebackhide__ = True
    example = "e.g. Sum(x[j], (j, 1, m)) / m"
    if answer is None:
        _fail(name, [f"{name} is None; it should be a SymPy expression."],
              "Did the cell that defines it run, and does it assign an expression (not print it)?")
    if isinstance(answer, str):
        quoted = repr(answer) if len(answer) <= 80 else repr(answer[:80]) + f"... ({len(answer)} characters)"
        _fail(name, [f"{name} is a string ({quoted}), not a SymPy expression."],
              f"Type the formula without quotes, built from the symbols of the setup cell, {example}.")
    if isinstance(answer, bool):
        _fail(name, [f"{name} is {answer}, not a SymPy expression."],
              "Assign the formula itself, not a comparison.")
    if constants and isinstance(answer, (numbers.Number, np.number)) and isinstance(answer, numbers.Real):
        answer = _number(answer)
    if isinstance(answer, (numbers.Number, np.number)) and not constants:
        _fail(name, [f"{name} is the plain number {answer!r}, not an expression in the symbols."],
              f"Write the formula with the symbols of the setup cell, {example}.")
    if isinstance(answer, sp.Rel):
        _fail(name, [f"{name} is an equation or inequality ({answer}); give only the right-hand side."],
              f"Write `{name} = <formula>`, not `{name} = Eq(..., ...)`.", answer)
    if not isinstance(answer, sp.Expr):
        kind = type(answer).__name__
        _fail(name, [f"{name} is {'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}, not a SymPy expression."],
              f"Assign one formula, {example}.")
    problem = _too_large(answer)
    if problem:
        _fail(name, [f"{name} is {problem}: too large to check."],
              "The formulas of this course are short: simplify yours, and write sums as Sum(..., (j, 1, m)).")
    answer = normalize_symbols(answer)
    if answer.has(sp.Derivative):
        _fail(name, [f"{name} contains an unevaluated Derivative: {answer}."],
              "Work the derivative out by hand (or call .doit()) and type the result.", answer)
    for kind in (sp.Integral, sp.Limit):
        if answer.has(kind):
            _fail(name, [f"{name} contains an unevaluated {kind.__name__}."],
                  "Type a closed-form expression.", answer)
    undefined = sorted({str(f.func) for f in answer.atoms(AppliedUndef)})
    if undefined:
        _fail(name, [f"{name} uses a function the course does not define: {', '.join(undefined)}(...)."],
              "Use only the symbols of the setup cell and SymPy functions such as sqrt and Sum.", answer)
    if answer.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        _fail(name, [f"{name} is infinite or undefined somewhere ({answer}): a division by zero?"],
              None, answer)
    allowed = set(_SYMBOLS.values()) - (set() if shorthands else _SHORTHANDS)
    bases = {b for b in answer.atoms(sp.IndexedBase)}
    labels = {b.label for b in bases}
    loose = {s for s in answer.free_symbols
             if not isinstance(s, sp.Indexed) and s not in allowed and s not in labels}
    loose |= {b for b in bases if b not in allowed}
    if j in answer.free_symbols:
        _fail(name, [f"{name} uses j outside a sum; j is the summation index of Sum(..., (j, 1, m))."],
              "For the i-th sample use i (x[i], dy[i]); use j only inside a Sum over the batch.", answer)
    if loose:
        listed = ", ".join(sorted(str(s) for s in loose))
        lines = [f"{name} uses symbols this exercise does not define: {listed}."]
        if not shorthands and loose & _SHORTHANDS:
            lines.append("Here write everything from x, m and the parameters (no shorthands).")
        _fail(name, lines, "Use only the symbols defined in the setup cell at the top of the notebook; "
                           "do not make new ones with sp.Symbol.", answer)
    return answer


def check_form(name, answer, shorthands=True, constants=False):
    """Check that `answer` is a well-formed SymPy expression in the course's symbols.

    Inputs:
    - name: the answer's name, e.g. "dL_dgamma"
    - answer: the student's value
    - shorthands: whether mu_B, sigma2_B, x_hat may appear
    - constants: whether a plain number (0, 1.5) counts as well formed
    Raises CheckFailed saying what is malformed (a string, a number, None, an unknown symbol,
    an unevaluated Derivative, ...). Says nothing about whether the formula is right.
    """
    __tracebackhide__ = True
    _read(name, answer, shorthands, constants)


# ---------------------------------------------------------------------------------------------
# Batch sizes. Without a key the sums are written out for m = 2, 3, 5 and every sample index i.
# The grader sets a secret key per notebook: then m = 2, 3 and sizes drawn from the key, one from
# each band below (log-uniformly), so that an answer cannot be tuned to the sizes compared; where
# an answer depends on i, large batches compare i = 1, i = m and a few i drawn between.

_KEYED_SIZES = (2, 3)
_SIZE_BANDS = ((4, 64), (64, 4096), (4096, 100_001), (4096, 100_001))  # [low, high) of each drawn size
_ALL_I_UP_TO = 8        # with a key, batches up to this size compare every i
_DRAWN_I = 3            # larger ones i = 1, i = m and this many i between
_sizes_key = None


def set_sizes_key(key):
    """Set the secret from which `check` and `equivalent` draw the batch sizes they compare.

    Inputs:
    - key: bytes (the grader's secret for one notebook), or None for the default sizes 2, 3, 5
    The same key always gives the same sizes, so grading again gives the same grade. Raises
    TypeError when key is neither bytes nor None, ValueError when it is empty.
    """
    global _sizes_key
    if key is not None and not isinstance(key, bytes):
        raise TypeError(f"the sizes key must be bytes or None, not {type(key).__name__}")
    if key == b"":
        raise ValueError("the sizes key is empty")
    _sizes_key = key


def _keyed_rng(key, *label):
    """A generator drawn from the key and a label: the same for the same key and label."""
    digest = hmac.new(key, repr(label).encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


@functools.lru_cache(maxsize=64)
def _drawn_sizes(key):
    rng, drawn = _keyed_rng(key, "batch sizes"), set()
    for low, high in _SIZE_BANDS:
        size = None
        while size is None or size in drawn:
            size = min(high - 1, int(np.exp(rng.uniform(np.log(low), np.log(high)))))
        drawn.add(size)
    return _KEYED_SIZES + tuple(sorted(drawn))


def batch_sizes():
    """The batch sizes m at which `check` and `equivalent` write the sums out, ascending:
    BATCH_SIZES (2, 3, 5) without a key; 2, 3 and sizes up to 100000 drawn from the key."""
    return BATCH_SIZES if _sizes_key is None else _drawn_sizes(_sizes_key)


def _sample_indices(mv):
    """The sample indices i compared for a batch of mv: all of them, or with a key and a large
    batch 1, mv and a few drawn between."""
    if _sizes_key is None or mv <= _ALL_I_UP_TO:
        return list(range(1, mv + 1))
    between = _keyed_rng(_sizes_key, "sample indices", mv).choice(mv - 2, size=_DRAWN_I, replace=False) + 2
    return [1, *sorted(int(t) for t in between), mv]


def _cases(*exprs):
    """The (m, i) pairs to compare: i as `_sample_indices` says when any expression depends on i."""
    uses_i = any(i in e.free_symbols for e in exprs)
    return [(mv, iv) for mv in batch_sizes() for iv in (_sample_indices(mv) if uses_i else [None])]


# ---------------------------------------------------------------------------------------------
# Evaluating expressions numerically: a small tree walk that writes the sums out for a concrete m
# (no doit(), no code generation: fast and predictable). Values are arrays whose last axis runs
# over the random points. A summation index is an integer array along a new leading axis, so a sum
# is one NumPy reduction; a sum that does not depend on the indices of the sums around it (the
# mean inside the variance) is computed once and remembered, so nested sums cost O(m), not O(m^2).

_FUNCTIONS = {sp.exp: np.exp, sp.log: np.log, sp.Abs: np.abs, sp.sin: np.sin, sp.cos: np.cos,
              sp.tanh: np.tanh, sp.sign: np.sign}
_MAX_WORK = 2_000_000      # at most m * points values of x per batch size
_MAX_ELEMENTS = 4_000_000  # the largest array a sum may write out (its terms times the points)
_MAX_ROWS = 250_000        # the most entries x[.] (or dy[.]) one check may draw
_MAX_BITS = 4096           # exact integer arithmetic up to this size, floats beyond
_DRAW = {
    "gamma": lambda r, n: r.uniform(0.5, 2.0, n) * r.choice([-1.0, 1.0], n),
    "epsilon": lambda r, n: r.uniform(0.05, 1.0, n),
    "momentum": lambda r, n: r.uniform(0.05, 0.95, n),
    "running_var": lambda r, n: r.uniform(0.5, 2.0, n),
    "k": lambda r, n: r.integers(0, 9, n).astype(float),
}


def _normal(r, shape):
    return r.normal(0.5, 1.5, shape)


_TABLES = {}   # (seed, points): {name: the table of name[.]}, shared by the checks with that seed


class _TooLong(ValueError):
    """A sum with more terms than _MAX_ELEMENTS allows."""


class _Points:
    """Random values of every symbol, shared by all expressions compared in one check.

    A symbol's values are an array of shape (N_POINTS,); an IndexedBase's a table of shape
    (entries, N_POINTS), drawn as far as the indices asked for reach. Each is drawn from its own
    stream, so a value does not depend on the order in which expressions ask for them, and the
    tables (the bulk of the drawing when m is large) are kept for the next check with this seed.
    """

    def __init__(self, seed, n=N_POINTS):
        self.seed, self.n = seed, n
        self.memo, self.free, self.scalars = {}, {}, {}
        if (seed, n) not in _TABLES:
            while len(_TABLES) >= 2:          # the tables of the seeds used last
                del _TABLES[next(iter(_TABLES))]
            _TABLES[seed, n] = {}
        self.tables = _TABLES[seed, n]

    def _stream(self, name, part):
        return np.random.default_rng([self.seed, zlib.crc32(name.encode()), part])

    def value(self, name, n):
        """Values of a symbol (by name) at the first n points: shape (n,)."""
        if name not in self.scalars:
            self.scalars[name] = _DRAW.get(name, _normal)(self._stream(name, 0), self.n)
        return self.scalars[name][:n]

    def entries(self, name, index, n):
        """Values of name[index] at the first n points; index: an int, or an int array whose
        last axis has length 1. Returns shape (n,), or index.shape[:-1] + (n,)."""
        if name not in self.tables:  # rows for x[1], x[2], ... and for x[0], x[-1], ...
            self.tables[name] = [np.empty((0, self.n)), np.empty((0, self.n)),
                                 self._stream(name, 1), self._stream(name, 2)]
        table = self.tables[name]
        flat = np.reshape(index, -1)
        for side, need in ((0, int(flat.max())), (1, 1 - int(flat.min()))):
            have = len(table[side])
            if need > have:
                if len(table[0]) + len(table[1]) + need - have > _MAX_ROWS:
                    raise ValueError(f"an index of {name} too far outside the batch")
                table[side] = np.concatenate([table[side], _normal(table[side + 2], (need - have, self.n))])
        first, last = int(flat[0]), int(flat[-1])
        if first >= 1 and last - first + 1 == flat.size and (flat.size == 1 or (np.diff(flat) == 1).all()):
            out = table[0][first - 1:last, :n]   # x[1..m] in a sum: a view, no copy
            return out[0] if isinstance(index, int) else out.reshape(index.shape[:-1] + (n,))
        after = flat >= 1
        out = np.empty((flat.size, n))
        out[after] = table[0][flat[after] - 1, :n]
        out[~after] = table[1][-flat[~after], :n]
        return out[0] if isinstance(index, int) else out.reshape(index.shape[:-1] + (n,))

    def points_for(self, mv):
        """How many of the points a batch of mv uses: fewer for large mv, so m * points <= _MAX_WORK."""
        return max(2, min(self.n, _MAX_WORK // max(mv, 1)))


class _Given:
    """The values of one concrete batch, for `evaluate` (one point: n = 1)."""

    def __init__(self, values):
        self.values, self.n, self.memo, self.free = values, 1, {}, {}

    def points_for(self, mv):
        return 1

    def value(self, name, n):
        name = "eps" if name == "epsilon" else name
        if name not in self.values:
            raise ValueError(f"no value given for {name}")
        return np.array([float(self.values[name])])

    def entries(self, name, index, n):
        if name not in self.values:
            raise ValueError(f"no values given for {name}")
        entries = np.asarray(self.values[name], dtype=float).reshape(-1)
        flat = np.reshape(index, -1)
        outside = flat[(flat < 1) | (flat > entries.size)]
        if outside.size:
            raise ValueError(f"{name}[{outside[0]}] is outside the batch {name}[1..{entries.size}]")
        return entries[flat - 1] if isinstance(index, int) else entries[flat - 1].reshape(index.shape)


def _index(value, what):
    """An index or a sum's limit: a Python int, or an int array (last axis of length 1) when it
    depends on the index of an enclosing sum. Raises ValueError when it is not a whole number,
    or differs from one random point to the next."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, np.ndarray) and value.size and value.shape[-1] == 1:
        if value.dtype.kind in "iu":
            return value.astype(np.int64)
        if value.dtype.kind == "f" and np.isfinite(value).all() and (value == np.round(value)).all():
            return value.astype(np.int64)
    raise ValueError(f"the index of {what} is not a whole number")


def _is_int(v):
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, np.ndarray) and v.dtype.kind in "iu")


def _exact(op, a, b):
    """op(a, b) exactly when both are integers and the result is not huge, in floats otherwise.
    Python ints stay Python ints (m, i); int arrays (summation indices) stay int64 where that is exact."""
    if not (_is_int(a) and _is_int(b)):
        return op(a, b)
    if any(isinstance(v, int) and v.bit_length() > 62 for v in (a, b)) and not (isinstance(a, int) and isinstance(b, int)):
        return op(np.asarray(a, dtype=float), np.asarray(b, dtype=float))   # may overflow, as floats do
    if isinstance(a, int) and isinstance(b, int):
        if op is operator.pow:
            if b < 0 or abs(a) > 1 and b * abs(a).bit_length() > _MAX_BITS:
                return np.power(float(a), float(b))
        elif op is operator.mul and a.bit_length() + b.bit_length() > _MAX_BITS:
            raise ValueError("a number too large to evaluate")
        return op(a, b)
    with np.errstate(all="ignore"):
        approx = op(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if bool(np.all(np.abs(approx) < 2.0 ** 62)) and not (op is operator.pow and np.any(np.asarray(b) < 0)):
        return op(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    return approx


def _eval(e, env, points, n):
    """Value of e with the integer symbols in env (Python ints, or int arrays for summation
    indices) and the other symbols from points, at n points."""
    if e.is_Integer:
        return int(e)
    if e.is_Number or e.is_NumberSymbol:
        return float(e)
    if e in env:
        return env[e]
    if isinstance(e, sp.Symbol):
        if e in (m, i, j) or e not in _ALL:
            raise ValueError(f"{e} has no value here")
        return points.value(e.name, n)
    if isinstance(e, sp.Indexed):
        if len(e.indices) != 1:
            raise ValueError(f"{e} should have one index")
        return points.entries(str(e.base.label), _index(_eval(e.indices[0], env, points, n), e), n)
    if e.is_Add or e.is_Mul:
        op = operator.add if e.is_Add else operator.mul
        total = _eval(e.args[0], env, points, n)
        for a in e.args[1:]:
            total = _exact(op, total, _eval(a, env, points, n))
        return total
    if e.is_Pow:
        base, exponent = (_eval(a, env, points, n) for a in e.args)
        if _is_int(base) and isinstance(exponent, int):
            return _exact(operator.pow, base, exponent)
        return np.power(np.asarray(base, dtype=float), np.asarray(exponent, dtype=float))
    if isinstance(e, sp.Sum):
        return _eval_sum(e, env, points, n)
    if isinstance(e, sp.Function) and e.func in _FUNCTIONS and len(e.args) == 1:
        return _FUNCTIONS[e.func](np.asarray(_eval(e.args[0], env, points, n), dtype=float))
    raise ValueError(f"cannot evaluate {type(e).__name__} numerically")


def _eval_sum(e, env, points, n):
    """A Sum, remembered when it depends on no summation index of the sums around it."""
    if e not in points.free:
        points.free[e] = e.free_symbols
    bound = [(s, env[s]) for s in points.free[e] if s in env]
    key = (e, n, frozenset(bound)) if all(isinstance(v, int) for _, v in bound) else None
    if key is not None:
        if key in points.memo:
            return points.memo[key]
        env = dict(bound)   # the enclosing indices do not matter: a value of shape (n,), wherever it is used
    value = _sum_out(e.function, list(e.limits), env, points, n)
    if key is not None:
        points.memo[key] = value
    return value


def _sum_out(function, limits, env, points, n):
    """Sum of function over limits (SymPy's order: the last limit is the outermost sum)."""
    (var, low, high), inner = limits[-1], limits[:-1]
    low, high = (_index(_eval(b, env, points, n), "a sum's limit") for b in (low, high))
    outer = [v.shape for s, v in env.items() if isinstance(v, np.ndarray) and s != var]
    depth = max((len(s) for s in outer), default=1)   # axes of the enclosing indices, and the points'
    first, last = int(np.min(low)), int(np.max(high))
    terms = max(0, last - first + 1)
    if terms == 0:
        return 0
    if terms * int(np.prod(np.broadcast_shapes(*outer), dtype=np.int64) if outer else 1) * n > _MAX_ELEMENTS:
        raise _TooLong("a sum is too long to write out")
    index = np.arange(first, last + 1, dtype=np.int64).reshape((terms,) + (1,) * depth)
    env = {**env, var: index}
    value = _sum_out(function, inner, env, points, n) if inner else _eval(function, env, points, n)
    if isinstance(low, np.ndarray) or isinstance(high, np.ndarray):  # limits set by an enclosing index
        value = np.where((index >= low) & (index <= high), value, 0)
    if np.ndim(value) <= depth:   # the terms do not depend on the index
        return _exact(operator.mul, value, terms)
    if value.dtype.kind in "iu":
        if float(np.abs(value).max()) * terms >= 2.0 ** 62:
            value = value.astype(float)
        elif depth == 1:         # a whole number, as m and i are
            return int(np.sum(value))
    return np.sum(value, axis=0)


def _separated(expr):
    """expr with each sum's terms expanded and the factors that do not depend on its index taken
    out: sum_j sum_k x_j x_k becomes (sum_j x_j)(sum_k x_k). The same value, at O(m) instead of
    O(m^2) cost, for sums inside sums that depend on the outer index."""
    def split(s):
        function = s.function
        for var, low, high in s.limits:   # innermost first
            total = sp.Integer(0)
            for term in sp.Add.make_args(sp.expand(function)):
                inside = [f for f in sp.Mul.make_args(term) if var in f.free_symbols]
                outside = [f for f in sp.Mul.make_args(term) if var not in f.free_symbols]
                total += sp.Mul(*outside) * sp.Sum(sp.Mul(*inside) if inside else sp.Integer(1), (var, low, high))
            function = total
        return function
    return expr.replace(lambda e: isinstance(e, sp.Sum), split)


def _numeric(expr, case, points):
    """Values of an expanded expression at the points, for the case (m, i) (i may be None)."""
    mv, iv = case
    env = {m: mv} if iv is None else {m: mv, i: iv}
    n = points.points_for(mv)
    with np.errstate(all="ignore"):
        try:
            out = _eval(expr, env, points, n)
        except _TooLong:
            if ("separated", expr) not in points.memo:
                points.memo["separated", expr] = _separated(expr)
            out = _eval(points.memo["separated", expr], env, points, n)
        out = np.asarray(out, dtype=float)
    return np.broadcast_to(out, (n,))


def _values(expr, cases, points):
    """{(m, i): values at the random points} for an expanded expression."""
    return {case: _numeric(expr, case, points) for case in cases}


def _close(a, b, case):
    """Where a agrees with b at a case (m, i). A sum of m terms that cancel keeps a rounding error
    that grows with m (the gradient of a bias is 0 only up to it), so the absolute tolerance does too."""
    atol = _ATOL * max(1.0, case[0] / _ATOL_GROWS_AFTER)
    return np.isfinite(a) & (np.abs(a - b) <= atol + _RTOL * np.abs(b))


def evaluate(expr, **values):
    """The value of an expression for one concrete batch.

    Inputs:
    - expr: a SymPy expression in the course's symbols (shorthands allowed)
    - values: numbers for its symbols by name: m (int), x and dy (arrays of shape (m,); x[1]
      is the array's first entry), gamma, beta, eps, momentum, running_mean, running_var, k;
      i (1-based) to pick one sample
    Returns a float, or an array of shape (m,) over i = 1..m when expr depends on i and no i
    is given. Raises ValueError when a symbol has no value or the result is not finite.
    """
    expr = expand_shorthands(normalize_symbols(_expression(expr, "the expression to evaluate")))
    mv = int(values["m"]) if "m" in values else len(np.atleast_1d(values.get("x", values.get("dy", []))))
    given = _Given(values)
    if i in expr.free_symbols and "i" not in values:
        out = np.array([_numeric(expr, (mv, iv), given)[0] for iv in range(1, mv + 1)])
    else:
        out = _numeric(expr, (mv, int(values["i"]) if "i" in values else None), given)[0]
    if not np.isfinite(out).all():
        raise ValueError("the result is not a finite real number (a division by zero, or a "
                         "square root of a negative number?)")
    return out


def _describe(values):
    """A batch as a message shows it: "m = 3, x = [1, 2, 6], eps = 0"."""
    return ", ".join(f"{key} = " + ("[" + ", ".join(f"{float(t):.6g}" for t in np.ravel(v)) + "]"
                                    if np.ndim(v) else f"{v:.6g}" if isinstance(v, float) else f"{v}")
                     for key, v in values.items())


def check_value(name, answer, expected, *, rtol=1e-8, shorthands=True, constants=False, hint=None, **values):
    """Check the value of an answer on a concrete batch, e.g. the worked example of a notebook.

    Inputs:
    - name: the answer's name; answer: the student's expression
    - expected: the number (or array over i = 1..m) it should evaluate to
    - rtol: relative tolerance (loosen it when `expected` comes from finite differences)
    - values: the batch, as for `evaluate` (m=2, x=[1, 3], gamma=2.0, ...)
    Raises CheckFailed when the answer is malformed or evaluates to something else; TypeError
    when expected is a string (the test cell must give numbers).
    """
    __tracebackhide__ = True
    if isinstance(expected, str):
        raise TypeError(f"the expected value of {name} is a string ({expected!r}); the instructor must give a number")
    answer = _read(name, answer, shorthands, constants)
    shown = _describe(values)
    try:
        got = evaluate(answer, **values)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        _fail(name, [f"{name} could not be evaluated for {shown}: {e}",
                     f"  Your answer: {sp.latex(answer)}"], hint, answer)
    got_arr, exp_arr = np.atleast_1d(np.asarray(got, float)), np.atleast_1d(np.asarray(expected, float))
    close = np.isfinite(got_arr) & (np.abs(got_arr - exp_arr) <= _ATOL + rtol * np.abs(exp_arr)) \
        if got_arr.shape == exp_arr.shape else np.array([False])
    if not close.all():
        fmt = (lambda v: np.array2string(np.asarray(v, float), precision=6)
               if np.ndim(v) else f"{float(v):.6g}")
        lines = [f"{name} evaluates to {fmt(got)} for {shown}; expected {fmt(expected)}.",
                 f"  Your answer (LaTeX): {sp.latex(answer)}"]
        if got_arr.shape == exp_arr.shape:
            lines += _explain_value(got_arr, exp_arr, values)
        _fail(name, lines, hint, answer)


def check_example(name, answer, expected, *, rtol=1e-8, shorthands=True, constants=False, hint=None, **values):
    """The visible test of a formula: its form and its value on one worked example, then a
    printed line saying what was checked and what was not (the hidden tests check the rest).

    Inputs as for `check_value`. Raises CheckFailed when the answer is malformed or gives
    another value on the example; prints what it checked otherwise.
    """
    __tracebackhide__ = True
    check_value(name, answer, expected, rtol=rtol, shorthands=shorthands, constants=constants, hint=hint,
                **values)
    print(f"Checked here: {name} is a formula in the course's symbols and gives the expected value on the "
          f"worked example ({_describe(values)}).\n"
          f"Not checked here: any other values. The hidden tests that grade {name} compare it with the "
          f"expected formula at many random points (on batches of several sizes m where it depends on the "
          f"batch), and name the known mistake it matches.")


def _explain_value(got, expected, values):
    """A sentence naming a factor or term that turns the expected value into the one got."""
    for label, factor in _FACTORS:
        try:
            c = evaluate(factor, **values)
        except Exception:  # noqa: BLE001 (a factor in symbols without a value here)
            continue
        if np.all(np.abs(expected * c - expected) > 1e-12) and np.allclose(got, expected * c, rtol=1e-8, atol=1e-12):
            return [f"  That is the expected value times {label} here: is a factor {label} off?"]
    for label, term in _TERMS:
        try:
            c = evaluate(term, **values)
        except Exception:  # noqa: BLE001
            continue
        if abs(c) > 1e-12 and np.allclose(got, expected + c, rtol=1e-8, atol=1e-12):
            return [f"  That is the expected value plus {label} here: an extra term {label}?"]
        if abs(c) > 1e-12 and np.allclose(got, expected - c, rtol=1e-8, atol=1e-12):
            return [f"  That is the expected value minus {label} here: is a term {label} missing?"]
    return []


# ---------------------------------------------------------------------------------------------
# Comparing with the expected expression.

def _symbolic_zero(difference):
    """True when SymPy proves difference == 0; None when it cannot tell (never False-as-True)."""
    if difference.has(sp.Sum) or sp.count_ops(difference) > _SIMPLIFY_MAX_OPS:
        return None
    try:
        if sp.simplify(difference) == 0:
            return True
        return True if difference.equals(0) is True else None
    except Exception:  # noqa: BLE001 (SymPy's simplifier can raise on unusual input)
        return None


def equivalent(a, b, seed=0):
    """Whether two expressions in the course's symbols are equal, and how that was decided.

    Inputs:
    - a, b: SymPy expressions (shorthands allowed) or real numbers
    - seed: seed of the random points
    Returns (equal, how) with how one of "structure", "simplify", "numbers", or a reason
    ("differs when m = 3", "cannot evaluate ...") when not equal. The sizes m compared are
    `batch_sizes()`. Raises TypeError for a string or another non-expression.
    """
    a, b = (expand_shorthands(normalize_symbols(_expression(e, name))) for e, name in ((a, "a"), (b, "b")))
    return _equivalent(a, b, _Points(seed))


def _equivalent(a, b, points):
    """equivalent() for expanded expressions, on given points (a check shares its points)."""
    if a == b:
        return True, "structure"
    cases = _cases(a, b)
    try:
        va, vb = _values(a, cases, points), _values(b, cases, points)
    except Exception as e:  # noqa: BLE001
        proved = _symbolic_zero(a - b)
        return (True, "simplify") if proved else (False, f"cannot evaluate: {e}")
    for case in cases:
        if not _close(va[case], vb[case], case).all():
            return False, f"differs when m = {case[0]}"
    # A point where they differ would have settled it; now let algebra prove it when it can.
    return (True, "simplify") if _symbolic_zero(a - b) else (True, "numbers")


# Factors and terms an answer is often off by; named in the message when they explain it.
_FACTORS = [
    ("m/(m - 1)", m / (m - 1)), ("(m - 1)/m", (m - 1) / m), ("m", m), ("1/m", 1 / m),
    ("m^2", m ** 2), ("1/m^2", 1 / m ** 2), ("2", sp.Integer(2)), ("1/2", sp.Rational(1, 2)),
    ("-1 (the sign is flipped)", sp.Integer(-1)), ("-2", sp.Integer(-2)), ("-1/2", sp.Rational(-1, 2)),
    ("gamma", gamma), ("1/gamma", 1 / gamma),
    ("(sigma2_B + eps)", sigma2_B + eps), ("1/(sigma2_B + eps)", 1 / (sigma2_B + eps)),
    ("sqrt(sigma2_B + eps)", sp.sqrt(sigma2_B + eps)), ("1/sqrt(sigma2_B + eps)", 1 / sp.sqrt(sigma2_B + eps)),
    ("momentum/(1 - momentum)", momentum / (1 - momentum)), ("(1 - momentum)/momentum", (1 - momentum) / momentum),
    ("momentum", momentum), ("1/momentum", 1 / momentum),
]
_TERMS = [("beta", beta), ("gamma", gamma), ("eps", eps), ("1", sp.Integer(1)), ("mu_B", mu_B)]


def _matches(values, candidate, cases, points):
    try:
        vc = _values(expand_shorthands(candidate), cases, points)
    except Exception:  # noqa: BLE001
        return False
    return all(_close(values[c], vc[c], c).all() for c in cases)


def _diagnose(got, exp, vg, ve, cases, points, mistakes):
    """Sentences saying how `got` differs from `exp` (both expanded), and the description of the
    known mistake it is (None if none): (lines, mistake)."""
    lines, mistake = [], None
    uses_m = m in got.free_symbols or m in exp.free_symbols  # the batch size, or a sum over the batch
    for description, wrong in mistakes.items():
        try:
            if _equivalent(got, wrong, points)[0]:
                lines.append(f"  This is what you get when {description}.")
                mistake = description
                break
        except Exception:  # noqa: BLE001 (a mistake that cannot be evaluated names nothing)
            continue
    with np.errstate(all="ignore"):
        ratio = {c: vg[c] / ve[c] for c in cases}
        diff = {c: vg[c] - ve[c] for c in cases}
    for label, factor in _FACTORS:
        if _matches(ratio, factor, cases, points):
            lines.append(f"  It differs by a factor {label}: your answer is the expected one times {label}.")
            break
    else:
        for label, term in _TERMS:
            if _matches(diff, term, cases, points):
                lines.append(f"  It has an extra term {label}: your answer is the expected one plus {label}.")
                break
            if _matches(diff, -term, cases, points):
                lines.append(f"  It is missing a term {label}: your answer is the expected one minus {label}.")
                break
        else:
            sizes = sorted({c[0] for c in cases})
            for mv in sizes:
                r = np.concatenate([ratio[c] for c in cases if c[0] == mv])
                if np.isfinite(r).all() and np.abs(r).max() <= 1e-12:
                    lines.append("  Your answer is 0 at every point compared, where the expected value is not.")
                    break
                if np.isfinite(r).all() and np.ptp(r) <= 1e-8 * (1 + np.abs(r).max()) and abs(r[0] - 1) > 1e-8:
                    when = f"When m = {mv} your" if uses_m else "Your"
                    lines.append(f"  {when} answer is {r[0]:.6g} times the expected value (a constant factor is off).")
                    break
    wrong_at = [mv for mv in sorted({c[0] for c in cases})
                if not all(_close(vg[c], ve[c], c).all() for c in cases if c[0] == mv)]
    right_at = [mv for mv in sorted({c[0] for c in cases}) if mv not in wrong_at]
    first = next(c for c in cases if not _close(vg[c], ve[c], c).all())
    n = int(np.argmax(~_close(vg[first], ve[first], first)))
    # Name the batch size, the sample and the batch only when the formulas depend on them (A5's
    # momentum**k does not): the random point is then one draw of the symbols they do use.
    where = ([f"m = {first[0]}"] if uses_m else []) + ([f"i = {first[1]}"] if first[1] is not None else [])
    drawn = sorted((_SAY[s] for s in (got.free_symbols | exp.free_symbols) if s in _SAY and s not in (m, i)), key=str)
    at = ("one random batch" if any(e.atoms(sp.IndexedBase) for e in (got, exp))
          else f"random values of {', '.join(drawn)}" if drawn else "the point compared")
    said = (f"  It differs{' when ' + ', '.join(where) if where else ''}: at {at} it gives {vg[first][n]:.6g} "
            f"where {ve[first][n]:.6g} is expected")
    said += f" (it agrees when m = {', '.join(map(str, right_at))})." if right_at and uses_m else "."
    lines.insert(0, said)
    ingredients = lambda e: ({s for s in e.free_symbols if s in _SAY and s is not m}
                             | {b for b in e.atoms(sp.IndexedBase) if b in _SAY})
    have, want = ingredients(got), ingredients(exp)
    for s in sorted(want - have, key=str):
        lines.append(f"  It does not depend on {_SAY[s]} but should.")
    # Against an expected number, "depends on x, gamma, ... but should not" would say the answer
    # is a constant: the comparison above says what is off without giving that away.
    for s in sorted(have - want, key=str) if want else ():
        lines.append(f"  It depends on {_SAY[s]} but should not.")
    return lines, mistake


def check(name, answer, expected, *, mistakes=None, shorthands=True, constants=False, hint=None, seed=0):
    """Check a formula the student typed against the expected one.

    Inputs:
    - name: the answer's name, e.g. "dL_dsigma2"
    - answer: the student's SymPy expression
    - expected: the expected SymPy expression (or a real number), built in the test cell's code
    - mistakes: optional {description: expression} of known mistakes, built the same way; when
      the answer equals one, the message says "This is what you get when <description>."
    - shorthands: whether mu_B, sigma2_B and x_hat may appear in the answer
    - constants: whether a plain number (e.g. 0) is a valid answer
    - hint: optional sentence added to every failure message
    - seed: seed of the random points
    The sizes m compared are `batch_sizes()`. Raises CheckFailed with the answer as LaTeX and
    what is off; returns None when right. Raises TypeError when expected or a mistake is a string
    (or not an expression): the test cell is wrong, not the answer.
    """
    __tracebackhide__ = True
    expected = _expression(expected, f"the expected value of {name}", by="the instructor")
    mistakes = {description: expand_shorthands(normalize_symbols(_expression(wrong, f"the mistake {description!r}",
                                                                      by="the instructor")))
                for description, wrong in (mistakes or {}).items()}
    answer = _read(name, answer, shorthands, constants)
    got, exp = expand_shorthands(answer), expand_shorthands(normalize_symbols(expected))
    if got == exp or _symbolic_zero(got - exp):
        return
    cases, points = _cases(got, exp), _Points(seed)
    ve = _values(exp, cases, points)
    try:
        vg = _values(got, cases, points)
    except Exception as e:  # noqa: BLE001
        _fail(name, [f"{name} could not be evaluated on a concrete batch ({e}).",
                     f"  Your answer (LaTeX): {sp.latex(answer)}"],
              hint or "Write sums as Sum(..., (j, 1, m)) and give a closed form.", answer)
    if all(_close(vg[c], ve[c], c).all() for c in cases):
        return
    lines = [f"{name} is not right.", f"  Your answer (LaTeX): {sp.latex(answer)}"]
    diagnosis, mistake = _diagnose(got, exp, vg, ve, cases, points, mistakes)
    lines += diagnosis
    limits = sorted({(str(lim[1]), str(lim[2])) for s in answer.atoms(sp.Sum) for lim in s.limits})
    if any(lim != ("1", "m") for lim in limits):
        lines.append("  Note: sums over the batch run from 1 to m: Sum(..., (j, 1, m)).")
    _fail(name, lines, hint, answer, mistake)
