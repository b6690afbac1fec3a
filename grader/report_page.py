"""The class report as a page: one HTML file, plots embedded as PNG data, math as MathML.

No script and nothing loaded from elsewhere, so the page opens from disk, offline, or in
JupyterLab's HTML viewer (which runs no script of an untrusted file anyway). The numbers come
from grader.report.collect(); this module only draws and lays them out. Every text of the page
that is not the course's own (student ids and names, messages, flags) is HTML-escaped; the
course's headings and mistake names have their math as MathML and their `code` as <code>.

    render_html(report, config=None, folder=None) -> str
    write_html(report, path, config=None) -> path
    ReportPage                      the page's settings (c.ReportPage.formgrader_url)
"""
import base64
import html
import io
import os
import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from traitlets import Unicode
from traitlets.config import Configurable

from grader import mathml, table
from grader.report import REPORT, share


class ReportPage(Configurable):
    """Settings of the class report page, read from the course's nbgrader_config.py."""

    formgrader_url = Unicode(
        "http://localhost:8888/formgrader",
        help="Where formgrader is, as the report's links to manual grading start: JupyterLab on its "
             "default port by default; on the course's JupyterHub the formgrader service, e.g. "
             "'https://hub.example.edu/services/batchnorm-tutorial10/formgrader' (or the path alone, "
             "'/services/batchnorm-tutorial10/formgrader', for a report opened on the hub itself).",
    ).tag(config=True)

    def formgrader(self, assignment, notebook):
        """The formgrader page of the notebook's submissions (its gradebook view)."""
        return f"{self.formgrader_url.rstrip('/')}/gradebook/{quote(assignment)}/{quote(notebook)}"


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
    # a hatch beside each colour, so that the kinds do not differ by colour alone
    kinds = [("full marks", "#2e7d32", ""), ("partly right", "#f9a825", "//"), ("zero", "#c62828", "xx"),
             ("not graded", "#6a1b9a", ".."), ("not submitted", "#bdbdbd", "--")]
    rows = []
    for nb in report.notebooks:
        full, zero = nb.full_marks(), nb.zero()
        rows.append([full, len(nb.scores) - full - zero, zero, len(nb.not_graded), len(nb.not_submitted)])
    labels = [table.short_name(nb.notebook).upper() for nb in report.notebooks]
    figure = Figure(figsize=(8, 0.32 * len(rows) + 1.4))
    ax = figure.subplots()
    left = [0.0] * len(rows)
    for k, (kind, colour, hatch) in enumerate(kinds):
        widths = [100 * r[k] / n for r in rows]
        ax.barh(labels, widths, left=left, color=colour, label=kind, height=0.7, hatch=hatch, edgecolor="white")
        left = [l + w for l, w in zip(left, widths)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the class (%)")
    ax.set_title(f"Autograded points per notebook, {len(report.students)} students", pad=24)
    ax.legend(ncol=5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
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
        ax.set_title(f"{table.short_name(nb.notebook).upper()}  (median {nb.median() if values else '–'})",
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
        border-bottom: 1px solid #eee; vertical-align: top; } thead th { background: #f5f5f5; }
tbody th { font-weight: normal; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.lead { background: #fff8e1; border-left: 4px solid #f9a825; padding: .6em 1em; }
.bar { display: inline-block; height: .8em; background: #c62828; vertical-align: middle; }
.ok { display: inline-block; height: .8em; background: #2e7d32; vertical-align: middle; }
pre { background: #f7f7f7; padding: .4em .6em; white-space: pre-wrap; font-size: 12.5px; margin: .2em 0; }
details summary { cursor: pointer; color: #1565c0; } .muted { color: #616161; } img { max-width: 100%; }
math[display="block"] { margin: .4em 0; }
"""
PASSED, FAILED = "✓", "✗"   # beside the green and red bars: a mark is never told by colour alone


def _e(text):
    return html.escape(str(text))


def _inline(text):
    """A line of the course's Markdown (a heading, a mistake's name) as HTML: `code` as <code>,
    $math$ as MathML, everything else escaped."""
    parts = re.split(r"(`[^`]+`)", str(text))
    return "".join(f"<code>{_e(part[1:-1])}</code>" if i % 2 else mathml.render_math(_e(part))
                   for i, part in enumerate(parts))


def _title(text):
    """A notebook's title as HTML: its math as MathML, without the difficulty marks."""
    return _inline(re.sub("[\U0001F7E0-\U0001F7EB\U0001F534]\\s*", "", text))


def _table(caption, columns, rows, numeric=()):
    """A table with a caption, column headers (scope=col) and each row's first cell as its row
    header (scope=row). rows: lists of HTML cells; columns: header texts; numeric: the indices of
    right-aligned columns."""
    head = "".join(f"<th scope='col'>{c}</th>" for c in columns)
    body = []
    for row in rows:
        cells = [f"<th scope='row'>{row[0]}</th>"] + [
            f"<td class='n'>{c}</td>" if k in numeric else f"<td>{c}</td>" for k, c in enumerate(row[1:], 1)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _lead(report):
    """The first paragraph: the three most common misconceptions and where they are taught; when
    more are as common as the third, says so."""
    n = len(report.students)
    ranked = report.mistakes()
    top = ranked[:3]
    if not top:
        return "<p class='lead'>No failing test of this class matches a known mistake.</p>"
    lost = report.points_lost()
    items = []
    for mistake, who, where in top:
        title, path = _taught(report, where[0])
        formula = _first_formula(report.sources[f"{where[0].assignment}/{where[0].notebook}"], where[0].grade_id)
        items.append(
            f"<li><b>{_inline(mistake)}</b>: {len(who)} of {n} students, {lost[mistake]:g} "
            f"point{'' if lost[mistake] == 1 else 's'} lost "
            f"({', '.join(_e(t.label) for t in where)}). Taught in <i>{_title(title)}</i> "
            f"(<code>{_e(path)}</code>)" + (f", where the notebook states {mathml.inline(formula)}" if formula else "")
            + ".</li>")
    last = len(top[-1][1])
    tied = [m for m, who, _ in ranked if len(who) == last]
    if len(tied) > 1:
        left_out = len(tied) - sum(1 for m, _, _ in top if m in tied)
        tie = (f"<p>{len(tied)} mistakes are tied at {last} of {n} students"
               + (f"; of them, those that cost the most points are shown ({left_out} more in the table below)"
                  if left_out else "") + ".</p>")
    else:
        tie = ""
    return ("<div class='lead'><p>The most common misconceptions of this class, by the number of students "
            "whose answers show them, then by the points they cost:</p><ol>" + "".join(items) + "</ol>"
            + tie + "</div>")


def _mistakes_html(report):
    """Every named mistake of the class, ranked as in the lead: a table (the same mistake in two
    tests is one row, each student counted once)."""
    n = len(report.students)
    ranked = report.mistakes()
    if not ranked:
        return ""
    lost = report.points_lost()
    rows = [[_inline(m), f"{len(who)} ({share(len(who), n)})", f"{lost[m]:g}", ", ".join(_e(t.label) for t in where)]
            for m, who, where in ranked]
    return _table(f"Every known mistake the checks recognised, out of {n} students", [
        "mistake", "students", "points lost", "tests"], rows, numeric=(1, 2))


def _tests_html(report):
    n = len(report.students)
    out = []
    for nb in report.notebooks:
        tests = [t for t in report.tests if t.notebook == nb.notebook and t.assignment == nb.assignment]
        if not tests:
            continue
        out.append(f"<h3>{_title(nb.title)} <span class='muted'>({_e(nb.name)})</span></h3>")
        rows = []
        for t in tests:
            rate = t.passed / t.graded if t.graded else 0.0
            cell = []
            for mistake, who, example in t.ranked():
                detail = (f"<details><summary>example message</summary><pre>{_e(example)}</pre></details>"
                          if example else "")
                cell.append(f"<div><span class='bar' aria-hidden='true' style='width:{4 * len(who)}px'></span> "
                            f"{FAILED} <b>{len(who)}</b> of {t.graded} — {_inline(mistake)}{detail}</div>")
            rows.append([
                f"<b>{_e(t.label)}</b><br><span class='muted'>{_inline(t.heading)}</span>",
                f"<span class='ok' aria-hidden='true' style='width:{int(40 * rate)}px'></span> {PASSED} "
                f"{t.passed} of {t.graded} ({share(t.passed, t.graded)})",
                "".join(cell) or "—"])
        out.append(_table(f"{_e(table.short_name(nb.notebook).upper())}: each test, how many passed, and what "
                          "the failures are", ["test", "passed", "what the failures are"], rows, numeric=(1,)))
    return "\n".join(out) + f"\n<p class='muted'>Counts are out of the {n} students' graded notebooks.</p>"


def _students_html(report, folder):
    """One row a student: the autograded score of each notebook, linked to the student's feedback
    page (a path relative to `folder`, where the page is), and the total."""
    notebooks = report.notebooks
    prefix = "" if folder is None else os.path.relpath(report.root, folder).replace(os.sep, "/") + "/"
    rows = []
    for student in report.students:
        cells, total = [], 0.0
        for nb in notebooks:
            if student in nb.scores:
                score = nb.scores[student]
                total += score
                text = f"{score:g}" + (" ✎" if student in nb.manual_waiting else "")
            elif student in nb.not_graded:
                text = "! not graded"
            else:
                text = "– not handed in"
            page = report.feedback.get((student, nb.name))
            label = f"feedback of {report.name(student)} on {table.short_name(nb.notebook).upper()}"
            cells.append(f"<a href='{_e(prefix + quote(page))}' aria-label='{_e(label)}: {_e(text)}'>{_e(text)}</a>"
                         if page else _e(text))
        rows.append([_e(report.name(student)), *cells, f"{total:g}"])
    max_code = sum(nb.max_code for nb in notebooks)
    columns = ["student"] + [f"{_e(table.short_name(nb.notebook).upper())} (of {nb.max_code:g})" for nb in notebooks]
    out = [_table("Each student's autograded points per notebook; each score links to the student's feedback page",
                  columns + [f"total (of {max_code:g})"], rows, numeric=tuple(range(1, len(columns) + 1))),
           "<p class='muted'>✎ written answers still to be graded by hand; ! not graded (why: below); "
           "– not handed in. A link opens the feedback page <code>feedback/&lt;student&gt;/&lt;part&gt;/"
           "&lt;notebook&gt;.html</code> that grading wrote (relative to this page).</p>"]
    nothing = report.handed_in_nothing()
    missing = [(s, [nb for nb in notebooks if s in nb.not_submitted]) for s in report.students if s not in nothing]
    missing = [(s, nbs) for s, nbs in missing if nbs]
    out.append("<h3>Who did not hand in</h3>")
    if nothing or missing:
        rows = [[_e(report.name(s)), "nothing"] for s in nothing]
        rows += [[_e(report.name(s)), ", ".join(_e(nb.name) for nb in nbs)] for s, nbs in missing]
        out.append(_table(f"Students with notebooks not handed in ({len(nothing)} handed in nothing)",
                          ["student", "not handed in"], rows))
    else:
        out.append("<p>Everybody handed in every notebook.</p>")
    return "\n".join(out)


def _instructor_html(report, settings):
    out = ["<h3>Written answers awaiting manual grading</h3>"]
    waiting = [nb for nb in report.notebooks if nb.manual_cells]
    if waiting:
        out.append(_table("Written answers to grade by hand, per notebook", [
            "notebook", "answers to grade", "students", "open in formgrader"], [
            [_e(nb.name), nb.manual_cells, len(nb.manual_waiting),
             f"<a href='{_e(settings.formgrader(nb.assignment, nb.notebook))}'>formgrader ▸ {_e(nb.assignment)} ▸ "
             f"{_e(nb.notebook)}</a>"] for nb in waiting], numeric=(1, 2)))
        out.append("<p class='muted'>In JupyterLab (<code>./run lab</code>): Nbgrader ▸ Formgrader ▸ "
                   "Manual Grading ▸ the assignment ▸ the notebook. The links go to formgrader at "
                   f"<code>{_e(settings.formgrader_url)}</code> (<code>c.ReportPage.formgrader_url</code> "
                   "in <code>nbgrader_config.py</code>).</p>")
    else:
        out.append("<p>None.</p>")
    out.append("<h3>Submissions flagged for review</h3>")
    if report.flagged:
        out.append(_table("Submissions flagged for review", ["student", "notebook", "what was found"], [
            [_e(report.name(s)), _e(nb), _e(flag)] for s, nb, flag in report.flagged]))
    else:
        out.append("<p>None.</p>")
    out.append("<h3>Notebooks that could not be graded</h3>")
    ungraded = [(s, nb.name, why) for nb in report.notebooks for s, why in nb.not_graded.items()]
    ungraded += [(s, "(all)", "the grader itself failed: " + (err.strip().splitlines() or [""])[-1])
                 for s, err in report.failures.items()]
    if ungraded:
        out.append(_table("Notebooks that could not be graded, and why", ["student", "notebook", "why"], [
            [_e(report.name(s)), _e(nb), _e(why)] for s, nb, why in ungraded]))
    else:
        out.append("<p>None.</p>")
    out.append("<h3>Notes of the last grading run</h3>")
    if report.notes:
        out.append("<ul>" + "".join(f"<li>{_e(note)}</li>" for note in report.notes) + "</ul>")
    elif report.graded:
        out.append("<p>None.</p>")
    else:
        out.append("<p>No grading run has been recorded (<code>exports/grading-results.json</code>).</p>")
    return "\n".join(out)


def _scores_html(report):
    n = len(report.students)
    rows = []
    for nb in report.notebooks:
        full, zero = nb.full_marks(), nb.zero()
        rows.append([
            _e(table.short_name(nb.notebook).upper()), _title(nb.title),
            f"{'–' if nb.median() is None else f'{nb.median():g}'} / {nb.max_code:g}",
            share(full, n), share(len(nb.scores) - full - zero, n), share(zero, n),
            share(len(nb.not_graded), n), share(len(nb.not_submitted), n)])
    medians = ", ".join(f"{table.short_name(nb.notebook).upper()} {nb.median():g} of {nb.max_code:g}"
                        for nb in report.notebooks if nb.max_code > 0 and nb.median() is not None)
    return "\n".join([
        f"<img alt='Bar chart: the share of the class at full marks, partly right, at zero, not graded and not "
        f"submitted, per notebook; the numbers are in the table below.' src='{plot_overview(report)}'>",
        f"<img alt='Histograms of each notebook&#x27;s autograded score; the medians: {_e(medians) or 'none'}.' "
        f"src='{plot_distributions(report)}'>",
        _table(f"Autograded points per notebook, out of {n} students", [
            "notebook", "title", "median", "full marks", "partly right", "zero", "not graded", "not submitted"],
            rows, numeric=(2, 3, 4, 5, 6, 7)),
    ])


def render_html(report, config=None, folder=None):
    """The class report as one HTML page (str): no script, no external file, plots as data URIs.

    config: the course's configuration (its ReportPage settings); folder: where the page will
    be, for the relative links to the feedback pages (None: the course's exports/)."""
    settings = ReportPage(config=config)
    folder = Path(folder) if folder is not None else (Path(report.root) / REPORT).parent if report.root else None
    n = len(report.students)
    when = f"report of {_e(report.built)}" + (f" · last graded {_e(report.graded)}" if report.graded else "")
    body = [
        f"<h1>Class report{': ' + _e(report.course_id) if report.course_id else ''}</h1>"
        f"<p class='muted'>{n} students in the gradebook · {len(report.notebooks)} notebooks · {when} · "
        "scores are autograded points (written answers are graded by hand)</p>",
        _lead(report),
        "<h2>Mistakes across the class</h2>",
        _mistakes_html(report) or "<p>No failing test matches a known mistake.</p>",
        "<h2>Scores</h2>",
        _scores_html(report),
        "<h2>Students</h2>",
        _students_html(report, folder),
        "<h2>What the failures are, test by test</h2>",
        "<p>For every graded test: how many passed and, for the others, the known mistake their answers "
        "match (named by the test's own check), most common first, with an example message (names removed).</p>",
        _tests_html(report),
        "<h2>What needs you</h2>",
        _instructor_html(report, settings),
    ]
    title = "Class report" + (f" · {_e(report.course_id)}" if report.course_id else "")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{title}</title>"
            f"<style>{CSS}</style></head><body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")


def write_html(report, path, config=None):
    """Write the class report page to `path` (config: the course's configuration); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, config, folder=path.parent), encoding="utf-8")
    return path
