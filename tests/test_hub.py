"""A class on a real JupyterHub, through nbgrader's exchange, end to end.

JupyterHub (docs/jupyterhub/jupyterhub_config.py, with a test authenticator, on 127.0.0.1) runs
each user's server as that system user, and formgrader as a service of the instructor's grader
account. The instructor releases part_b (B1 and B2 only, to keep the run short) into nbgrader's
exchange (/srv/nbgrader/exchange, docs/jupyterhub/nbgrader_config.py); bn-perfect fetches and
submits from the Assignments tab in Chromium, the others with nbgrader's command line as their own
users: bn-partly hands in a realistic mistake, bn-twice the untouched release and then the
solution, bn-late the solution after the due date. The instructor collects, grades with
`course grade`, releases the feedback, and the students fetch it. The grades, the late penalty of
nbgrader_config.py and what students can and cannot reach in the exchange are checked against
the tables below.

Needs root, configurable-http-proxy, the class's system users and the exchange folder
(`bash tools/install_hub.sh`) and Chromium (`bash tools/install_browser.sh`); without them the
test skips, except in CI (env var CI set), where that fails. It empties the home folders of the
class's users (bn-instructor, bn-perfect, ...) and the exchange's batchnorm-tutorial10 folder: run
it on a test machine, not on the hub of a real class.
"""
import concurrent.futures
import csv
import datetime
import json
import os
import pwd
import secrets
import shutil
import time
from pathlib import Path

import nbformat
import pytest

import browser
import hub
from grader import democlass, grading
from hub import COURSE_ID, EXCHANGE, INSTRUCTOR, STUDENTS, as_user, home

ROOT = Path(__file__).resolve().parents[1]
PART = "part_b"
NOTEBOOKS = ("b1_forward", "b2_backward")    # the part of the release this class works on
IN_BROWSER = "bn-perfect"
NBGRADER = str(hub.SCRIPTS / "nbgrader")

# What each student hands in (democlass.demo_submission's kinds) in order; the latest counts.
HANDS_IN = {
    "bn-perfect": ["demo-perfect"],
    "bn-partly": ["demo-partly-wrong"],
    "bn-twice": ["demo-empty", "demo-perfect"],
    "bn-late": ["demo-perfect"],          # after the due date
}
# The expected table: score per notebook before the late penalty, and the penalty
# (nbgrader_config.py: 10 % per started day late; bn-late is seconds late, so one day).
# bn-partly's scores are those of the README's demo table (the first WRONG answer of answers/).
EXPECTED = {
    "bn-perfect": {"b1_forward": (10, 0), "b2_backward": (14, 0)},
    "bn-partly": {"b1_forward": (4, 0), "b2_backward": (8, 0)},
    "bn-twice": {"b1_forward": (10, 0), "b2_backward": (14, 0)},
    "bn-late": {"b1_forward": (10, 1.0), "b2_backward": (14, 1.4)},
}
MAX_SCORES = {"b1_forward": 10, "b2_backward": 14}
# nbgrader's modes for the exchange (exchange root from tools/install_hub.sh, the rest from
# nbgrader's release_assignment and release_feedback)
EXPECTED_MODES = {
    "": 0o777,
    COURSE_ID: 0o755,
    f"{COURSE_ID}/outbound": 0o755,
    f"{COURSE_ID}/inbound": 0o2733,
    f"{COURSE_ID}/feedback": 0o711,
}


def submission(kind, notebook):
    path = ROOT / "source" / PART / f"{notebook}.ipynb"
    return democlass.demo_submission(ROOT, kind, PART, path, crash=False)


def nbgrader(user, *args, cwd=None):
    return as_user(user, [NBGRADER, *args], cwd=cwd)


def at_once(*calls):
    """Run the calls (functions without arguments) at the same time, as students do; their results."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def hand_in(student, kind):
    """Write the student's answers into their fetched part_b/ (as their files), leaving out the
    notebooks this class does not work on."""
    folder = home(student) / PART
    for path in folder.glob("*.ipynb"):
        if path.stem not in NOTEBOOKS:
            path.unlink()
    for notebook in NOTEBOOKS:
        nbformat.write(submission(kind, notebook), str(folder / f"{notebook}.ipynb"))
    hub.chown_tree(folder, student)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


# --------------------------------------------------------------------------- the course on the hub

@pytest.fixture(scope="module")
def course_dir():
    """The instructor's course folder: a copy of the course with part_b cut to NOTEBOOKS, owned
    by the instructor, in their home (mode 700)."""
    hub.require_hub()
    browser.require_browser()
    shutil.rmtree(EXCHANGE / COURSE_ID, ignore_errors=True)
    for user in (INSTRUCTOR, *STUDENTS):
        hub.reset_home(user)
    root = home(INSTRUCTOR) / "course"
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for folder in ("source", "release"):
        target = root / folder / PART
        target.mkdir(parents=True)
        for path in (ROOT / folder / PART).iterdir():
            if path.suffix != ".ipynb" and path.is_file() or path.stem in NOTEBOOKS:
                shutil.copy(path, target / path.name)
    (root / "roster.csv").write_text("id,first_name,last_name\n" + "".join(
        f"{s},{s.split('-')[1].title()},Student\n" for s in STUDENTS))
    hub.chown_tree(root, INSTRUCTOR)
    return root


@pytest.fixture(scope="module")
def running_hub(course_dir, tmp_path_factory):
    the_hub = hub.Hub(tmp_path_factory.mktemp("hub"), course_dir, password=secrets.token_hex(8))
    the_hub.start()
    yield the_hub
    the_hub.stop()


class Assignments:
    """The student's JupyterLab on the hub, with nbgrader's Assignments tab open."""

    def __init__(self, page, the_hub, user):
        self.page, self.hub, self.user = page, the_hub, user

    def login(self):
        page = self.page
        page.goto(f"{self.hub.base}/hub/login")
        page.fill("#username_input", self.user)
        page.fill("#password_input", self.hub.password)
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{self.user}/lab**", timeout=hub.TIMEOUT * 1000)
        page.locator("#jp-mainmenu-nbgrader, .lm-MenuBar-item:has-text('Nbgrader')").first.wait_for(
            timeout=hub.TIMEOUT * 1000)

    def open(self):
        self.page.locator(".lm-MenuBar-item:has-text('Nbgrader')").first.click()
        self.page.locator(".lm-Menu-item:has-text('Assignment List')").first.click()
        self.page.locator("#released_assignments_list").wait_for(timeout=30_000)

    def refresh(self):
        self.page.click("#refresh_assignments_list")

    def row(self, section):
        return self.page.locator(f"#{section}_assignments_list .list_item:has-text('{PART}')").first

    def click(self, section, button, then):
        """Click `button` in the part_b row of `section`, then wait for `then` (a locator)."""
        self.row(section).get_by_role("button", name=button, exact=True).click()
        then.wait_for(timeout=hub.TIMEOUT * 1000)


@pytest.fixture(scope="module")
def cycle(running_hub, course_dir):
    """The whole class, step by step; returns what the checks need."""
    from playwright.sync_api import sync_playwright

    out = {"modes": {}, "denied": {}, "allowed": {}, "timestamps": {}, "steps": {}}
    clock = [time.monotonic()]

    def step(name):  # how long each step took, printed with pytest -s
        now = time.monotonic()
        out["steps"][name] = round(now - clock[0], 1)
        print(f"hub test: {name} {now - clock[0]:.1f} s", flush=True)
        clock[0] = now
    teacher = dict(cwd=course_dir)
    nbgrader(INSTRUCTOR, "db", "student", "import", "roster.csv", **teacher)
    nbgrader(INSTRUCTOR, "release_assignment", PART, **teacher)
    step("release")

    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        page = chromium.new_page(viewport=browser.VIEWPORT)
        tab = Assignments(page, running_hub, IN_BROWSER)
        tab.login()
        step("login and spawn")
        out["server_pid"] = running_hub.server_pid(IN_BROWSER)
        tab.open()
        tab.click("released", "Fetch", tab.row("fetched"))
        at_once(*(lambda s=s: nbgrader(s, "fetch_assignment", PART) for s in STUDENTS if s != IN_BROWSER))
        out["fetched"] = {s: sorted(p.name for p in (home(s) / PART).glob("*.ipynb")) for s in STUDENTS}
        step("fetch")

        # hand in, in this order; bn-twice twice, bn-late after the due date
        hand_in(IN_BROWSER, HANDS_IN[IN_BROWSER][0])
        tab.click("fetched", "Submit", tab.row("submitted"))
        hand_in("bn-partly", HANDS_IN["bn-partly"][0])
        hand_in("bn-twice", HANDS_IN["bn-twice"][0])
        at_once(lambda: nbgrader("bn-partly", "submit", PART), lambda: nbgrader("bn-twice", "submit", PART))
        hand_in("bn-twice", HANDS_IN["bn-twice"][1])
        nbgrader("bn-twice", "submit", PART)
        out["duedate"] = utc_now()
        nbgrader(INSTRUCTOR, "db", "assignment", "add", PART, f"--duedate={out['duedate']}", **teacher)
        time.sleep(0.1)
        hand_in("bn-late", HANDS_IN["bn-late"][0])
        nbgrader("bn-late", "submit", PART)
        step("submit")

        # what a student can reach in the exchange, and of the instructor's course
        inbound = EXCHANGE / COURSE_ID / "inbound"
        others = sorted(p for p in inbound.iterdir() if p.name.startswith("bn-perfect+"))
        probes = {
            "list the inbound folder": ["ls", inbound],
            "list the feedback folder": ["ls", EXCHANGE / COURSE_ID / "feedback"],
            "read the instructor's source": ["cat", course_dir / "source" / PART / "b1_forward.ipynb"],
            "read the instructor's gradebook": ["cat", course_dir / "gradebook.db"],
            "change the release in outbound": ["touch", EXCHANGE / COURSE_ID / "outbound" / PART / "b1_forward.ipynb"],
            "read another student's fetched copy": ["cat", home("bn-perfect") / PART / "b1_forward.ipynb"],
            "read another student's local copy of the submission":
                ["ls", home("bn-perfect") / ".local" / "share" / "jupyter" / "nbgrader_cache"],
        }
        out["denied"] = {what: as_user("bn-partly", args, check=False).returncode != 0
                         for what, args in probes.items()}
        out["allowed"] = {what: as_user("bn-partly", args, check=False).returncode == 0 for what, args in {
            "list the released assignment": ["ls", EXCHANGE / COURSE_ID / "outbound" / PART],
        }.items()}
        out["inbound"] = sorted(p.name for p in inbound.iterdir())
        out["submitted_by_perfect"] = [str(p) for p in others]
        step("permission probes")

        # the instructor: collect, grade, release the feedback
        out["collect"] = nbgrader(INSTRUCTOR, "collect", PART, **teacher).stdout
        step("collect")
        out["submitted"] = {s: sorted(p.name for p in (course_dir / "submitted" / s / PART).iterdir())
                            for s in STUDENTS}
        out["timestamps"] = {s: (course_dir / "submitted" / s / PART / "timestamp.txt").read_text().strip()
                             for s in STUDENTS}
        grade = as_user(INSTRUCTOR, [hub.SCRIPTS / "python", "-m", "grader", "grade", "--jobs", "2",
                                     "--json", "grades.json"], cwd=course_dir, timeout=600)
        step("course grade")
        out["grade_stdout"] = grade.stdout
        out["grades"] = json.loads((course_dir / "grades.json").read_text())
        with open(course_dir / "exports" / "grades.csv", newline="") as f:
            out["export"] = list(csv.DictReader(f))
        nbgrader(INSTRUCTOR, "release_feedback", PART, **teacher)
        step("release_feedback")
        for path in EXPECTED_MODES:
            out["modes"][path] = (EXCHANGE / path).stat().st_mode & 0o7777
        out["denied"]["list the feedback folder"] = as_user(
            "bn-partly", ["ls", EXCHANGE / COURSE_ID / "feedback"], check=False).returncode != 0

        # formgrader, as a hub service: for the teaching team only
        tokens = {user: running_hub.user_token(user) for user in (INSTRUCTOR, "bn-partly")}
        out["formgrader"] = {user: running_hub.get(f"/services/{COURSE_ID}/formgrader", token)[0]
                             for user, token in tokens.items()}
        status, body = running_hub.get(f"/services/{COURSE_ID}/formgrader/api/assignments", tokens[INSTRUCTOR])
        out["formgrader_assignments"] = json.loads(body) if status == 200 else body

        # the students fetch their feedback: one in the browser, the others on the command line
        at_once(*(lambda s=s: nbgrader(s, "fetch_feedback", PART) for s in STUDENTS if s != IN_BROWSER))
        tab.refresh()
        tab.click("submitted", "Fetch Feedback",
                  page.locator("#submitted_assignments_list :text('view feedback')").first)
        page.wait_for_timeout(300)
        out["screenshot"] = browser.screenshot(page, "hub-assignments-feedback")
        step("fetch feedback")
        chromium.close()

    out["feedback"] = {}
    for student in STUDENTS:
        pages = sorted((home(student) / PART / "feedback").rglob("*.html"))
        out["feedback"][student] = {p.stem: (p.parent.name, p.read_text()) for p in pages}
    return out


# --------------------------------------------------------------------------- checks

def test_servers_run_as_their_users(running_hub, cycle):
    """LocalProcessSpawner: the student's server is a process of the student's system user."""
    pid = cycle["server_pid"]
    assert pid, f"the hub reports no server process for {IN_BROWSER}"
    uid = Path(f"/proc/{pid}").stat().st_uid if Path(f"/proc/{pid}").exists() else None
    assert uid == pwd.getpwnam(IN_BROWSER).pw_uid, (
        f"{IN_BROWSER}'s server (pid {pid}) runs as uid {uid}, not as {IN_BROWSER}: "
        "the exchange's permissions would not be tested")


def test_every_student_fetched_the_release(cycle):
    want = sorted(p.name for p in (ROOT / "release" / PART).glob("*.ipynb") if p.stem in NOTEBOOKS)
    for student, names in cycle["fetched"].items():
        assert names == want, f"{student} fetched {names}, expected the release's {want}"


def test_exchange_has_nbgrader_modes(cycle):
    wrong = {p or "(root)": f"{m:o}" for p, m in cycle["modes"].items() if m != EXPECTED_MODES[p]}
    assert not wrong, (f"exchange folders with other modes than nbgrader's "
                       f"(expected {{{', '.join(f'{p or chr(47)}: {m:o}' for p, m in EXPECTED_MODES.items())}}}): {wrong}")


def test_students_cannot_reach_each_other_or_the_instructor(cycle):
    allowed = [what for what, denied in cycle["denied"].items() if not denied]
    assert not allowed, f"bn-partly could {allowed} (each should be denied by file permissions)"
    refused = [what for what, ok in cycle["allowed"].items() if not ok]
    assert not refused, f"bn-partly could not {refused}"
    assert len(cycle["submitted_by_perfect"]) == 1, (
        f"expected one submission of bn-perfect in inbound, found {cycle['inbound']}")


def test_collect_meets_course_grade_layout(cycle):
    """nbgrader collect writes submitted/<student>/part_b/, the layout `course grade` reads: the
    notebooks, what else the assignment hands out (conventions.md) and nbgrader's own files."""
    handed_out = [p.name for p in (ROOT / "release" / PART).iterdir() if p.is_file() and p.suffix != ".ipynb"]
    want = sorted([f"{n}.ipynb" for n in NOTEBOOKS] + list(grading.SUBMISSION_FILES) + handed_out)
    for student, names in cycle["submitted"].items():
        assert names == want, f"submitted/{student}/{PART}/ holds {names}, expected {want}"
    twice = sorted(n for n in cycle["inbound"] if n.startswith("bn-twice+"))
    assert len(twice) == 2, f"expected two submissions of bn-twice in inbound, found {twice}"
    latest = max(n.split("+")[2] for n in twice)
    assert cycle["timestamps"]["bn-twice"] == latest, (
        f"collect kept bn-twice's submission of {cycle['timestamps']['bn-twice']}, not the latest ({latest})")


def test_grades_match_the_expected_table(cycle):
    got = {}
    for student, scores in cycle["grades"].items():
        got[student] = {name.split("/")[1]: score for name, score in scores.items()
                        if name.split("/")[1] in NOTEBOOKS}
    by_student = {}
    for row in cycle["export"]:
        if row["assignment"] == PART:
            by_student[row["student_id"]] = row
    for student, expected in EXPECTED.items():
        scores = {nb: score for nb, (score, _) in expected.items()}
        assert got.get(student) == scores, (
            f"{student}: course grade gave {got.get(student)}, expected {scores}\n{cycle['grade_stdout']}")
        penalty = sum(p for _, p in expected.values())
        row = by_student.get(student)
        assert row is not None, f"{student} is missing from exports/grades.csv"
        assert float(row["late_submission_penalty"]) == pytest.approx(penalty), (
            f"{student}: late penalty {row['late_submission_penalty']} in the export, expected {penalty:g} "
            f"(due {cycle['duedate']}, submitted {cycle['timestamps'][student]})")
        assert float(row["score"]) == pytest.approx(sum(scores.values()) - penalty), (
            f"{student}: score {row['score']} in the export, expected {sum(scores.values()) - penalty:g}")
    assert "bn-late part_b/b1_forward: 1 points off" in cycle["grade_stdout"], (
        f"course grade does not list bn-late's penalty after its table:\n{cycle['grade_stdout']}")
    assert "files not graded" not in cycle["grade_stdout"], (
        f"course grade took nbgrader's own files of a submission for the student's:\n{cycle['grade_stdout']}")


def test_students_see_their_feedback(cycle):
    wrong = democlass._load_answers(ROOT, PART, "b1_forward")[0]
    for student, expected in EXPECTED.items():
        pages = cycle["feedback"][student]
        assert sorted(pages) == sorted(NOTEBOOKS), f"{student} fetched feedback for {sorted(pages)}"
        assert {stamp for stamp, _ in pages.values()} == {cycle["timestamps"][student]}, (
            f"{student}'s feedback is for {pages and next(iter(pages.values()))[0]}, "
            f"not for the collected submission of {cycle['timestamps'][student]}")
        for notebook, (score, penalty) in expected.items():
            text = pages[notebook][1]
            shown = f"{notebook} (Score: {score - penalty:.1f} / {MAX_SCORES[notebook]:.1f})"
            assert shown in text, f"{student}'s feedback for {notebook} does not show {shown!r}"
            if penalty:
                late = f"Late submission penalty (Score: {-penalty:.1f})"
                assert late in text, f"{student}'s feedback for {notebook} does not show {late!r}"
    assert wrong.says in cycle["feedback"]["bn-partly"]["b1_forward"][1], (
        f"bn-partly's feedback for b1_forward lacks the grader's message ({wrong.says!r})")
    assert "BEGIN HIDDEN TESTS" not in cycle["feedback"]["bn-partly"]["b1_forward"][1]


def test_formgrader_is_for_the_teaching_team(cycle):
    codes = cycle["formgrader"]
    assert codes[INSTRUCTOR] == 200 and codes["bn-partly"] == 403, (
        f"formgrader service answered {codes}; expected 200 for {INSTRUCTOR}, 403 for a student")
    listed = {a.get("name"): a for a in cycle["formgrader_assignments"]} \
        if isinstance(cycle["formgrader_assignments"], list) else cycle["formgrader_assignments"]
    assert isinstance(listed, dict) and listed.get(PART, {}).get("num_submissions") == len(STUDENTS), (
        f"formgrader (the service, in the course folder) should list {PART} with {len(STUDENTS)} "
        f"collected submissions; its API gave {listed}")


def test_screenshot_of_the_assignments_tab(cycle):
    shot = Path(cycle["screenshot"])
    assert shot.stat().st_size > 10_000, f"{shot} looks empty"


# --------------------------------------------------------------------------- the documented configuration

def _hub_config(**env):
    """docs/jupyterhub/jupyterhub_config.py as JupyterHub loads it, with these environment variables."""
    from unittest import mock

    from traitlets.config.loader import PyFileConfigLoader

    with mock.patch.dict(os.environ, env):
        return PyFileConfigLoader(hub.HUB_CONFIG.name, path=str(hub.DOCS)).load_config()


def test_helm_values_match_the_tested_configuration():
    """The Zero to JupyterHub values give the course, the formgrader role and the nbgrader
    settings of the configuration the hub test runs (ngshare replaces the shared folder there)."""
    import yaml

    values = yaml.safe_load((hub.DOCS / "z2jh-values.yaml").read_text())
    config = _hub_config(COURSE_INSTRUCTORS="alice-instructor bob-ta")
    roles = {r["name"]: r for r in config.JupyterHub.load_roles}
    helm_role = values["hub"]["loadRoles"]["formgrader"]
    assert helm_role["scopes"] == roles["formgrader"]["scopes"] and helm_role["groups"] == roles["formgrader"]["groups"], (
        f"the Helm values' formgrader role {helm_role} differs from jupyterhub_config.py's {roles['formgrader']}")
    service = config.JupyterHub.services[0]["name"]
    assert service == COURSE_ID and service in values["hub"]["services"], (
        f"the formgrader service is {service!r} in jupyterhub_config.py, "
        f"{sorted(values['hub']['services'])} in the Helm values; both should be {COURSE_ID!r}")
    groups = values["hub"]["extraConfig"]["course-groups.py"]
    assert f"c.JupyterHub.load_groups = {config.JupyterHub.load_groups!r}".replace("'", '"') in groups, (
        f"the Helm values' groups ({groups.strip()}) differ from jupyterhub_config.py's "
        f"{config.JupyterHub.load_groups}")
    assert values["singleuser"]["defaultUrl"] == config.Spawner.default_url
    nbgrader_config = values["singleuser"]["extraFiles"]["nbgrader-config"]["stringData"]
    course_line = next(line for line in (hub.DOCS / "nbgrader_config.py").read_text().splitlines()
                       if line.startswith("c.CourseDirectory.course_id"))
    assert course_line in nbgrader_config, (
        f"the Helm values' nbgrader_config.py lacks {course_line!r} of docs/jupyterhub/nbgrader_config.py")
    assert f'"{COURSE_ID}"' in course_line, f"docs/jupyterhub/nbgrader_config.py names another course: {course_line}"


def test_formgrader_service_uses_the_class_gradebook_url():
    config = _hub_config(COURSE_DB_URL="postgresql+psycopg://grader@db/batchnorm")
    env = config.JupyterHub.services[0]["environment"]
    assert env.get("COURSE_DB_URL") == "postgresql+psycopg://grader@db/batchnorm", (
        f"formgrader's environment {env} does not pass on COURSE_DB_URL, so it would grade "
        "in another gradebook than `course grade`")
