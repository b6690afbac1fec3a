"""The project installs as described: pyproject, environment.yml and constraints agree."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement):
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _conda_names():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    return names - {"python", "pip"}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = _pyproject()["project"]
    wanted = {_name(d) for d in project["dependencies"] + project["optional-dependencies"]["test"]}
    assert _conda_names() == wanted, (
        f"only in environment.yml: {sorted(_conda_names() - wanted)}; "
        f"only in pyproject.toml: {sorted(wanted - _conda_names())}")


def test_environment_yml_installs_the_course_with_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
    assert "python=3.11" in env["dependencies"]


def test_nbgrader_is_pinned_the_same_everywhere():
    pinned = [d for d in _pyproject()["project"]["dependencies"] if _name(d) == "nbgrader"]
    assert pinned == ["nbgrader==0.9.6"]
    assert "nbgrader=0.9.6" in (ROOT / "environment.yml").read_text()


def test_constraints_pin_every_runtime_dependency_exactly():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    for requirement in _pyproject()["project"]["dependencies"]:
        assert _name(requirement) in pins, f"{_name(requirement)} is not pinned in constraints.txt"


def test_package_name_cannot_clash_and_import_name_is_course():
    project = _pyproject()
    assert project["project"]["name"] == "batchnorm-tutorial10-course"
    assert project["tool"]["setuptools"]["packages"] == ["course"]
    assert project["project"]["scripts"]["course"] == "course.cli:main"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run test" in ci
    assert "./run test" in (ROOT / "README.md").read_text()
    assert "./run demo" in (ROOT / "README.md").read_text()
