"""The grade table and the lists of problems, flags and notes printed after grading."""
import json
import re
from pathlib import Path

from grader.record import MISSING, NOT_SUBMITTED


def short_name(notebook):
    """'b1_forward' -> 'b1': the sheet's exercise number."""
    return notebook.split("_", 1)[0]


WIDTH = 100  # the table fits a terminal this wide: one block when it can, else one per part
LEGEND = ("* written answers still to be graded by hand in formgrader;  – not submitted",
          "! not graded (reason below);  ? to review (below)")


def not_submitted(row):
    """True when the student handed in no such notebook (the whole part, or the part without it)."""
    return row.score is None or row.reason in (NOT_SUBMITTED, MISSING)


def format_table(grades, width=WIDTH):
    """A per-student, per-notebook grade table, one row a student, as text: a column per
    notebook (its score and mark), the total and the autograded points. It fits `width` columns
    in one block when it can; else the notebooks come in one block per part, the totals last."""
    if not grades:
        return "no submissions to grade"
    first = next(iter(grades.values()))
    columns = [(short_name(r.notebook), r.max_score, r.assignment) for r in first]
    cells = {student: ["– " if not_submitted(r) else f"{r.score:g}" + _mark(r) for r in rows]
             for student, rows in grades.items()}
    header = [name + " " for name, _, _ in columns]
    out_of = [f"{m:g} " for _, m, _ in columns]
    cell = 1 + max(len(c) for c in [*header, *out_of, *(c for row in cells.values() for c in row)])
    label = max(12, len("(out of)"), *(len(s) for s in grades))
    possible = sum(m for _, m, _ in columns)
    # the autograded points of each notebook (the rest are written answers, graded by hand)
    auto_possible = sum(max((rows[k].max_code_score or 0) for rows in grades.values())
                        for k in range(len(columns)))
    totals = {"student": "total autograded".split(), "(out of)": (f"{possible:g}", f"{auto_possible:g}")}
    for student, rows in grades.items():
        auto = sum(r.code_score or 0 for r in rows)
        pct = 100 * auto / auto_possible if auto_possible else 0
        totals[student] = (f"{sum(r.score or 0 for r in rows):g}", f"{auto:g} ({pct:.0f}%)")
    total = max(6, *(len(t[0]) + 1 for t in totals.values()))

    def block(indices, with_totals):
        def line(name, row, sums):
            text = f"{name:{label}s}" + "".join(f"{row[k]:>{cell}s}" for k in indices)
            return text + (f"  {sums[0]:<{total}s}{sums[1]}" if with_totals else "")

        head = line("student", header, totals["student"])
        lines = [head, line("(out of)", out_of, totals["(out of)"]), "-" * len(head)]
        lines += [line(student, row, totals[student]) for student, row in cells.items()]
        return lines

    every = list(range(len(columns)))
    lines = block(every, True)
    if max(map(len, lines)) > width:  # one block per part, the totals with the last
        parts = list(dict.fromkeys(part for _, _, part in columns))
        lines = []
        for part in parts:
            if lines:
                lines.append("")
            lines += block([k for k in every if columns[k][2] == part], part == parts[-1])
    return "\n".join([*lines, *LEGEND])


def _mark(row):
    if row.reason and row.reason not in (NOT_SUBMITTED, MISSING):
        return "!"
    if row.flags:
        return "?"
    return "*" if row.needs_manual else " "


def format_problems(grades, limit=3):
    """What went wrong per student and notebook: the first failing tests' messages."""
    lines = []
    for student, rows in grades.items():
        for row in rows:
            if row.reason and row.reason != NOT_SUBMITTED:  # a missing notebook is listed: a misnamed file?
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
