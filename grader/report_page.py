"""The class report as a page: one HTML file, plots embedded as PNG data, math as MathML.

No script and nothing loaded from elsewhere, so the page opens from disk, offline, or in
JupyterLab's HTML viewer (which runs no script of an untrusted file anyway). The numbers come
from grader.report.collect(); this module only draws and lays them out.

    render_html(report) -> str      write_html(report, path) -> path
"""
import base64
import html
import io
import re
from collections import Counter
from pathlib import Path

from grader import mathml, table
from grader.report import share

FORMGRADER = "http://localhost:8888/formgrader/gradebook/{assignment}/{notebook}"


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
    kinds = [("full marks", "#2e7d32"), ("partly right", "#f9a825"), ("zero", "#c62828"),
             ("not graded", "#6a1b9a"), ("not submitted", "#bdbdbd")]
    rows = []
    for nb in report.notebooks:
        full = nb.full_marks()
        zero = sum(1 for s in nb.scores.values() if s <= 0)
        rows.append([full, len(nb.scores) - full - zero, zero, len(nb.not_graded), len(nb.not_submitted)])
    labels = [table.short_name(nb.notebook).upper() for nb in report.notebooks]
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
                f" ({share(t.passed, t.graded)})</td><td>{''.join(cell) or '—'}</td></tr>")
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
        f"<tr><td>{_e(table.short_name(nb.notebook).upper())}</td><td>{_title(nb.title)}</td>"
        f"<td class='n'>{'–' if nb.median() is None else f'{nb.median():g}'} / {nb.max_code:g}</td>"
        f"<td class='n'>{share(nb.full_marks(), n)}</td>"
        f"<td class='n'>{share(len(nb.not_submitted), n)}</td>"
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
