"""The class report: what the class got wrong, read from the gradebook and the graded notebooks.

After grading, a teaching team asks what the class got wrong and what to say in the next
lecture. The course's checks name the mistake behind most failures (course.testing's
`mistakes={...}`: "Your out matches what you get when the variance divides by N-1"; the
symbolic checks of Part A: "This is what you get when ..."); here those names are tallied
over the class, test by test, next to the score distributions, the written answers that
wait for a grader and the notebooks that could not be graded.

    collect(root)          -> ClassReport: every number, from the gradebook, autograded/ and
                              the last grading runs' results (exports/grading-results.json)
    summary(report)        -> the short terminal summary (str)
    write_html(report, p)  -> one self-contained HTML page (plots embedded, math as MathML)
    save_results(root, grades)  keep what a grading run found that the gradebook does not hold
                              (why a notebook was not graded, what was flagged for review)

Numbers are never typed in: scores and pass rates come from nbgrader's gradebook, the failure
messages from the error outputs of the autograded notebooks' test cells.
"""
import base64
import html
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course import grading, mathml

RESULTS = Path("exports") / "grading-results.json"
REPORT = Path("exports") / "class-report.html"

# The sentences with which course.testing and course.symbolic name a known mistake.
MISTAKE_PATTERNS = (
    re.compile(r"matches what you get when (.+?)\.?\s*$", re.M),   # course.testing.check_array
    re.compile(r"This is what you get when (.+?)\.?\s*$", re.M),   # course.symbolic.check
)
NOT_ANSWERED = "not answered (the answer cell still raises NotImplementedError)"
ANSWER_FAILS = "the answer cell itself fails: {}"
NOT_RECOGNISED = "not recognised"
LOWER_IN_RERUN = "scored lower in the definitions-only re-run (see the review list)"
FORMGRADER = "http://localhost:8888/formgrader/gradebook/{assignment}/{notebook}"


def mistake_of(message, answer_error=""):
    """What a failing test's message says went wrong: the name of the known mistake it reports;
    else, when an answer cell of the notebook raised (answer_error, "ename: evalue"), that error
    (NOT_ANSWERED for the release stub's NotImplementedError); else NOT_RECOGNISED.
    message: "ename: evalue" of the test cell's error."""
    for pattern in MISTAKE_PATTERNS:
        found = pattern.search(message)
        if found:
            return found.group(1).strip()
    if "NotImplementedError" in (answer_error or message):
        return NOT_ANSWERED
    if answer_error:
        return ANSWER_FAILS.format(answer_error.strip().splitlines()[0][:120])
    return NOT_RECOGNISED


# --------------------------------------------------------------------------- grading results

def save_results(root, grades):
    """Merge what this grading run found that the gradebook does not hold (per student: why a
    notebook was not graded, what was flagged for review, a failure of the grader itself) into
    exports/grading-results.json; students not graded in this run keep their entry."""
    path = Path(root) / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.is_file() else {}
    failures = getattr(grades, "failures", {})
    for student, rows in grades.items():
        results[student] = {
            "notebooks": {r.name: {"problem": r.problem, "flags": list(r.flags)} for r in rows
                          if r.problem or r.flags},
            "error": failures.get(student, ""),
        }
    path.write_text(json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False))
    return path


def _load_results(root):
    path = Path(root) / RESULTS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- the numbers

@dataclass
class TestStats:
    """One graded test cell over the class."""
    assignment: str
    notebook: str
    grade_id: str
    points: float
    heading: str = ""                                   # the markdown heading above the cell
    graded: int = 0                                     # students whose notebook was graded
    passed: int = 0
    failures: dict = field(default_factory=dict)        # mistake -> [student]
    examples: dict = field(default_factory=dict)        # mistake -> an anonymised message

    @property
    def label(self):
        return test_label(self.notebook, self.grade_id)

    def ranked(self):
        """[(mistake, students, example)], most students first, 'not recognised' last."""
        return sorted(((m, s, self.examples.get(m, "")) for m, s in self.failures.items()),
                      key=lambda t: (t[0] == NOT_RECOGNISED, -len(t[1]), t[0]))


@dataclass
class NotebookStats:
    """One notebook over the class: autograded scores of those who handed it in."""
    assignment: str
    notebook: str
    title: str
    max_code: float
    max_manual: float
    scores: dict = field(default_factory=dict)          # student -> autograded score
    not_submitted: list = field(default_factory=list)   # students
    not_graded: dict = field(default_factory=dict)      # student -> why
    manual_waiting: list = field(default_factory=list)  # students with written answers to grade
    manual_cells: int = 0                               # written answers still to grade

    @property
    def name(self):
        return f"{self.assignment}/{self.notebook}"

    def median(self):
        return statistics.median(self.scores.values()) if self.scores else None

    def share_full(self, students):
        full = sum(1 for s in self.scores.values() if s >= self.max_code > 0)
        return full / students if students else 0.0


@dataclass
class ClassReport:
    students: list
    notebooks: list                                     # [NotebookStats], course order
    tests: list                                         # [TestStats], course order
    flagged: list = field(default_factory=list)         # [(student, notebook, flag)]
    failures: dict = field(default_factory=dict)        # student -> grader failure
    sources: dict = field(default_factory=dict)         # notebook name -> source notebook

    def mistakes(self):
        """[(mistake, students, [TestStats])] over the whole class: named mistakes only, by
        the number of students they affect."""
        students, where, names = defaultdict(set), defaultdict(list), defaultdict(set)
        for test in self.tests:
            for mistake, who in test.failures.items():
                if not named(mistake):
                    continue
                # one mistake worded at more length by another test: "the variance divides by
                # N-1 (ddof=1)" and "the variance divides by N-1 (ddof=1); batch norm uses 1/N"
                key = re.split(r";|: ", mistake, maxsplit=1)[0].strip()
                names[key].add(mistake)
                students[key] |= set(who)
                if test not in where[key]:
                    where[key].append(test)
        students = {min(names[k], key=len): who for k, who in students.items()}
        where = {min(names[k], key=len): tests for k, tests in where.items()}
        order = {id(t): i for i, t in enumerate(self.tests)}
        return sorted(((m, sorted(s), where[m]) for m, s in students.items()),
                      key=lambda t: (-len(t[1]), order[id(t[2][0])], t[0]))


def named(mistake):
    """True for the name of a known mistake, False for the other kinds of failure."""
    return mistake not in (NOT_RECOGNISED, NOT_ANSWERED, LOWER_IN_RERUN) and not mistake.startswith(
        ANSWER_FAILS.format(""))


def test_label(notebook, grade_id):
    """'b1_forward', 'b1-test-values' -> 'B1 · values'."""
    short = grading.short_name(notebook)
    rest = re.sub(rf"^{re.escape(short)}-(test-)?", "", grade_id)
    return f"{short.upper()} · {rest}"


def _anonymise(message, students):
    for student in sorted(students, key=len, reverse=True):
        if student:
            message = message.replace(student, "<student>")
    message = re.sub(r"(/[^\s/:'\"]+)+/", "…/", message)   # folders of the grading machine
    return message[:600]


def _test_messages(path):
    """({grade_id: "ename: evalue"} of the test cells with an error in an autograded notebook,
    "ename: evalue" of the first answer cell with an error, or "")."""
    out, answer = {}, ""
    for line in grading.failure_messages(path):
        grade_id, _, message = line.partition(": ")
        if "(your code)" in grade_id:
            answer = answer or message
        else:
            out.setdefault(grade_id, message)
    return out, answer


def _headings(source_nb):
    """{grade_id: the last markdown heading before the cell}, and the notebook's title."""
    title, last, found = "", "", {}
    for cell in source_nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    text = line.lstrip("#").strip()
                    title = title or text
                    last = text
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            found[grade_id] = last
    return title, found


def _tally(by_test, grades, autograded, student, students):
    """Count one student's graded notebook into its tests: a pass, or a failure under the name
    of what went wrong (mistake_of the test's message in the autograded notebook)."""
    messages = answer_error = None   # read only when a test failed: most notebooks pass
    for grade in grades:
        test = by_test.get(grade.name)
        if test is None:
            continue
        test.points = float(grade.max_score or 0.0)
        test.graded += 1
        if (grade.score or 0.0) >= test.points:
            test.passed += 1
            continue
        if messages is None:
            messages, answer_error = _test_messages(autograded)
        message = messages.get(grade.name)
        mistake = mistake_of(message, answer_error) if message else LOWER_IN_RERUN
        test.failures.setdefault(mistake, []).append(student)
        if message and mistake not in test.examples:
            test.examples[mistake] = _anonymise(message, students)


def collect(root=None, db_url=None):
    """Every number of the class report: a ClassReport of the class in the gradebook (db_url,
    default: the course's), its autograded notebooks and the saved grading results."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(root or grading.course_root())
    api = grading.make_api(root, **({"db_url": db_url} if db_url else {}))
    results = _load_results(root)
    notebooks, tests, flagged, sources = [], [], [], {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        students = sorted(s.id for s in gb.students)
        for assignment in grading.assignments(root):
            for path in grading.source_notebooks(root, assignment):
                source = nbformat.read(path, as_version=4)
                title, headings = _headings(source)
                sources[f"{assignment}/{path.stem}"] = source
                cells = [c.metadata["nbgrader"] for c in source.cells
                         if c.metadata.get("nbgrader", {}).get("grade")
                         or c.metadata.get("nbgrader", {}).get("task")]
                test_ids = [m["grade_id"] for m in cells if m.get("grade") and not m.get("solution")
                            and not m.get("task") and m.get("grade_id")]
                manual = sum(float(m.get("points", 0)) for m in cells if m.get("task") or m.get("solution"))
                code = sum(float(m.get("points", 0)) for m in cells if m["grade_id"] in test_ids)
                stats = NotebookStats(assignment, path.stem, title, code, manual)
                by_test = {g: TestStats(assignment, path.stem, g, 0.0, headings.get(g, "")) for g in test_ids}
                for student in students:
                    saved = results.get(student, {}).get("notebooks", {}).get(stats.name, {})
                    flagged += [(student, stats.name, flag) for flag in saved.get("flags", [])]
                    try:
                        sub = gb.find_submission_notebook(path.stem, assignment, student)
                    except MissingEntry:
                        stats.not_submitted.append(student)
                        continue
                    autograded = root / "autograded" / student / assignment / f"{path.stem}.ipynb"
                    problem = saved.get("problem", "")
                    if problem.startswith("not submitted") or (
                            not autograded.exists()
                            and not (root / "submitted" / student / assignment / f"{path.stem}.ipynb").exists()):
                        stats.not_submitted.append(student)
                        continue
                    if problem or not autograded.exists():
                        stats.not_graded[student] = problem or "no autograded notebook (see grading.log)"
                        continue
                    stats.scores[student] = float(sub.code_score or 0.0)
                    waiting = [g for g in sub.grades if g.needs_manual_grade]
                    if waiting:
                        stats.manual_waiting.append(student)
                        stats.manual_cells += len(waiting)
                    _tally(by_test, sub.grades, autograded, student, students)
                notebooks.append(stats)
                tests += by_test.values()
    failures = {s: r["error"] for s, r in results.items() if r.get("error") and s in students}
    return ClassReport(students, notebooks, tests, flagged, failures, sources)


# --------------------------------------------------------------------------- where it is taught

def _first_formula(source_nb, grade_id):
    """The first displayed formula ($$...$$) of the notebook above the cell grade_id, or ""."""
    for cell in source_nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            break
        if cell.cell_type == "markdown":
            found = re.search(r"\$\$(.+?)\$\$", cell.source, re.S)
            if found:   # without the sentence's closing punctuation
                return re.sub(r"(\\[,;! ]|[\s.,;])+$", "", found.group(1).strip())
    return ""


def _taught(report, test):
    nb = next(n for n in report.notebooks if n.notebook == test.notebook)
    return nb.title, f"release/{test.assignment}/{test.notebook}.ipynb"


# --------------------------------------------------------------------------- terminal

def _pct(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else "–"


def summary(report, limit=3):
    """The class report in a few lines for the terminal."""
    n = len(report.students)
    lines = [f"Class report: {n} students"]
    for nb in report.notebooks:
        median = nb.median()
        lines.append(
            f"  {grading.short_name(nb.notebook):4s} median {'–' if median is None else f'{median:g}'}"
            f"/{nb.max_code:g}  full marks {_pct(sum(1 for s in nb.scores.values() if s >= nb.max_code > 0), n)}"
            f"  not submitted {_pct(len(nb.not_submitted), n)}"
            + (f"  not graded {len(nb.not_graded)}" if nb.not_graded else "")
            + (f"  written answers to grade {nb.manual_cells}" if nb.manual_cells else ""))
    top = report.mistakes()[:limit]
    if top:
        lines.append("Most common mistakes:")
        for mistake, who, where in top:
            lines.append(f"  {len(who)} of {n}: {mistake}  ({', '.join(t.label for t in where)})")
    if report.flagged:
        lines.append(f"Flagged for review: {len(report.flagged)} (see the report)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots

def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_overview(report):
    """One horizontal bar per notebook: the share of the class at full marks, partly right,
    at zero, not graded and not submitted (autograded points)."""
    from matplotlib.figure import Figure

    n = max(1, len(report.students))
    kinds = [("full marks", "#2e7d32"), ("partly right", "#f9a825"), ("zero", "#c62828"),
             ("not graded", "#6a1b9a"), ("not submitted", "#bdbdbd")]
    rows = []
    for nb in report.notebooks:
        full = sum(1 for s in nb.scores.values() if s >= nb.max_code > 0)
        zero = sum(1 for s in nb.scores.values() if s <= 0)
        rows.append([full, len(nb.scores) - full - zero, zero, len(nb.not_graded), len(nb.not_submitted)])
    labels = [grading.short_name(nb.notebook).upper() for nb in report.notebooks]
    figure = Figure(figsize=(8, 0.32 * len(rows) + 1.4))
    ax = figure.subplots()
    left = [0.0] * len(rows)
    for k, (kind, colour) in enumerate(kinds):
        widths = [100 * r[k] / n for r in rows]
        ax.barh(labels, widths, left=left, color=colour, label=kind, height=0.7)
        left = [l + w for l, w in zip(left, widths)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the class (%)")
    ax.set_title(f"Autograded points per notebook, {len(report.students)} students", pad=24)
    ax.legend(ncol=5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
    return _png(figure)


def plot_mistakes(report, limit=12):
    """The named mistakes of the class as horizontal bars: how many students each affects."""
    from matplotlib.figure import Figure

    top = report.mistakes()[:limit]
    if not top:
        return ""
    n = max(1, len(report.students))
    labels = [f"{', '.join(t.label for t in where[:2])}: {m if len(m) <= 64 else m[:61] + '…'}"
              for m, _, where in top]
    counts = [len(who) for _, who, _ in top]
    figure = Figure(figsize=(9, 0.3 * len(top) + 1.0), layout="constrained")
    ax = figure.subplots()
    ax.barh(range(len(top)), counts, color="#c62828", height=0.65)
    ax.set_yticks(range(len(top)), labels, fontsize=9)
    ax.invert_yaxis()
    for y, c in enumerate(counts):
        ax.text(c, y, f" {c} ({100 * c / n:.0f}%)", va="center", fontsize=8)
    ax.set_xlim(0, max(counts) * 1.4)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"students (of {len(report.students)})")
    ax.set_title("Known mistakes the checks recognised, by the number of students affected", fontsize=10)
    return _png(figure)


def plot_distributions(report, columns=4):
    """Small multiples: the histogram of each notebook's autograded score, median dashed."""
    from matplotlib.figure import Figure

    shown = [nb for nb in report.notebooks if nb.max_code > 0]
    rows = max(1, -(-len(shown) // columns))
    figure = Figure(figsize=(2.3 * columns, 1.75 * rows + 0.3), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey=True)
    top = max([1] + [max(Counter(nb.scores.values()).values(), default=0) for nb in shown])
    for ax, nb in zip(axes.flat, shown):
        values = list(nb.scores.values())
        bins = [nb.max_code * k / 10 for k in range(11)]
        ax.hist(values, bins=bins, color="#1565c0", edgecolor="white")
        if values:
            ax.axvline(nb.median(), color="black", linestyle="--", linewidth=1)
        ax.set_xlim(0, nb.max_code)
        ax.set_ylim(0, top * 1.15 + 0.5)
        ax.set_title(f"{grading.short_name(nb.notebook).upper()}  (median {nb.median() if values else '–'})",
                     fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(f"points of {nb.max_code:g}", fontsize=7)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("students", fontsize=8)
    figure.suptitle("Score distribution per notebook (autograded points; dashed: median)", fontsize=10)
    return _png(figure)


# --------------------------------------------------------------------------- HTML

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 62em;
       padding: 0 1em; color: #212121; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { margin: 1.2em 0 .3em; font-size: 1.05em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .2em .7em; text-align: left;
        border-bottom: 1px solid #eee; vertical-align: top; } th { background: #f5f5f5; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.lead { background: #fff8e1; border-left: 4px solid #f9a825; padding: .6em 1em; }
.bar { display: inline-block; height: .8em; background: #c62828; vertical-align: middle; }
.ok { display: inline-block; height: .8em; background: #2e7d32; vertical-align: middle; }
pre { background: #f7f7f7; padding: .4em .6em; white-space: pre-wrap; font-size: 12.5px; margin: .2em 0; }
details summary { cursor: pointer; color: #1565c0; } .muted { color: #757575; } img { max-width: 100%; }
math[display="block"] { margin: .4em 0; }
"""


def _e(text):
    return html.escape(str(text))


def _title(text):
    """A notebook's title as HTML: its math as MathML, without the difficulty marks."""
    return mathml.render_math(_e(re.sub("[\U0001F7E0-\U0001F7EB\U0001F534]\\s*", "", text)))


def _lead(report):
    """The first paragraph: the three most common misconceptions and where they are taught."""
    n = len(report.students)
    top = report.mistakes()[:3]
    if not top:
        return "<p class='lead'>No failing test of this class matches a known mistake.</p>"
    items = []
    for mistake, who, where in top:
        title, path = _taught(report, where[0])
        title = _title(title)
        formula = _first_formula(report.sources[f"{where[0].assignment}/{where[0].notebook}"], where[0].grade_id)
        items.append(
            f"<li><b>{_e(mistake)}</b>: {len(who)} of {n} students "
            f"({', '.join(_e(t.label) for t in where)}). Taught in <i>{title}</i> "
            f"(<code>{_e(path)}</code>)" + (f", where the notebook states {mathml.inline(formula)}" if formula else "")
            + ".</li>")
    return ("<div class='lead'><p>The three most common misconceptions of this class, by the number "
            "of students whose answers show them:</p><ol>" + "".join(items) + "</ol></div>")


def _tests_html(report):
    n = len(report.students)
    out = []
    for nb in report.notebooks:
        tests = [t for t in report.tests if t.notebook == nb.notebook and t.assignment == nb.assignment]
        if not tests:
            continue
        out.append(f"<h3>{_title(nb.title)} <span class='muted'>({_e(nb.name)})</span></h3><table>"
                   "<tr><th>test</th><th>passed</th><th>what the failures are</th></tr>")
        for t in tests:
            rate = t.passed / t.graded if t.graded else 0.0
            cell = []
            for mistake, who, example in t.ranked():
                detail = (f"<details><summary>example message</summary><pre>{_e(example)}</pre></details>"
                          if example else "")
                cell.append(f"<div><span class='bar' style='width:{4 * len(who)}px'></span> "
                            f"<b>{len(who)}</b> of {t.graded} — {_e(mistake)}{detail}</div>")
            out.append(
                f"<tr><td><b>{_e(t.label)}</b><br><span class='muted'>{_e(t.heading)}</span></td>"
                f"<td class='n'><span class='ok' style='width:{int(40 * rate)}px'></span> {t.passed} of {t.graded}"
                f" ({_pct(t.passed, t.graded)})</td><td>{''.join(cell) or '—'}</td></tr>")
        out.append("</table>")
    return "\n".join(out) + f"\n<p class='muted'>Counts are out of the {n} students' graded notebooks.</p>"


def _instructor_html(report):
    out = ["<h3>Written answers awaiting manual grading</h3>"]
    waiting = [nb for nb in report.notebooks if nb.manual_cells]
    if waiting:
        out.append("<table><tr><th>notebook</th><th>answers to grade</th><th>students</th><th>open in formgrader</th></tr>")
        for nb in waiting:
            url = FORMGRADER.format(assignment=nb.assignment, notebook=nb.notebook)
            out.append(f"<tr><td>{_e(nb.name)}</td><td class='n'>{nb.manual_cells}</td>"
                       f"<td class='n'>{len(nb.manual_waiting)}</td><td><a href='{_e(url)}'>formgrader ▸ {_e(nb.assignment)} ▸ "
                       f"{_e(nb.notebook)}</a></td></tr>")
        out.append("</table><p class='muted'>In JupyterLab (<code>./run lab</code>): Nbgrader ▸ Formgrader ▸ "
                   "Manual Grading ▸ the assignment ▸ the notebook. The links open formgrader directly when "
                   "JupyterLab runs on its default port 8888.</p>")
    else:
        out.append("<p>None.</p>")
    out.append("<h3>Submissions flagged for review</h3>")
    if report.flagged:
        out.append("<table><tr><th>student</th><th>notebook</th><th>what was found</th></tr>" + "".join(
            f"<tr><td>{_e(s)}</td><td>{_e(nb)}</td><td>{_e(flag)}</td></tr>" for s, nb, flag in report.flagged)
            + "</table>")
    else:
        out.append("<p>None.</p>")
    out.append("<h3>Notebooks that could not be graded</h3>")
    ungraded = [(s, nb.name, why) for nb in report.notebooks for s, why in nb.not_graded.items()]
    ungraded += [(s, "(all)", "the grader itself failed: " + err.strip().splitlines()[-1])
                 for s, err in report.failures.items()]
    if ungraded:
        out.append("<table><tr><th>student</th><th>notebook</th><th>why</th></tr>" + "".join(
            f"<tr><td>{_e(s)}</td><td>{_e(nb)}</td><td>{_e(why)}</td></tr>" for s, nb, why in ungraded)
            + "</table>")
    else:
        out.append("<p>None.</p>")
    return "\n".join(out)


def render_html(report):
    """The class report as one HTML page (str): no script, no external file, plots as data URIs."""
    n = len(report.students)
    rows = "".join(
        f"<tr><td>{_e(grading.short_name(nb.notebook).upper())}</td><td>{_title(nb.title)}</td>"
        f"<td class='n'>{'–' if nb.median() is None else f'{nb.median():g}'} / {nb.max_code:g}</td>"
        f"<td class='n'>{_pct(sum(1 for s in nb.scores.values() if s >= nb.max_code > 0), n)}</td>"
        f"<td class='n'>{_pct(len(nb.not_submitted), n)}</td>"
        f"<td class='n'>{len(nb.not_graded) or ''}</td></tr>" for nb in report.notebooks)
    body = [
        f"<h1>Class report</h1><p class='muted'>{n} students in the gradebook · "
        f"{len(report.notebooks)} notebooks · scores are autograded points (written answers are graded by hand)</p>",
        _lead(report),
        (f"<img alt='the known mistakes of the class, by the number of students they affect' "
         f"src='{plot_mistakes(report)}'>" if report.mistakes() else ""),
        "<h2>Scores</h2>",
        f"<img alt='share of the class at full marks, partly right, zero, not graded and not submitted, per notebook' "
        f"src='{plot_overview(report)}'>",
        f"<img alt='histogram of the autograded score of each notebook' src='{plot_distributions(report)}'>",
        "<table><tr><th></th><th>notebook</th><th>median</th><th>full marks</th><th>not submitted</th>"
        f"<th>not graded</th></tr>{rows}</table>",
        "<h2>What the failures are, test by test</h2>",
        "<p>For every graded test: how many passed and, for the others, the known mistake their answers "
        "match (named by the test's own check), most common first, with an example message (names removed).</p>",
        _tests_html(report),
        "<h2>What needs you</h2>",
        _instructor_html(report),
    ]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Class report</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_html(report, path):
    """Write the class report page to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def build(root=None, db_url=None):
    """collect() and write exports/class-report.html. Returns (ClassReport, path)."""
    root = Path(root or grading.course_root())
    report = collect(root, db_url)
    return report, write_html(report, root / REPORT)
