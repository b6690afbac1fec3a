"""SymPy expressions cross as trees (course.symtree): built from an allow-list, never from text.

A kernel that sends a tree is hostile: a string anywhere but a symbol's name (an identifier) or a
float's digits (a grammar) is refused before any SymPy constructor runs, so nothing reaches
sympify (which is eval) or a constructor that sympifies its arguments.
"""
import json
from unittest import mock

import pytest
import sympy as sp

from course import symbolic, symtree
from course.symtree import Refused, decode, encode

HOSTILE = "__import__('os').system('touch /tmp/pwned')"


def course_expressions():
    """The kinds of expressions Part A's answers are made of, in the course's own symbols."""
    S = symbolic.symbols()
    x, i, j, m, eps, gamma, beta = (S[n] for n in ("x", "i", "j", "m", "eps", "gamma", "beta"))
    mean = sp.Sum(x[j], (j, 1, m)) / m
    var = sp.Sum((x[j] - mean) ** 2, (j, 1, m)) / m
    return [mean, var, gamma * (x[i] - mean) / sp.sqrt(var + eps) + beta, sp.Rational(-1, 2) * (var + eps) ** sp.Rational(-3, 2),
            sp.Float("1e-5") * gamma, S["momentum"] * S["running_mean"] + (1 - S["momentum"]) * mean,
            sp.Symbol("γ_unicode", real=True) + sp.Symbol("sqrt"), sp.Eq(gamma, beta),
            sp.Derivative(gamma ** 2, gamma), sp.Function("f")(gamma), sp.pi * sp.E + sp.I - sp.oo,
            sp.Piecewise((gamma, gamma > 0), (beta, True)), sp.Max(gamma, beta) + sp.Abs(beta) + sp.exp(-gamma)]


@pytest.mark.parametrize("expr", course_expressions(), ids=str)
def test_the_courses_expressions_cross_unchanged(expr):
    tree = encode(expr)
    assert decode(json.loads(json.dumps(tree))) == expr


def _with_strings(tree):
    """Copies of a tree with a hostile string put in each place, one at a time."""
    if type(tree) is list:
        for index in range(1, len(tree)):
            yield tree[:index] + [HOSTILE] + tree[index + 1:]
            for inner in _with_strings(tree[index]):
                yield tree[:index] + [inner] + tree[index + 1:]
    elif type(tree) is dict:
        yield {**tree, HOSTILE: True}
        for key in tree:
            yield {**tree, key: HOSTILE}


def _allowed(tree):
    """Whether every string in a tree is where decode reads one: a kind, a name, a float's digits."""
    if type(tree) is not list:
        return True
    kind = tree[0] if tree else None
    rest = tree[1:]
    if kind in ("Symbol", "Dummy", "Function") and rest and type(rest[0]) is str:
        return bool(symtree.NAME.fullmatch(rest[0])) and all(_allowed(a) for a in rest[1:])
    if kind == "Float":
        return True
    return all(_allowed(a) for a in rest)


def every_kind():
    """A tree of every kind decode builds."""
    _, nary, constants = symtree.kinds()
    g = ["Symbol", "g", {"real": True}]
    trees = [[name] for name in constants] + [
        ["Integer", 3], ["Rational", 1, 3], ["Float", "1.5", 53], g, ["Dummy", "d", {}],
        ["IndexedBase", g, {}], ["Idx", g], ["Function", "f", g], ["Tuple", g, ["Integer", 1]]]
    for name in nary:
        trees.append([name, g, ["Integer", 2]] if name not in ("Piecewise", "ExprCondPair") else
                     [name, g, ["true"]])
    return trees


@pytest.mark.parametrize("tree", every_kind(), ids=lambda t: t[0])
def test_a_string_in_any_place_of_any_kind_is_refused_before_a_constructor_runs(tree):
    sympified = []
    real_sympify = sp.sympify

    def spy(value, *args, **kwargs):
        if isinstance(value, str):
            sympified.append(value)
        return real_sympify(value, *args, **kwargs)

    with mock.patch("sympy.sympify", spy), mock.patch("sympy.core.sympify.sympify", spy):
        for hostile in _with_strings(tree):
            if _allowed(hostile):
                continue  # the string went where a name or digits go: checked there
            with pytest.raises(Refused):
                decode(hostile)
    assert sympified == []


@pytest.mark.parametrize("name", ["x+y", HOSTILE, "", "x" * 1000, "1x", "a b", None, 3])
def test_a_name_that_is_not_an_identifier_is_refused(name):
    for kind in ("Symbol", "Dummy"):
        with pytest.raises(Refused):
            decode([kind, name, {}])
    with pytest.raises(Refused):
        decode(["Function", name, ["Integer", 1]])


@pytest.mark.parametrize("digits", ["1e5; import os", "nan", "inf", "1_0", " 1", "0x10", "1e99999"])
def test_a_float_whose_digits_are_not_a_decimal_is_refused(digits):
    with pytest.raises(Refused):
        decode(["Float", digits, 53])


def test_names_that_shadow_sympy_functions_are_plain_symbols():
    for name in ("sqrt", "Sum", "eval", "sympify", "__import__"):
        assert decode(["Symbol", name, {}]) == sp.Symbol(name)


def test_huge_and_deep_trees_are_refused_quickly():
    deep = ["Integer", 1]
    for _ in range(1000):
        deep = ["Add", deep, ["Integer", 1]]
    with pytest.raises(Refused, match="too large or too deeply"):
        decode(deep)
    with pytest.raises(Refused, match="too large"):
        decode(["Add"] + [["Symbol", f"s{n}", {}] for n in range(symtree.MAX_NODES + 1)])
    with pytest.raises(Refused):
        decode(["Integer", 10 ** 5000])
    assert isinstance(decode(["Pow", ["Integer", 10], ["Integer", 10**9]]), sp.Pow)


def test_an_expression_too_deep_to_encode_is_refused_as_too_deep():
    """The kernel's encoder stops at MAX_DEPTH (or at Python's own recursion limit, whichever comes
    first: on 3.13 it comes earlier) and the grader's message says the answer is nested too deeply."""
    x = sp.Symbol("x")
    deep = x
    for _ in range(symtree.MAX_DEPTH + 5):
        deep = sp.Tuple(deep)
    tree = symtree.encode(deep)
    assert tree == ["Unread", "nesting_too_deep"]
    with pytest.raises(Refused, match="too deep"):
        decode(tree)


@pytest.mark.parametrize("tree", [None, 3, "Add", [], [3], ["Nope"], ["Add", 3], ["Add", True],
                                  ["Rational", 1, 0], ["Symbol", "x", {"real": "yes"}], ["Symbol", "x", {"evaluate": True}],
                                  ["Integer", 1.5], ["Integer", True], ["IndexedBase", ["Integer", 1], {}],
                                  ["Unread", "floor"]])
def test_what_is_not_a_tree_of_the_allow_list_is_refused(tree):
    with pytest.raises(Refused):
        decode(tree)


def test_a_kind_the_grader_does_not_read_is_named():
    tree = encode(sp.gamma(sp.Symbol("x")))  # SymPy's gamma function: not a kind of the course's
    with pytest.raises(Refused, match="gamma"):
        decode(tree)
