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
3. numbers: the sums are written out for several batch sizes m (2, 3, 5) and both expressions
   are evaluated at many random points of the valid domain (eps > 0, so sigma^2 + eps > 0) for
   every sample index i = 1..m; they must agree at every point.
A point where they differ proves the answer wrong. The message then shows the answer as LaTeX
and names what is off: a constant or symbolic factor ("a factor m/(m - 1)"), a missing or extra
term, a symbol it should (not) depend on, a known mistake passed in by the test cell, or the
batch sizes where it differs. A malformed answer (a string, a number, None, an unknown symbol,
an unevaluated Derivative) gets a message saying how to write it instead.

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
import numbers

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from course.testing import CheckFailed

__all__ = ["symbols", "check", "check_form", "check_value", "check_example", "evaluate", "equivalent",
           "expand_shorthands", "CheckFailed"]

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

BATCH_SIZES = (2, 3, 5)   # m for which sums are written out and compared
N_POINTS = 24             # random points per batch size and sample index
_RTOL, _ATOL = 1e-8, 1e-10
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
# Reading an answer.

def _fail(name, lines, hint=None, answer=None):
    __tracebackhide__ = True
    if answer is not None:
        _show(name, answer)
    if hint:
        lines = list(lines) + [f"Hint: {hint}"]
    raise CheckFailed("\n".join(lines))


def _show(name, answer):
    """Render the answer as math in the notebook (only inside a Jupyter kernel)."""
    try:
        from IPython import get_ipython
        from IPython.display import Math, display
        if get_ipython() is not None:
            display(Math(rf"\text{{{name}}} = {sp.latex(answer)}"))
    except Exception:  # noqa: BLE001 (showing is a courtesy; never let it fail the check)
        pass


def _normalize(expr):
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


def _read(name, answer, shorthands=True, constants=False):
    """The answer as a SymPy expression in the course's symbols, or CheckFailed saying why not.
    constants: whether a plain number is a valid answer (when the result may be a constant)."""
    __tracebackhide__ = True
    example = "e.g. Sum(x[j], (j, 1, m)) / m"
    if answer is None:
        _fail(name, [f"{name} is None; it should be a SymPy expression."],
              "Did the cell that defines it run, and does it assign an expression (not print it)?")
    if isinstance(answer, str):
        _fail(name, [f"{name} is a string ({answer!r}), not a SymPy expression."],
              f"Type the formula without quotes, built from the symbols of the setup cell, {example}.")
    if isinstance(answer, bool):
        _fail(name, [f"{name} is {answer}, not a SymPy expression."],
              "Assign the formula itself, not a comparison.")
    if constants and isinstance(answer, (numbers.Number, np.number)) and isinstance(answer, numbers.Real):
        answer = sp.sympify(answer.item() if isinstance(answer, np.number) else answer)
    if isinstance(answer, (numbers.Number, np.number)) and not constants:
        _fail(name, [f"{name} is the plain number {answer!r}, not an expression in the symbols."],
              f"Write the formula with the symbols of the setup cell, {example}.")
    if isinstance(answer, sp.Rel):
        _fail(name, [f"{name} is an equation or inequality ({answer}); give only the right-hand side."],
              f"Write `{name} = <formula>`, not `{name} = Eq(..., ...)`.", answer)
    if not isinstance(answer, sp.Expr):
        _fail(name, [f"{name} is a {type(answer).__name__}, not a SymPy expression."],
              f"Assign one formula, {example}.")
    answer = _normalize(answer)
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
# Evaluating expressions numerically: a small tree walk, vectorized over the random points, that
# writes the sums out for a concrete m (no doit(), no code generation: fast and predictable).

_FUNCTIONS = {sp.exp: np.exp, sp.log: np.log, sp.Abs: np.abs, sp.sin: np.sin, sp.cos: np.cos,
              sp.tanh: np.tanh, sp.sign: np.sign}
_INTEGER_SYMBOLS = (m, i, j, k)


class _Points:
    """Random values of every symbol, shared by all expressions compared in one check."""

    def __init__(self, seed, n):
        self.seed, self.n, self.table = seed, n, {}
        self.rng = np.random.default_rng(seed)

    def value(self, key):
        """Values at all points of a symbol (key: its name) or of an entry (key: ("x", 3))."""
        if key not in self.table:
            r, n = self.rng, self.n
            draw = {
                "gamma": lambda: r.uniform(0.5, 2.0, n) * r.choice([-1.0, 1.0], n),
                "epsilon": lambda: r.uniform(0.05, 1.0, n),
                "momentum": lambda: r.uniform(0.05, 0.95, n),
                "running_var": lambda: r.uniform(0.5, 2.0, n),
                "k": lambda: r.integers(0, 9, n).astype(float),
            }.get(key if isinstance(key, str) else "", lambda: r.normal(0.5, 1.5, n))
            self.table[key] = draw()
        return self.table[key]


class _Given:
    """The values of one concrete batch, for `evaluate`."""

    def __init__(self, values):
        self.values, self.n = values, 1

    def value(self, key):
        if isinstance(key, tuple):
            name, index = key
            if name not in self.values:
                raise ValueError(f"no values given for {name}")
            entries = np.asarray(self.values[name], dtype=float).reshape(-1)
            if not 1 <= index <= entries.size:
                raise ValueError(f"{name}[{index}] is outside the batch {name}[1..{entries.size}]")
            return np.array([entries[index - 1]])
        name = "eps" if key == "epsilon" else key
        if name not in self.values:
            raise ValueError(f"no value given for {name}")
        return np.array([float(self.values[name])])


def _index(value, what):
    """A concrete index (a Python int) from the value of an index expression."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"the index of {what} is not a whole number")


def _eval(e, env, points):
    """Value of e with the integer symbols in env (Python ints) and the rest from points."""
    if e.is_Integer:
        return int(e)
    if e.is_Number or e.is_NumberSymbol:
        return float(e)
    if e in env:
        return env[e]
    if isinstance(e, sp.Symbol):
        if e in (m, i, j) or e not in _ALL:
            raise ValueError(f"{e} has no value here")
        return points.value(e.name)
    if isinstance(e, sp.Indexed):
        if len(e.indices) != 1:
            raise ValueError(f"{e} should have one index")
        return points.value((str(e.base.label), _index(_eval(e.indices[0], env, points), e)))
    if e.is_Add:
        total = 0
        for a in e.args:
            total = total + _eval(a, env, points)
        return total
    if e.is_Mul:
        product = 1
        for a in e.args:
            product = product * _eval(a, env, points)
        return product
    if e.is_Pow:
        base, exponent = (_eval(a, env, points) for a in e.args)
        if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
            return base ** exponent
        return np.power(np.asarray(base, dtype=float), np.asarray(exponent, dtype=float))
    if isinstance(e, sp.Sum):
        return _eval_sum(e.function, list(e.limits), env, points)
    if isinstance(e, sp.Function) and e.func in _FUNCTIONS and len(e.args) == 1:
        return _FUNCTIONS[e.func](np.asarray(_eval(e.args[0], env, points), dtype=float))
    raise ValueError(f"cannot evaluate {type(e).__name__} numerically")


def _eval_sum(function, limits, env, points):
    (var, low, high), rest = limits[0], limits[1:]
    low, high = (_index(_eval(b, env, points), "a sum's limit") for b in (low, high))
    if high - low > 10_000:
        raise ValueError("a sum is too long to write out")
    total = 0
    for value in range(low, high + 1):
        inner = {**env, var: value}
        total = total + (_eval_sum(function, rest, inner, points) if rest else _eval(function, inner, points))
    return total


def _numeric(expr, case, points):
    """Values of an expanded expression at all points, for the case (m, i) (i may be None)."""
    mv, iv = case
    env = {m: mv} if iv is None else {m: mv, i: iv}
    with np.errstate(all="ignore"):
        out = np.asarray(_eval(expr, env, points), dtype=float)
    return np.broadcast_to(out, (points.n,))


def _cases(*exprs, sizes=BATCH_SIZES):
    """The (m, i) pairs to compare: i = 1..m when any expression depends on i."""
    uses_i = any(i in e.free_symbols for e in exprs)
    return [(mv, iv) for mv in sizes for iv in (range(1, mv + 1) if uses_i else [None])]


def _values(expr, cases, points):
    """{(m, i): values at the random points} for an expanded expression."""
    return {case: _numeric(expr, case, points) for case in cases}


def _close(a, b):
    return np.isfinite(a) & (np.abs(a - b) <= _ATOL + _RTOL * np.abs(b))


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
    expr = expand_shorthands(_normalize(sp.sympify(expr)))
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
    Raises CheckFailed when the answer is malformed or evaluates to something else.
    """
    __tracebackhide__ = True
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
          f"expected formula at many random points (batches of m = {', '.join(map(str, BATCH_SIZES))} where it "
          f"depends on the batch), and name the known mistake it matches.")


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
    - a, b: SymPy expressions (shorthands allowed)
    Returns (equal, how) with how one of "structure", "simplify", "numbers", or a reason
    ("differs when m = 3", "cannot evaluate ...") when not equal.
    """
    a, b = expand_shorthands(_normalize(a)), expand_shorthands(_normalize(b))
    if a == b:
        return True, "structure"
    cases, points = _cases(a, b), _Points(seed, N_POINTS)
    try:
        va, vb = _values(a, cases, points), _values(b, cases, points)
    except Exception as e:  # noqa: BLE001
        proved = _symbolic_zero(a - b)
        return (True, "simplify") if proved else (False, f"cannot evaluate: {e}")
    for case in cases:
        if not _close(va[case], vb[case]).all():
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
    return all(_close(values[c], vc[c]).all() for c in cases)


def _diagnose(got, exp, vg, ve, cases, points, mistakes):
    """Sentences saying how `got` differs from `exp` (both expanded)."""
    lines = []
    for description, wrong in (mistakes or {}).items():
        try:
            wrong = expand_shorthands(_normalize(sp.sympify(wrong)))
            if equivalent(got, wrong, seed=points.seed)[0]:
                lines.append(f"  This is what you get when {description}.")
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
                if np.isfinite(r).all() and np.ptp(r) <= 1e-8 * (1 + np.abs(r).max()) and abs(r[0] - 1) > 1e-8:
                    lines.append(f"  When m = {mv} your answer is {r[0]:.6g} times the expected value "
                                 "(a constant factor is off).")
                    break
    wrong_at = [mv for mv in sorted({c[0] for c in cases})
                if not all(_close(vg[c], ve[c]).all() for c in cases if c[0] == mv)]
    right_at = [mv for mv in sorted({c[0] for c in cases}) if mv not in wrong_at]
    first = next(c for c in cases if not _close(vg[c], ve[c]).all())
    where = f"m = {first[0]}" + (f", i = {first[1]}" if first[1] is not None else "")
    n = int(np.argmax(~_close(vg[first], ve[first])))
    said = (f"  It differs when {where}: at one random batch it gives {vg[first][n]:.6g} "
            f"where {ve[first][n]:.6g} is expected")
    said += f" (it agrees when m = {', '.join(map(str, right_at))})." if right_at else "."
    lines.insert(0, said)
    ingredients = lambda e: ({s for s in e.free_symbols if s in _SAY and s is not m}
                             | {b for b in e.atoms(sp.IndexedBase) if b in _SAY})
    have, want = ingredients(got), ingredients(exp)
    for s in sorted(want - have, key=str):
        lines.append(f"  It does not depend on {_SAY[s]} but should.")
    for s in sorted(have - want, key=str):
        lines.append(f"  It depends on {_SAY[s]} but should not.")
    return lines


def check(name, answer, expected, *, mistakes=None, shorthands=True, constants=False, hint=None, seed=0):
    """Check a formula the student typed against the expected one.

    Inputs:
    - name: the answer's name, e.g. "dL_dsigma2"
    - answer: the student's SymPy expression
    - expected: the expected SymPy expression (from the test cell)
    - mistakes: optional {description: expression} of known mistakes; when the answer equals
      one, the message says "This is what you get when <description>."
    - shorthands: whether mu_B, sigma2_B and x_hat may appear in the answer
    - constants: whether a plain number (e.g. 0) is a valid answer
    - hint: optional sentence added to every failure message
    - seed: seed of the random points
    Raises CheckFailed with the answer as LaTeX and what is off; returns None when right.
    """
    __tracebackhide__ = True
    answer = _read(name, answer, shorthands, constants)
    got, exp = expand_shorthands(answer), expand_shorthands(_normalize(sp.sympify(expected)))
    if got == exp or _symbolic_zero(got - exp):
        return
    cases, points = _cases(got, exp), _Points(seed, N_POINTS)
    ve = _values(exp, cases, points)
    try:
        vg = _values(got, cases, points)
    except Exception as e:  # noqa: BLE001
        _fail(name, [f"{name} could not be evaluated on a concrete batch ({e}).",
                     f"  Your answer (LaTeX): {sp.latex(answer)}"],
              hint or "Write sums as Sum(..., (j, 1, m)) and give a closed form.", answer)
    if all(_close(vg[c], ve[c]).all() for c in cases):
        return
    lines = [f"{name} is not right.", f"  Your answer (LaTeX): {sp.latex(answer)}"]
    lines += _diagnose(got, exp, vg, ve, cases, points, mistakes)
    limits = sorted({(str(lim[1]), str(lim[2])) for s in answer.atoms(sp.Sum) for lim in s.limits})
    if any(lim != ("1", "m") for lim in limits):
        lines.append("  Note: sums over the batch run from 1 to m: Sum(..., (j, 1, m)).")
    _fail(name, lines, hint, answer)
