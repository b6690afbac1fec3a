"""The grade table and the lists of problems, flags and notes printed after grading."""
import json
import re
from pathlib import Path

from grader.record import NOT_SUBMITTED


def short_name(notebook):
    """'b1_forward' -> 'b1': the sheet's exercise number."""
    return notebook.split("_", 1)[0]


def format_table(grades):
    """A per-student, per-notebook grade table, one row a student, as text."""
    if not grades:
        return "no submissions to grade"
    columns = [(short_name(g.notebook), g.max_score) for g in next(iter(grades.values()))]
    width = max(12, *(len(s) for s in grades))

    def line(label, cells, total):
        return f"{label:{width}s}" + "".join(f"{c:>6s}" for c in cells) + f"  {total}"

    head = line("student", [name for name, _ in columns], "total    autograded")
    possible = sum(m for _, m in columns)
    # the autograded points of each notebook (the rest are written answers, graded by hand)
    auto_possible = sum(max((rows[k].max_code_score or 0) for rows in grades.values())
                        for k in range(len(columns)))
    lines = [head, line("(out of)", [f"{m:g} " for _, m in columns],
                        f"{possible:<8g} {auto_possible:g}"), "-" * len(head)]
    for student, rows in grades.items():
        cells = ["– " if r.score is None else f"{r.score:g}" + _mark(r) for r in rows]
        total = sum(r.score or 0 for r in rows)
        auto = sum(r.code_score or 0 for r in rows)
        pct = 100 * auto / auto_possible if auto_possible else 0
        lines.append(line(student, cells, f"{total:<8g} {auto:g} ({pct:.0f}%)"))
    lines.append("* written answers still to be graded by hand in formgrader;  – not submitted;  "
                 "! not graded (reason below);  ? to review (below)")
    return "\n".join(lines)


def _mark(row):
    if row.reason and row.reason != NOT_SUBMITTED:
        return "!"
    if row.flags:
        return "?"
    return "*" if row.needs_manual else " "


def format_problems(grades, limit=3):
    """What went wrong per student and notebook: the first failing tests' messages."""
    lines = []
    for student, rows in grades.items():
        for row in rows:
            if row.reason and row.reason != NOT_SUBMITTED:
                lines.append(f"{student} {row.name}: {row.problem}")
            for message in row.messages[:limit]:
                text = re.sub(r"\s+", " ", message)
                lines.append(f"{student} {row.name}: {text[:160]}")
    return "\n".join(lines)


def format_flags(grades):
    """What the scan found in student code, per notebook."""
    lines = []
    for student, rows in grades.items():
        for row in rows:
            for flag in row.flags:
                lines.append(f"{student} {row.name}: {flag[:200]}")
    return "\n".join(lines)


def grades_as_dict(grades):
    """{student: {"part_b/b1_forward": score or None}}, for tests and JSON output."""
    return {s: {r.name: r.score for r in rows} for s, rows in grades.items()}


def write_json(grades, path):
    Path(path).write_text(json.dumps(grades_as_dict(grades), indent=1, sort_keys=True))
