"""The course's command line: `course release | demo | grade | export | report | check NOTEBOOK` (or python -m grader).

    course release             build release/ (students) and solution/ (self-learners) from source/
    course demo                the main job: build, grade a demo class of four, print the grade table
    course grade [--jobs N]    autograde what is in submitted/, write feedback and the CSV export,
                               then the class report and, given a roster, the LMS files
    course export              rewrite exports/grades.csv and the LMS files from the gradebook, without
                               grading: after grading written answers in formgrader
    course report              write the class report (exports/class-report.html) from the gradebook
    course check NOTEBOOK      grade one filled-in notebook against the hidden tests, privately

The course folder is the one the command runs in (or the nearest one above it), or --root PATH:
never another. Every command that writes says first which folder it works on.

exit status: 0 done; 1 `course check`: a test fails; 2 refused, nothing done (bad use: no course
folder, an unknown student, assignment or notebook, a gradebook that cannot be opened, a folder
that cannot be written, another command at work, no sandbox); 3 started and failed (the grader
itself for some student, or the machine: a full disk); 130 interrupted (Ctrl-C).
"""
import argparse
import signal
import sys
import threading
from pathlib import Path

from grader import coursedir
from grader.coursedir import Refused

PROG = "course"


def _quiet():
    """nbgrader logs every step; the commands print their own summary instead."""
    import logging
    import warnings

    logging.getLogger("traitlets").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # nbgrader's own gradebook code trips SQLAlchemy's autoflush warning on every submission
    warnings.filterwarnings("ignore", message="Object of type .* not in session")


# --------------------------------------------------------------------------- before any work

def _root(args, writes=()):
    """The course folder of this command (--root, else the current folder or one above it),
    said first; Refused when there is none, or when `writes` (its folders and files the command
    writes) cannot be written."""
    root = coursedir.given_root(args.root) if args.root else coursedir.course_root()
    print(f"course folder: {root}", flush=True)
    if writes:
        coursedir.require_writable(root, writes)
    return root


def _grading_runs_here(command):
    """Refused on Windows: the grader forks its judge, passes sockets between processes and
    times the judge's calls with SIGALRM, none of which Windows has."""
    if sys.platform == "win32":
        raise Refused(f"course {command} does not run on Windows: the grader forks processes and uses POSIX "
                      "signals, which Windows lacks; grade on Linux (or in WSL 2), or on JupyterHub. On Windows "
                      "the notebooks and their visible tests work in JupyterLab")


def _gradebook_url(root, db_url=None):
    """The gradebook URL the command uses: --db-url, else nbgrader_config.py's (COURSE_DB_URL or
    gradebook.db in the course folder)."""
    return db_url or coursedir.make_api(root).coursedir.db_url


def _writable_gradebook(root, url):
    """Refused unless the gradebook `url` can be opened (grader.coursedir.check_gradebook) and,
    SQLite, written: the file and its folder, where SQLite writes its journal."""
    coursedir.check_gradebook(url)
    path = coursedir.sqlite_path(url) if str(url).startswith("sqlite") else None
    if path is not None:
        coursedir.require_writable(root, [path.resolve(), path.resolve().parent])


# --------------------------------------------------------------------------- the commands

def cmd_release(args):
    root = _root(args, writes=("release", "solution"))
    from grader import build  # (imported once the folder is known: nbgrader takes seconds to import)

    url = _gradebook_url(root)
    with coursedir.exclusive(root, url):
        _writable_gradebook(root, url)
        written = build.release(root)
    print(f"wrote {len(written)} notebooks into release/ and solution/")
    return 0


def _report(grades, root):
    from grader import table

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


def _with_saved(grades, root):
    """For a run over part of the course (grades.selection): each student's rows with those of
    the notebooks not graded now as the last runs left them (exports/grading-results.json), so
    that saving this run's results keeps what is known of the others."""
    from grader import report
    from grader.record import NotebookGrade

    if getattr(grades, "selection", None) is None:
        return grades
    saved = report._load_results(root)
    merged = type(grades)()
    merged.failures, merged.notes = grades.failures, grades.notes
    for student, rows in grades.items():
        names = {r.name for r in rows}
        kept = [NotebookGrade(*name.split("/", 1), problem=entry.get("problem", ""), reason=entry.get("reason", ""),
                              flags=list(entry.get("flags", [])))
                for name, entry in saved.get(student, {}).get("notebooks", {}).items()
                if name not in names and "/" in name]
        merged[student] = [*rows, *kept]
    return merged


def _after_grading(grades, root, roster, db_url=None, **options):
    """The class report and the LMS files (`options`: _lms's), once a class (or part of it) has
    been graded."""
    from grader import report

    report.save_results(root, _with_saved(grades, root))
    _lms(root, roster, db_url, **options)
    _class_report(root, db_url)


def _lms(root, roster, db_url=None, autograded_only=False, percent=False, bom=False):
    """Write exports/canvas.csv and moodle.csv (grader.lms.export_all, with its options) and say
    what is in them, and what is not: students not in the roster, and assignments left out (or
    marked) because written answers are not graded yet."""
    from grader import lms

    roster = Path(roster)
    if not roster.is_file():
        print(f"\nLMS files: no roster at {roster}; see README, 'After grading', for its format")
        return
    api = coursedir.make_api(root, **({"db_url": db_url} if db_url else {}))
    try:
        done = lms.export_all(api, root / "exports", roster, autograded_only=autograded_only, percent=percent,
                              bom=bom)
    except ValueError as error:  # the grades are in; only the LMS files are missing
        print(f"\nLMS files not written: {error}")
        return
    print()
    for key, plugin in done.items():
        if plugin.written:
            print(f"{key.title()} import file: {plugin.written}"
                  + (" (scores as percentages of each assignment's maximum)" if percent else ""))
        else:
            print(f"{key.title()} import file: NOT written: "
                  + ("no assignment is fully graded" if plugin.refused else "the gradebook has no assignment"))
        if plugin.missing:
            print(f"  NOT in it (not in the roster {roster.name}, or no {plugin.required}): "
                  f"{', '.join(plugin.missing)}")
    plugin = done["canvas"]  # the same assignments wait for both files (those of the roster's students)
    for name in plugin.partial:
        print(f"  {name}: AUTOGRADED POINTS ONLY (--autograded-only), and its header says so: "
              f"{plugin.waiting[name]}, counted as 0")
    for name in plugin.refused:
        print(f"  {name} NOT in them: {plugin.waiting[name]}; grade them in formgrader, then run `course export` "
              "(or add --autograded-only for a column of the points given so far, marked as such)")


def _class_report(root, db_url=None):
    from grader import report

    built, path = report.build(root, db_url)
    print("\n" + report.summary(built))
    print(f"\nClass report: {path}")


DEMO_WRITES = ("release", "solution", "submitted", "autograded", "feedback", "exports")
GRADE_WRITES = ("autograded", "feedback", "exports", "grading.log", coursedir.GRADING_KEY)


def cmd_demo(args):
    _grading_runs_here("demo")
    root = _root(args, writes=DEMO_WRITES + GRADE_WRITES)
    from grader import democlass, lms

    url = _gradebook_url(root)
    with coursedir.exclusive(root, url):
        _writable_gradebook(root, url)
        grades = democlass.demo(root, progress=lambda m: print(m, flush=True), bar=True)
        _report(grades, root)
        _after_grading(grades, root, lms.demo_roster(root / "exports" / "demo-roster.csv", grades))
    return 0


def _dry_run(root, chosen, url, unsandboxed):
    """What `course grade` would grade, and where, without grading or writing anything."""
    from grader.table import short_name

    kernels = "without the sandbox (--unsandboxed)" if unsandboxed else "in the sandbox"
    parts = list(dict.fromkeys(n.split("/", 1)[0] for n in chosen.notebooks))
    print(f"would grade {len(chosen.students)} student(s), {len(chosen.notebooks)} notebook(s) each "
          f"({', '.join(parts)}), kernels {kernels}, into the gradebook {coursedir.shown_url(url)}:")
    width = max(len(s) for s in chosen.students)
    for student in chosen.students:
        handed = chosen.handed_in[student]
        said = []
        for part in parts:
            mine = [n for n in chosen.notebooks if n.startswith(f"{part}/")]
            if not (root / "submitted" / student / part).is_dir():
                said.append(f"{part} not handed in")
                continue
            missing = [short_name(n.split("/", 1)[1]) for n in mine if not handed[n]]
            said.append(f"{part} {len(mine) - len(missing)} of {len(mine)}"
                        + (f" (not handed in: {' '.join(missing)})" if missing else ""))
        print(f"  {student:{width}s}  " + "; ".join(said))
    for note in chosen.notes:
        print(f"note: {note}")
    print("dry run: nothing was graded or written")


def cmd_grade(args):
    _grading_runs_here("grade")
    root = _root(args, writes=GRADE_WRITES)
    from grader import grading, sandbox

    chosen = grading.plan(root, args.student, args.assignment, args.notebook)
    roster = Path(args.roster) if args.roster else root / "roster.csv"
    if args.roster and not roster.is_file():
        raise Refused(f"--roster {args.roster}: no such file")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise Refused(f"--json {args.json}: the folder {Path(args.json).resolve().parent} does not exist")
    url = _gradebook_url(root, args.db_url)
    with coursedir.exclusive(root, url):  # (a dry run is refused, too, while another run is at work)
        _writable_gradebook(root, url)
        sandbox.require(args.unsandboxed)  # before anything is written: SandboxMissing says why
        if args.dry_run:
            _dry_run(root, chosen, url, args.unsandboxed)
            return 0
        if chosen.partial:
            print(f"grading only {', '.join(chosen.notebooks)}: the other notebooks' grades, autograded "
                  "notebooks and feedback stay as they are", flush=True)
        grades = grading.grade_class(root, students=chosen.students, jobs=args.jobs,
                                     timeout=args.timeout, memory_mb=args.memory_limit or grading.DEFAULT_MEMORY_MB,
                                     db_url=args.db_url, progress=lambda m: print(m, flush=True), bar=True,
                                     unsandboxed=args.unsandboxed, assignment_ids=args.assignment,
                                     notebooks=args.notebook)
        _report(grades, root)
        _after_grading(grades, root, roster, args.db_url, **_lms_options(args))
    if args.json:
        from grader import table

        table.write_json(grades, args.json)
    return 3 if grades.failures else 0


def cmd_export(args):
    root = _root(args, writes=("exports",))
    from grader import record

    roster = Path(args.roster) if args.roster else root / "roster.csv"
    if args.roster and not roster.is_file():
        raise Refused(f"--roster {args.roster}: no such file")
    url = _gradebook_url(root, args.db_url)
    with coursedir.exclusive(root, url):  # not while a grading run writes the gradebook
        coursedir.check_gradebook(url, must_exist=True)
        api = coursedir.make_api(root, **({"db_url": args.db_url} if args.db_url else {}))
        path = record.export_csv(api, root / "exports" / "grades.csv")
        print(f"export: {path}")
        _lms(root, roster, args.db_url, **_lms_options(args))
    return 0


def _lms_options(args):
    """The LMS files' options of a command's arguments (_lms's keywords)."""
    return {"autograded_only": args.autograded_only, "percent": args.percent, "bom": args.bom}


def cmd_report(args):
    root = _root(args, writes=("exports",))
    coursedir.check_gradebook(_gradebook_url(root, args.db_url), must_exist=True)
    _class_report(root, args.db_url)
    return 0


def cmd_check(args):
    from grader import selfcheck

    _grading_runs_here("check")
    root = _root(args)
    selfcheck.find_source(root, args.notebook)  # refuses a notebook of no course at once
    row, tests = selfcheck.check_notebook(args.notebook, root, unsandboxed=args.unsandboxed)
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


# --------------------------------------------------------------------------- the parser

# What an interrupted command leaves behind (Ctrl-C; nbgrader turns it into a failed step, so
# the command line notes the signal itself: _on_interrupt)
INTERRUPTED = {
    "release": "interrupted: release/ and solution/ may be incomplete; run `course release` again before "
               "handing them out",
    "demo": "interrupted: the demo students graded so far are recorded; run `course demo` again",
    "grade": "interrupted: the students graded so far are recorded; run it again (or with --student) for the rest",
}
_interrupted = False


def _on_interrupt(signum, frame):
    global _interrupted
    _interrupted = True
    signal.default_int_handler(signum, frame)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (and where to read more), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


MEMORY_MB = 4096  # shown by --help; grader.grading.DEFAULT_MEMORY_MB is the default (tests/test_cli.py)


def _version():
    from importlib import metadata

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"{PROG} {version('batchnorm-tutorial10-course')} (nbgrader {version('nbgrader')}, "
            f"Python {sys.version.split()[0]}, {sys.platform})")


def parser():
    common = Parser(add_help=False)
    common.add_argument("--root", metavar="PATH", default=argparse.SUPPRESS,
                        help="the course folder (default: the current folder, or the nearest one above it "
                             "that holds nbgrader_config.py and source/)")
    main = Parser(prog=PROG, description=__doc__.splitlines()[0], parents=[common],
                  formatter_class=argparse.RawDescriptionHelpFormatter,
                  epilog="\n".join(__doc__.splitlines()[2:]))
    main.add_argument("--version", action="version", version=_version())
    sub = main.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    lms_files = Parser(add_help=False)
    lms_files.add_argument("--roster", metavar="CSV", help="the roster for the Canvas and Moodle files "
                                                           "(default: roster.csv in the course folder)")
    lms_files.add_argument("--autograded-only", action="store_true",
                           help="also write the LMS column of an assignment whose written answers are not all "
                                "graded yet, with the points given so far (ungraded answers count 0), its header "
                                "marked '(autograded points only)'; without it such a column is left out")
    lms_files.add_argument("--percent", action="store_true",
                           help="LMS scores as percentages of each assignment's maximum, headers marked '(%%)': "
                                "for a grade item out of 100 (a new Moodle grade item's maximum; docs/lms.md)")
    lms_files.add_argument("--bom", action="store_true",
                           help="begin the LMS files with a UTF-8 byte order mark, for Excel")

    def command(name, run, summary, description, parents=()):
        p = sub.add_parser(name, help=summary, description=description, parents=[common, *parents])
        p.set_defaults(run=run)
        return p

    command("release", cmd_release, "build release/ and solution/ from source/",
            "Build the students' notebooks (release/) and the self-learners' solutions with their mark "
            "schemes (solution/) from the instructor's source/, with nbgrader's generate_assignment and "
            "generate_solution, and record the assignments in the gradebook.")
    command("demo", cmd_demo, "build, grade the demo class, print the table",
            "Build the release, write a demo class of four students (demo-perfect, demo-empty, "
            "demo-partly-wrong, demo-crashing) into submitted/, grade it and print the grade table, "
            "the class report and demo LMS files. Only the demo-* students are touched.")
    grade = command("grade", cmd_grade, "autograde what is in submitted/",
                    "Autograde every student folder in submitted/ (or the students, assignments and "
                    "notebooks named), each notebook in a sandboxed kernel, each test judged by the "
                    "grader; write the feedback, the gradebook, exports/grades.csv, the class report "
                    "and, with a roster, the Canvas and Moodle files. Exits 3 only when the grader "
                    "itself failed for some student.", parents=[lms_files])
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student, a folder of submitted/ (repeatable)")
    grade.add_argument("--assignment", action="append", metavar="PART",
                       help="grade only this assignment, e.g. part_b (repeatable)")
    grade.add_argument("--notebook", action="append", metavar="NAME",
                       help="grade only this notebook, e.g. b1 or b1_forward (repeatable)")
    grade.add_argument("--dry-run", action="store_true",
                       help="say what would be graded, and refuse what would be refused; grade and write nothing")
    grade.add_argument("--jobs", type=_positive, default=1, metavar="N",
                       help="grade N students at a time, in N processes (default 1)")
    grade.add_argument("--timeout", type=_positive, metavar="S",
                       help="seconds a cell may run (default: nbgrader_config.py)")
    grade.add_argument("--memory-limit", type=_positive, metavar="MB",
                       help=f"memory of a student's kernel and its grading process (default {MEMORY_MB})")
    grade.add_argument("--db-url", metavar="URL", help="gradebook URL, e.g. postgresql+psycopg://... "
                                                       "(default: COURSE_DB_URL or gradebook.db)")
    grade.add_argument("--json", metavar="PATH", help="also write {student: {notebook: score}} here")
    grade.add_argument("--unsandboxed", action="store_true",
                       help="run the students' kernels without the sandbox (bubblewrap), with the "
                            "grader's rights: only where it cannot run, and for code you trust")
    export = command("export", cmd_export, "rewrite grades.csv and the LMS files from the gradebook",
                     "Rewrite exports/grades.csv and, with a roster, the Canvas and Moodle files from the "
                     "gradebook, without grading again: run it after grading the written answers in "
                     "formgrader (course grade writes them itself after grading). An assignment whose written "
                     "answers are not all graded gets no LMS column (it says which and how many), unless "
                     "--autograded-only. Exits 0 when done (also when a column is left out), 2 when refused.",
                     parents=[lms_files])
    export.add_argument("--db-url", metavar="URL", help="gradebook URL (default: COURSE_DB_URL or gradebook.db)")
    report = command("report", cmd_report, "write the class report from the gradebook",
                     "Write the class report, exports/class-report.html (what the class got wrong, score "
                     "distributions, what waits for the teaching team), from the gradebook and the "
                     "autograded notebooks, e.g. after grading written answers in formgrader.")
    report.add_argument("--db-url", metavar="URL", help="gradebook URL (default: COURSE_DB_URL or gradebook.db)")
    check = command("check", cmd_check, "grade one filled-in notebook, privately",
                    "Grade one filled-in notebook against the hidden tests, in a scratch course that "
                    "shares nothing with the class's gradebook, and print each test's points and "
                    "message. Exits 0 when every test passes, 1 when one fails.")
    check.add_argument("notebook", help="path to your filled-in notebook, e.g. release/part_b/b1_forward.ipynb")
    check.add_argument("--unsandboxed", action="store_true",
                       help="run the notebook without the sandbox (where bubblewrap cannot run: macOS, "
                            "some containers)")
    return main


def main(argv=None):
    global _interrupted
    args = parser().parse_args(argv)
    args.root = getattr(args, "root", None)
    _quiet()
    from grader.sandbox import SandboxMissing

    _interrupted = False
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        return _run(args, SandboxMissing)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _run(args, SandboxMissing):
    """args.run(args), every failure said in one line, with its exit status (see the top)."""
    try:
        return args.run(args)
    except (Refused, SandboxMissing) as error:
        print(f"{PROG} {args.command}: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: {INTERRUPTED.get(args.command, 'interrupted')}", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (a Ctrl-C that nbgrader reported as a failed step)
        if not _interrupted:
            return _failed(args, error)
        print(f"{PROG} {args.command}: {INTERRUPTED.get(args.command, 'interrupted')}", file=sys.stderr)
        return 130


def _failed(args, error):
    """The exit status of a command that raised `error`, said in one line (a bug: its traceback)."""
    if isinstance(error, ValueError):  # a file the command was given that it cannot use
        print(f"{PROG} {args.command}: {_one_line(error)}", file=sys.stderr)
        return 2
    if isinstance(error, (OSError, RuntimeError)):  # the machine (a full disk, ...) or nbgrader failed
        print(f"{PROG} {args.command}: failed: {_one_line(error)}", file=sys.stderr)
        return 3
    import traceback

    traceback.print_exception(error)
    print(f"{PROG} {args.command}: failed with an unexpected error, a bug of the grader (the traceback is "
          "above); what was recorded before it stays", file=sys.stderr)
    return 3


FULL = ("No space left", "File too large", "Disk quota exceeded", "database or disk is full")


def _one_line(error):
    """An error as one line: its first line, and the last of any detail below it; a full disk
    says what to do."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if isinstance(error, OSError) and getattr(error, "filename", None):
        text = f"{error.strerror or error} ({error.filename})"
    elif not lines:
        text = type(error).__name__
    else:  # the first line, when it says why (grader.coursedir.require_success); else the last too
        text = lines[0] if len(lines) == 1 or not lines[0].endswith(":") else f"{lines[0].rstrip(':')}: {lines[-1]}"
    if any(phrase in text for phrase in FULL):
        text += "; the disk is full (or a file-size limit applies): free some space and run the command again"
    return text


if __name__ == "__main__":
    sys.exit(main())
