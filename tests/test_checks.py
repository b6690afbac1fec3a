"""The hidden checks library (grader/checks): every hidden section of a source notebook is an
import of its own notebook's module and calls into it, every check there is called, and the
references agree with finite differences."""
import ast
import importlib
import inspect

import numpy as np
import pytest

import nbrun
from grader.checks import reference

NOTEBOOKS = sorted(str(p.relative_to(nbrun.ROOT / "source")) for p in (nbrun.ROOT / "source").glob("part_*/*.ipynb"))


def _module_name(notebook):
    part, name = notebook[:-len(".ipynb")].split("/")
    return f"grader.checks.{part}.{name}"


def _hidden_sections(notebook):
    """[(grade_id, hidden code)] of the notebook's test cells."""
    sections = []
    for cell in nbrun.load(notebook).cells:
        if nbrun.meta(cell).get("grade") and "### BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            sections.append((nbrun.grade_id(cell), hidden))
    return sections


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_hidden_sections_are_calls_into_the_notebooks_own_checks_module(notebook):
    """`from grader.checks.part_x import <notebook> as _checks`, then `_checks.test_...(...)`: no
    hidden code lives in notebook JSON, and the section binds one name, _checks (in the grader's
    namespace; with plain nbgrader in the kernel, where no student helper is called that)."""
    module = _module_name(notebook)
    package, name = module.rsplit(".", 1)
    for grade_id, hidden in _hidden_sections(notebook):
        tree = ast.parse(hidden)
        first, calls = tree.body[0], tree.body[1:]
        assert isinstance(first, ast.ImportFrom) and first.module == package and \
            [(a.name, a.asname) for a in first.names] == [(name, "_checks")], (
                f"{grade_id}: the hidden section starts with `from {package} import {name} as _checks`")
        assert calls, f"{grade_id}: the hidden section calls no check"
        for statement in calls:
            call = statement.value if isinstance(statement, ast.Expr) else None
            assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and \
                isinstance(call.func.value, ast.Name) and call.func.value.id == "_checks", (
                    f"{grade_id}: `{ast.unparse(statement)}` is not a call of a check (_checks.test_...(...))")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_check_of_a_module_is_called_and_exists(notebook):
    module = importlib.import_module(_module_name(notebook))
    called = set()
    for grade_id, hidden in _hidden_sections(notebook):
        for node in ast.walk(ast.parse(hidden)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_checks":
                assert callable(getattr(module, node.attr, None)), f"{grade_id} calls {node.attr}, which {module.__name__} lacks"
                called.add(node.attr)
    checks = {name for name, value in vars(module).items()
              if name.startswith("test_") and inspect.isfunction(value) and value.__module__ == module.__name__}
    assert checks <= called, f"{module.__name__} has checks no hidden section calls: {sorted(checks - called)}"


def test_the_references_agree_with_finite_differences():
    rng = np.random.default_rng(0)
    x, dout = rng.normal(1.0, 2.0, (6, 4)), rng.normal(size=(6, 4))
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.normal(size=4)
    out, cache = reference.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = reference.batchnorm_backward(dout, cache)
    numeric = reference.numerical_gradient(lambda z: reference.batchnorm_forward(z, gamma, beta)[0], x, dout)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(reference.batchnorm_staged(dout, cache, *reference.INVERSE_STD), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, reference.numerical_gradient(
        lambda g: reference.batchnorm_forward(x, g, beta)[0], gamma, dout), rtol=1e-6)
    np.testing.assert_allclose(dbeta, dout.sum(axis=0))
    assert [np.shape(part) for part in cache[:5]] == [(6, 4), (6, 4), (4,), (4,), (4,)]
    for axes in [(1,)]:
        ln_dx = reference.layernorm_backward(x, gamma, dout, axes)[0]
        ln_numeric = reference.numerical_gradient(lambda z, axes=axes: reference.layernorm_forward(z, gamma, beta, axes), x, dout)
        np.testing.assert_allclose(ln_dx, ln_numeric, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(reference.layernorm_staged(x, gamma, dout, axes, *reference.INVERSE_STD), ln_dx,
                                   rtol=1e-9, atol=1e-12)
    # inference with the batch's own statistics is the training output
    np.testing.assert_allclose(reference.batchnorm_inference(x, gamma, beta, x.mean(0), x.var(0)), out, rtol=1e-12)
    np.testing.assert_allclose(reference.running_average([1.0, 1.0], 0.5, 0.0), [0.5, 0.75])
