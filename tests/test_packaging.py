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


def test_the_digits_are_installed_with_the_package(tmp_path):
    """course.data reads course/digits.npz: setuptools must copy it next to the modules (package-data)."""
    import shutil
    import subprocess
    import sys

    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "course", source / "course", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(tmp_path / "lib")],
        cwd=source, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    built = sorted(p.name for p in (tmp_path / "lib" / "course").iterdir())
    assert "digits.npz" in built, (
        f"the built package holds {built} but not digits.npz: list it under [tool.setuptools.package-data]")


def test_the_digits_file_holds_the_uci_test_set():
    """course/digits.npz: the 1797 images of the UCI "Optical Recognition of Handwritten Digits" test set."""
    import hashlib

    import numpy as np

    with np.load(ROOT / "course" / "digits.npz") as data:
        assert sorted(data.files) == ["X", "y"]
        X, y = data["X"], data["y"]
    assert X.dtype == np.uint8 and X.shape == (1797, 64) and X.min() == 0 and X.max() == 16
    assert y.dtype == np.uint8 and y.shape == (1797,)
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    digest = hashlib.sha256(np.ascontiguousarray(X).tobytes() + y.tobytes()).hexdigest()
    assert digest == "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826", "the digits changed"
