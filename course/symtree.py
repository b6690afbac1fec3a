"""SymPy expressions as JSON trees: how they cross between the student's kernel and the grader.

    encode(expr) -> tree       (in the kernel: course.agent)
    decode(tree) -> expr       (in the grader's judge: grader.judge); Refused for anything else

A tree is [kind, ...] with JSON lists, ints, bools and strings only:

    ["Symbol", name, {assumption: bool}]     ["Dummy", name, {assumption: bool}]
    ["Integer", int]      ["Rational", p, q]      ["Float", "1.25e-3", precision in bits]
    ["Add"|"Mul"|"Pow"|"Tuple"|"Indexed"|"Sum"|"Equality"|..., child, ...]  (the class name)
    ["IndexedBase", label tree, {assumption: bool}]     ["Idx", label tree]
    ["Function", name, child, ...]   an undefined function applied, f(x)
    ["Pi"], ["E"], ["I"], ["oo"], ["-oo"], ["zoo"], ["nan"]

decode builds only the kinds of KINDS, each from children it has already built (SymPy objects)
or from ints and bools it has checked; the only strings it reads are the names of symbols and
functions, each a Python identifier (with a power after it, "sigma_B^2") of at most MAX_NAME characters, and a float's digits, which
must match FLOAT. No text reaches eval, sympify or a SymPy constructor that would sympify it.
"""
import re

MAX_NODES = 200_000   # nodes of one tree
MAX_DEPTH = 400       # nesting of one tree
MAX_NAME = 100        # characters of a symbol's name
MAX_DIGITS = 4000     # digits of an integer
LARGE = 10**6         # an argument this large is not evaluated (Pow(10, 10**9) stays a formula)
# a symbol's name: an identifier, and a power sign after it as the course's own "sigma_B^2" has
NAME = re.compile(r"[^\W\d]\w*(\^\w+)?")
FLOAT = re.compile(r"-?(0|[1-9][0-9]{0,400})(\.[0-9]{1,400})?(e[-+]?[0-9]{1,4})?")
ASSUMPTIONS = ("real", "integer", "positive", "negative", "nonnegative", "nonpositive", "nonzero",
               "finite", "complex", "rational", "zero", "odd", "even", "prime", "commutative")


class Refused(ValueError):
    """A tree the grader does not build."""


class Unreadable(ValueError):
    """A node of a kind decode does not build (encode sends its name, and the grader says so)."""


def _kinds():
    import sympy as sp

    nary = {getattr(sp, name).__name__: getattr(sp, name) for name in (  # by class name: Eq is Equality
        "Add", "Mul", "Pow", "Tuple", "Indexed", "Sum", "Product", "Eq", "Ne", "Lt", "Le", "Gt", "Ge",
        "Derivative", "Integral", "Limit", "exp", "log", "Abs", "sign", "sin", "cos", "tan", "tanh",
        "Max", "Min", "Piecewise", "Heaviside", "floor", "ceiling", "factorial", "KroneckerDelta")}
    from sympy.functions.elementary.piecewise import ExprCondPair

    nary["ExprCondPair"] = ExprCondPair
    constants = {"Pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo, "-oo": -sp.oo, "zoo": sp.zoo, "nan": sp.nan,
                 "true": sp.true, "false": sp.false}
    return sp, nary, constants


_cache = []


def kinds():
    if not _cache:
        _cache.append(_kinds())
    return _cache[0]


# ---------------------------------------------------------------------------------------------
# The kernel's side.

def encode(expr):
    """The tree of a SymPy expression; ["Unread", kind] for one with a node decode does not build,
    or nested deeper than MAX_DEPTH."""
    sp, nary, constants = kinds()
    from sympy.core.function import AppliedUndef

    def walk(e, depth):
        if depth > MAX_DEPTH:
            raise Unreadable("nesting_too_deep")
        for name, value in constants.items():
            if e is value:
                return [name]
        if isinstance(e, sp.Integer):
            return ["Integer", int(e)]
        if isinstance(e, sp.Rational):
            return ["Rational", int(e.p), int(e.q)]
        if isinstance(e, sp.Float):
            from mpmath.libmp import to_str

            return ["Float", to_str(e._mpf_, max(1, int(e._prec * 0.302) + 2)).replace("e+", "e"),
                    int(e._prec)]
        if isinstance(e, sp.Dummy):
            return ["Dummy", e.name, _assumptions(e)]
        if isinstance(e, sp.Idx):
            return ["Idx", walk(e.label, depth + 1)] + [walk(a, depth + 1) for a in e.args[1:]]
        if isinstance(e, sp.Symbol):
            return ["Symbol", e.name, _assumptions(e)]
        if isinstance(e, sp.IndexedBase):
            return ["IndexedBase", walk(e.label, depth + 1), _assumptions(e)]
        if isinstance(e, AppliedUndef):
            return ["Function", e.func.__name__] + [walk(a, depth + 1) for a in e.args]
        name = type(e).__name__
        if name in nary and type(e) is nary[name]:
            return [name] + [walk(a, depth + 1) for a in e.args]
        raise Unreadable(name)

    try:
        return walk(expr, 0)
    except RecursionError:
        return ["Unread", "nesting_too_deep"]
    except Unreadable as unread:  # the grader says which kind it does not read
        return ["Unread", "".join(c for c in str(unread) if c.isalnum() or c == "_")[:40] or "an unknown kind"]


def _assumptions(e):
    given = getattr(e, "_assumptions_orig", None) or getattr(e, "assumptions0", {})
    return {k: bool(v) for k, v in dict(given).items() if k in ASSUMPTIONS and v is not None}


# ---------------------------------------------------------------------------------------------
# The grader's side.

def _name(value):
    if type(value) is not str or len(value) > MAX_NAME or not NAME.fullmatch(value):
        raise Refused("a symbol whose name is not an identifier")
    return value


def _flags(value):
    if type(value) is not dict or not all(k in ASSUMPTIONS and type(v) is bool for k, v in value.items()):
        raise Refused("a symbol's assumptions that are not true/false flags")
    return dict(value)


def _int(value):
    if type(value) is not int or len(str(abs(value))) > MAX_DIGITS:
        raise Refused("an integer that is not one, or too long")
    return value


def _huge_power(args):
    """Whether Pow(base, exp) of two numbers would be a number of more than MAX_DIGITS digits
    (999999**999999: seconds to compute, millions of digits)."""
    if len(args) != 2 or not all(a.is_Rational for a in args):
        return False
    base, exp = args
    size = max(abs(int(base.p)), int(base.q)).bit_length()
    return abs(exp) * size > 3.33 * MAX_DIGITS


def decode(tree):
    """The SymPy expression of a tree (see the module docstring); Refused for anything else."""
    sp, nary, constants = kinds()
    count = [0]

    def build(node, depth):
        count[0] += 1
        if count[0] > MAX_NODES or depth > MAX_DEPTH:
            raise Refused("a SymPy expression too large or too deeply nested to read")
        if type(node) is not list or not node or type(node[0]) is not str:
            raise Refused("a SymPy expression that is not a tree")
        kind, rest = node[0], node[1:]
        if kind in constants and not rest:
            return constants[kind]
        if kind == "Integer" and len(rest) == 1:
            return sp.Integer(_int(rest[0]))
        if kind == "Rational" and len(rest) == 2:
            p, q = _int(rest[0]), _int(rest[1])
            if q == 0:
                raise Refused("a fraction with denominator 0")
            return sp.Rational(p, q)
        if kind == "Float" and len(rest) == 2 and type(rest[0]) is str and FLOAT.fullmatch(rest[0]) \
                and type(rest[1]) is int and 1 <= rest[1] <= 2000:
            return sp.Float(rest[0], precision=rest[1])  # digits checked by FLOAT: parsed by mpmath, not eval
        if kind in ("Symbol", "Dummy") and len(rest) == 2:
            return (sp.Symbol if kind == "Symbol" else sp.Dummy)(_name(rest[0]), **_flags(rest[1]))
        if kind == "IndexedBase" and len(rest) == 2:
            label = build(rest[0], depth + 1)
            if type(label) is not sp.Symbol:
                raise Refused("an IndexedBase whose label is not a symbol")
            return sp.IndexedBase(label, **_flags(rest[1]))
        if kind == "Idx" and 1 <= len(rest) <= 2:
            label = build(rest[0], depth + 1)
            if not isinstance(label, sp.Symbol):
                raise Refused("an Idx whose label is not a symbol")
            return sp.Idx(label, *[build(a, depth + 1) for a in rest[1:]])
        if kind == "Unread" and rest == ["nesting_too_deep"]:
            raise Refused(f"a SymPy expression nested more than {MAX_DEPTH} levels deep, too deep to read")
        if kind == "Unread" and len(rest) == 1 and type(rest[0]) is str:
            what = rest[0][:40] if rest[0][:40].isidentifier() else "a kind of node"
            raise Refused(f"a SymPy expression with {what}, which the grader does not read")
        if kind == "Function" and rest:
            return sp.Function(_name(rest[0]))(*[build(a, depth + 1) for a in rest[1:]])
        if kind in nary:
            args = [build(a, depth + 1) for a in rest]
            if not all(isinstance(a, sp.Basic) for a in args):
                raise Refused("a SymPy expression with an argument that is not one")
            if any(isinstance(a, sp.Number) and a.is_finite and abs(a) > LARGE for a in args) \
                    or kind == "Pow" and _huge_power(args):
                with sp.evaluate(False):
                    return nary[kind](*args)
            return nary[kind](*args)
        raise Refused(f"a SymPy expression with {kind[:40]!r}, which the grader does not read")

    try:
        return build(tree, 0)
    except Refused:
        raise
    except RecursionError:
        raise Refused("a SymPy expression too deeply nested to read") from None
    except Exception as error:  # noqa: BLE001 - a constructor that refuses its (built) arguments
        raise Refused(f"a SymPy expression that could not be rebuilt ({type(error).__name__})") from None
