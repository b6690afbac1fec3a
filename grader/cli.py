"""The course's command line: `course release | demo | grade | report | check NOTEBOOK` (or python -m grader).

    course release             build release/ (students) and solution/ (self-learners) from source/
    course demo                the main job: build, grade a demo class of four, print the grade table
    course grade [--jobs N]    autograde everything in submitted/, write feedback and the CSV export;
                               exits 3 only when the grader itself failed for some student;
                               ends with the class report and, given a roster, the LMS files
    course report              write the class report (exports/class-report.html) from the gradebook
    course check NOTEBOOK      grade one filled-in notebook against the hidden tests, privately
"""
import argparse
import logging
import sys
import warnings
from pathlib import Path

from grader import build, coursedir, democlass, grading, selfcheck, table


def _quiet():
    """nbgrader logs every step; the commands print their own summary instead."""
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # nbgrader's own gradebook code trips SQLAlchemy's autoflush warning on every submission
    warnings.filterwarnings("ignore", message="Object of type .* not in session")


def cmd_release(args):
    written = build.release(args.root)
    print(f"wrote {len(written)} notebooks into release/ and solution/")
    return 0


def _report(grades, root):
    print()
    print(table.format_table(grades))
    problems = table.format_problems(grades)
    if problems:
        print("\nWhat lost points (first messages per notebook):")
        print(problems)
    flags = table.format_flags(grades)
    if flags:
        print("\nTo review (student code that looks like a trick; it changed no grade above: "
              "the grader judges every test itself):")
        print(flags)
    late = [f"{student} {row.name}: {row.late_penalty:g} points off (late-penalty settings in nbgrader_config.py)"
            for student, rows in grades.items() for row in rows if row.late_penalty]
    if late:
        print("\nLate submissions (the table shows the scores before the penalty):")
        print("\n".join(late))
    for note in getattr(grades, "notes", []):
        print(f"note: {note}")
    for student, error in getattr(grades, "failures", {}).items():
        print(f"GRADER FAILURE for {student} (not the student's fault):\n{error}", file=sys.stderr)
    print(f"\nfeedback: {root / 'feedback'}/<student>/<part>/*.html    export: {root / 'exports' / 'grades.csv'}")


def _after_grading(grades, root, roster, db_url=None):
    """The class report and the LMS files, once a class (or part of it) has been graded."""
    from grader import report

    report.save_results(root, grades)
    _lms(root, roster, db_url)
    _class_report(root, db_url)


def _lms(root, roster, db_url=None):
    from grader import lms

    roster = Path(roster)
    if not roster.is_file():
        print(f"\nLMS files: no roster at {roster}; see README, 'After grading', for its format")
        return
    api = coursedir.make_api(root, **({"db_url": db_url} if db_url else {}))
    try:
        done = lms.export_all(api, root / "exports", roster)
    except ValueError as error:  # the grades are in; only the LMS files are missing
        print(f"\nLMS files not written: {error}")
        return
    print()
    for key, plugin in done.items():
        print(f"{key.title()} import file: {plugin.written}")
        if plugin.missing:
            print(f"  NOT in it (not in the roster {roster.name}, or no {plugin.required}): "
                  f"{', '.join(plugin.missing)}")


def _class_report(root, db_url=None):
    from grader import report

    built, path = report.build(root, db_url)
    print("\n" + report.summary(built))
    print(f"\nClass report: {path}")


def cmd_demo(args):
    from grader import lms

    root = Path(args.root or coursedir.course_root())
    grades = democlass.demo(root, progress=lambda m: print(m, flush=True), bar=True)
    _report(grades, root)
    _after_grading(grades, root, lms.demo_roster(root / "exports" / "demo-roster.csv", grades))
    return 0


def cmd_grade(args):
    root = Path(args.root or coursedir.course_root())
    grades = grading.grade_class(root, students=args.student or None, jobs=args.jobs,
                                 timeout=args.timeout, memory_mb=args.memory_limit,
                                 db_url=args.db_url, progress=lambda m: print(m, flush=True), bar=True,
                                 unsandboxed=args.unsandboxed)
    _report(grades, root)
    _after_grading(grades, root, args.roster or root / "roster.csv", args.db_url)
    if args.json:
        table.write_json(grades, args.json)
    return 3 if grades.failures else 0


def cmd_report(args):
    root = Path(args.root or coursedir.course_root())
    _class_report(root, args.db_url)
    return 0


def cmd_check(args):
    row, tests = selfcheck.check_notebook(args.notebook, args.root, unsandboxed=args.unsandboxed)
    print(f"{row.name}: checked against the hidden tests\n")
    for failure in row.failures:
        if failure.your_code:
            print(f" ! {failure}\n")
    for grade_id, score, max_score, message in tests:
        mark = "graded by hand" if score is None else f"{score:g}/{max_score:g}"
        sign = "✓" if score == max_score else ("·" if score is None else "✗")
        print(f" {sign} {grade_id:28s} {mark}")
        if message and score is not None and score < max_score:
            for line in message.splitlines():
                print(f"     {line}")
    if row.score is None:
        print(f"\n{row.problem}")
        return 2
    manual = " (+ written answers graded by hand)" if row.needs_manual else ""
    auto_max = sum(t[2] for t in tests if t[1] is not None)
    print(f"\nscore: {row.score:g} of {auto_max:g} autograded points{manual}")
    return 0 if all(t[1] is None or t[1] == t[2] for t in tests) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--root", help="the course folder (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="build release/ and solution/ from source/").set_defaults(run=cmd_release)
    sub.add_parser("demo", help="build, grade the demo class, print the table").set_defaults(run=cmd_demo)
    grade = sub.add_parser("grade", help="autograde everything in submitted/")
    grade.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade.add_argument("--jobs", type=int, default=1, metavar="N",
                       help="grade N students at a time, in N processes (default 1)")
    grade.add_argument("--timeout", type=int, metavar="S",
                       help="seconds a cell may run (default: nbgrader_config.py)")
    grade.add_argument("--memory-limit", type=int, default=grading.DEFAULT_MEMORY_MB, metavar="MB",
                       help=f"memory of a student's kernel (default {grading.DEFAULT_MEMORY_MB})")
    grade.add_argument("--db-url", help="gradebook URL, e.g. postgresql+psycopg://... "
                                        "(default: COURSE_DB_URL or gradebook.db)")
    grade.add_argument("--json", metavar="PATH", help="also write {student: {notebook: score}} here")
    grade.add_argument("--roster", metavar="CSV", help="the roster for the Canvas and Moodle files "
                                                       "(default: roster.csv in the course folder)")
    grade.add_argument("--unsandboxed", action="store_true",
                       help="run the students' kernels without the sandbox (bubblewrap), with the "
                            "grader's rights: only where it cannot run, and for code you trust")
    grade.set_defaults(run=cmd_grade)
    report = sub.add_parser("report", help="write the class report from the gradebook")
    report.add_argument("--db-url", help="gradebook URL (default: COURSE_DB_URL or gradebook.db)")
    report.set_defaults(run=cmd_report)
    check = sub.add_parser("check", help="grade one filled-in notebook, privately")
    check.add_argument("notebook", help="path to your filled-in notebook, e.g. release/part_b/b1_forward.ipynb")
    check.add_argument("--unsandboxed", action="store_true",
                       help="run the notebook without the sandbox (where bubblewrap cannot run)")
    check.set_defaults(run=cmd_check)
    args = parser.parse_args(argv)
    _quiet()
    try:
        return args.run(args)
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        print(f"course {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"course {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
