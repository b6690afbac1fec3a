"""The gradebook on PostgreSQL: a parallel grading of the sample class gives the grades SQLite gives.

Needs a server: COURSE_TEST_DB_URL names one (CI starts it with tools/start_postgres.sh, e.g.
postgresql+psycopg://course@127.0.0.1:54321/gradebook) and the psycopg driver. Without them the
test is skipped, unless COURSE_REQUIRE_POSTGRES is set (as in CI), where it fails instead.
"""
import os
import uuid

import pytest

import sample_class
from class_fixture import graded_class  # noqa: F401 (a fixture)
from test_grading import copy_course

# One student of each kind the grader treats differently: honest, wrong, a dead kernel, a
# missing and a broken notebook, an odd name, cheats.
STUDENTS = ["honest-perfect", "honest-empty", "wrong-3", "fault-kernel-dies", "fault-missing-notebook",
            "fault-broken-files", "fault-edited-tests", "o'brien", "cheat-input-transformer",
            "cheat-test-helpers", "cheat-hidden-names", "cheat-agreeable-objects"]


def _server():
    url = os.environ.get("COURSE_TEST_DB_URL", "")
    why = ""
    if not url.startswith("postgresql"):
        why = "no PostgreSQL server: set COURSE_TEST_DB_URL (tools/start_postgres.sh prints one)"
    else:
        try:
            import sqlalchemy

            sqlalchemy.create_engine(url).connect().close()
        except Exception as error:  # noqa: BLE001
            why = f"PostgreSQL at {url} unusable: {error}"
    if why:
        if os.environ.get("COURSE_REQUIRE_POSTGRES"):
            pytest.fail(why)
        pytest.skip(why)
    return url


@pytest.fixture()
def fresh_database():
    """A new, empty database on the server, dropped afterwards."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(_server())
    name = f"course_test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_parallel_grading_on_postgresql_matches_sqlite(fresh_database, tmp_path, request):
    # the SQLite grading of the class is asked for only now: no server, no grading at all
    root_sqlite, subs, sqlite_grades, expected = request.getfixturevalue("graded_class")
    root = copy_course(tmp_path, notebooks=sample_class.SMALL_COURSE)
    _, grades = sample_class.grade_sample_class(root, jobs=2, db_url=fresh_database, students=STUDENTS)
    assert grades.failures == {}
    assert sample_class.scores(grades) == {s: sample_class.scores(sqlite_grades)[s] for s in STUDENTS}
    assert ({s: [r.problem for r in grades[s]] for s in STUDENTS}
            == {s: [r.problem for r in sqlite_grades[s]] for s in STUDENTS})
    from nbgrader.api import Gradebook

    with Gradebook(fresh_database, "batchnorm-tutorial10") as gb:
        assert sorted(s.id for s in gb.students) == sorted(STUDENTS)
    assert not (root / "gradebook.db").exists(), "nothing went to SQLite"
    assert (root / "exports" / "grades.csv").read_text().count("part_b") == len(STUDENTS)
