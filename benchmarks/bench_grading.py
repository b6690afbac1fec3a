"""How fast `course grade` grades a class: per student, per notebook, serial and in parallel,
against plain nbgrader on the same submissions.

    .venv/bin/python benchmarks/bench_grading.py [--students 4] [--jobs 2]

In a scratch copy of the course, a class of students who hand in the reference solution of
every notebook is graded three times: autograde alone in one process, then with the feedback
HTML and the CSV export in one process, then in --jobs processes. So is a "floor" class, the
same number of trivial notebooks (one answer cell, one test cell each) through the same
pipeline on the same machine in the same run. Then plain nbgrader grades the same submissions
in another copy of the course, as an instructor would without this course's grader: nbgrader's
own configuration (the course id, gradebook and timeout of nbgrader_config.py, nbgrader's
default preprocessors), `nbgrader autograde` and `nbgrader generate_feedback` for each
assignment and `nbgrader export`.

Prints, per student, the autograde time of the course against the floor (goal: at most 1.3x),
the same with feedback and export, `course grade` (in the sandbox where it runs) against plain
nbgrader (goal: at most 0.3x), the floor's time per trivial notebook through the whole pipeline
(goal: at most 0.15 s), `course grade` as a multiple of the notebooks' own compute (every
solution notebook run top to bottom in one warm process, its tests with it: the limit no grader
can beat), where a student's time goes, stage by stage (one floor student and one course student
profiled in this process), the peak memory of the grading process, of a worker and of a kernel,
whether a worker's memory grows from student to student (--memory-students N: a class of N
graded by one worker, its first and last five compared), the speed-up of --jobs and a model of
how it scales with cores, and each notebook's own autograde time. Figures depend on the machine
and on what else runs on it: the load average is printed with them.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import nbformat  # noqa: E402

from grader import build, coursedir, democlass, grading, sandbox  # noqa: E402

import stages  # noqa: E402

PLAIN_CONFIG = """\
# plain nbgrader: what the course's nbgrader_config.py sets for the course, none of its grading
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "batchnorm-tutorial10"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ExecutePreprocessor.timeout = 120
"""


def nbgrader(root, *args):
    """Run an nbgrader command in the course `root`, as an instructor would."""
    command = [str(Path(sys.executable).parent / "nbgrader"), *args]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def plain_nbgrader(root, students):
    """Seconds plain nbgrader takes to autograde every submission, write the feedback and export
    the grades; and whether every student got every autograded point."""
    assignments = coursedir.assignments(root)
    for assignment in assignments:
        nbgrader(root, "generate_assignment", assignment, "--force")
    started = time.perf_counter()
    for assignment in assignments:
        nbgrader(root, "autograde", assignment, "--force")
    for assignment in assignments:
        nbgrader(root, "generate_feedback", assignment, "--force")
    nbgrader(root, "export", "--to", str(root / "plain-grades.csv"))
    seconds = time.perf_counter() - started
    rows = [r for r in coursedir.read_csv(root / "plain-grades.csv") if r["student_id"].startswith("student-")]
    manual = {assignment: _manual_points(root, assignment) for assignment in assignments}
    full = len(rows) == students * len(assignments) and all(
        float(r["raw_score"] or 0) >= float(r["max_score"] or 0) - manual[r["assignment"]] for r in rows)
    return seconds, full


def _manual_points(root, assignment):
    """Points of the written answers (graded by hand, so not in an autograde total)."""
    total = 0.0
    for path in coursedir.source_notebooks(root, assignment):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("points") and (cell.cell_type == "markdown" or meta.get("task")):
                total += float(meta["points"])
    return total


def perfect_class(root, students):
    """submitted/<student>/<part>/: the reference solution of every notebook, as handed in."""
    build.release(root)
    for index in range(students):
        for assignment in coursedir.assignments(root):
            target = root / "submitted" / f"student-{index + 1:03d}" / assignment
            target.mkdir(parents=True)
            for path in coursedir.source_notebooks(root, assignment):
                nbformat.write(democlass.demo_submission(root, "demo-perfect", assignment, path, False),
                               str(target / path.name))


def trivial_course(root, like):
    """A course with as many notebooks per assignment as `like`, each trivial, and a class of
    students who answer them all."""
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for assignment in coursedir.assignments(like):
        for path in coursedir.source_notebooks(like, assignment):
            nb = nbformat.v4.new_notebook()
            nb.metadata = nbformat.read(path, as_version=4).metadata
            nb.cells = [
                nbformat.v4.new_markdown_cell("# A trivial notebook"),
                nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 1\n### END SOLUTION", metadata={"nbgrader": {
                    "grade": False, "solution": True, "locked": False, "grade_id": "answer", "schema_version": 3,
                    "task": False}}),
                nbformat.v4.new_code_cell("assert answer == 1", metadata={"nbgrader": {
                    "grade": True, "solution": False, "locked": True, "grade_id": "test", "points": 1,
                    "schema_version": 3, "task": False}}),
            ]
            (root / "source" / assignment).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(root / "source" / assignment / path.name))


def grade(root, jobs, feedback, progress=lambda message: None):
    for folder in ("autograded", "feedback", "exports"):
        shutil.rmtree(root / folder, ignore_errors=True)
    started = time.perf_counter()
    grades = grading.grade_class(root, jobs=jobs, feedback=feedback, export=feedback,
                                 progress=progress, unsandboxed=sandbox.available() is not None)
    seconds = time.perf_counter() - started
    assert not grades.failures, grades.failures
    return seconds, grades


def profile_student(root, student):
    """stages.stage_breakdown of grading one student of `root` (feedback included) in this process,
    as a worker grades one: (seconds per stage, wall seconds)."""
    api = coursedir.make_api(root)
    grading._ensure_assignments(api, root)
    with tempfile.TemporaryDirectory(prefix="bench-template-") as template:
        sha = grading._seal_template(grading._build_template(root, Path(template)))
        task = dict(root=str(root), template=template, template_sha256=sha, student=student, timeout=None,
                    sandbox=sandbox.available() is None, feedback=True, duedates={},
                    sizes_key=coursedir.grading_key(root), notebooks=None)
        with coursedir.stderr_to(root / "grading.log"):  # the kernels' and nbgrader's chatter, as in a grading run
            seconds, wall, outcome = stages.stage_breakdown(grading.grade_student, task)
    assert not outcome.error and not any(row.problem for row in outcome.notebooks), outcome
    return seconds, wall


def cpu_seconds():
    """(CPU seconds of this process, of the whole machine): the machine's from /proc/stat, which
    counts every process, the sandboxed kernels and judges too, whatever their parents waited for
    (run on an otherwise quiet machine, it is the grading's)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return me.ru_utime + me.ru_stime, busy


def memory_class(scratch, students):
    """A class of `students` perfect students graded by one worker: (worker MB after each student, peak MB)."""
    from test_grading import copy_course

    root = Path(scratch) / "memory"
    root.mkdir()
    copy_course(root)
    perfect_class(root, students)
    with stages.MemorySampler(every=0.25) as sampler:
        grade(root, 1, True, progress=lambda message: sampler.mark(message) if message.startswith("graded") else None)
    return [mb for _, mb in sampler.marks], sampler.peak_mb


RUNS = (  # (label, jobs is parallel, with feedback and export)
    ("autograde", False, False),
    ("autograde + feedback + export", False, True),
    ("autograde + feedback + export", True, True),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--memory-students", type=int, default=0, metavar="N",
                        help="also grade a class of N students with one worker and compare its memory after the "
                             "first and the last five (30 takes about ten minutes on 2 cores)")
    args = parser.parse_args()
    from test_grading import copy_course

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        course = Path(scratch) / "course"
        course.mkdir()
        copy_course(course)
        floor = Path(scratch) / "floor"
        floor.mkdir()
        trivial_course(floor, course)
        plain = Path(scratch) / "plain"
        plain.mkdir()
        copy_course(plain)
        (plain / "nbgrader_config.py").write_text(PLAIN_CONFIG.format(root=str(plain)))
        perfect_class(course, args.students)
        perfect_class(floor, args.students)
        perfect_class(plain, args.students)
        notebooks = sum(len(coursedir.source_notebooks(course, a)) for a in coursedir.assignments(course))
        why = sandbox.available()
        print(f"{args.students} students x {notebooks} notebooks; {os.cpu_count()} cores; "
              f"kernels {'in the sandbox' if why is None else 'NOT sandboxed (' + why + ')'}; "
              f"load average before: {os.getloadavg()[0]:.2f}")
        results, memory, cpu = {}, {}, {}
        for label, parallel, feedback in RUNS:
            jobs = args.jobs if parallel else 1
            for name, root in (("course", course), ("floor", floor)):
                before = cpu_seconds()
                with stages.MemorySampler(every=0.25 if feedback and jobs == 1 else None) as sampler:
                    seconds, grades = grade(root, jobs, feedback)
                after = cpu_seconds()
                memory[name, jobs, feedback] = sampler.peak_mb
                cpu[name, jobs, feedback] = (after[0] - before[0], after[1] - before[1])
                results[name, jobs, feedback] = (seconds, grades)
                rows = [r for rows in grades.values() for r in rows]
                full = all(r.code_score == r.max_code_score for r in rows)
                print(f"  {name:6s} {label:30s} --jobs {jobs}: {seconds:6.1f} s "
                      f"({seconds / args.students:5.1f} s per student)"
                      f"{'' if full else '  (NOT all autograded points!)'}")
        plain_seconds, plain_full = plain_nbgrader(plain, args.students)
        print(f"  {'plain':6s} {'nbgrader autograde, feedback, export':30s} --jobs 1: {plain_seconds:6.1f} s "
              f"({plain_seconds / args.students:5.1f} s per student)"
              f"{'' if plain_full else '  (NOT all autograded points)'}")
        print(f"load average after: {os.getloadavg()[0]:.2f}\n")
        per = {k: v[0] / args.students for k, v in results.items()}
        for label, feedback in (("autograde only", False), ("with feedback and export", True)):
            course_s, floor_s = per["course", 1, feedback], per["floor", 1, feedback]
            print(f"per student, serial, {label + ':':26s} course {course_s:5.1f} s, floor {floor_s:5.1f} s "
                  f"-> {course_s / floor_s:.2f}x the floor (goal <= 1.3x)")
        ours, theirs = per["course", 1, True], plain_seconds / args.students
        print(f"per student, serial, `course grade` against plain nbgrader (autograde + feedback + export): "
              f"{ours:5.1f} s against {theirs:5.1f} s -> {ours / theirs:.2f}x (goal <= 0.3x)")
        floor_each = per["floor", 1, True] / notebooks
        print(f"a trivial notebook through the whole pipeline (the floor, autograde + feedback + export): "
              f"{floor_each:.2f} s (goal <= 0.15 s)")
        own = stages.own_compute(course, [p for a in coursedir.assignments(course)
                                          for p in coursedir.source_notebooks(course, a)])
        print(f"the notebooks' own code, run top to bottom in one warm process with their tests: "
              f"{sum(own.values()):5.1f} s a student -> `course grade` takes {ours / sum(own.values()):.1f}x that")
        for name in ("course", "floor"):
            print(f"speed-up with --jobs {args.jobs} ({name}): {per[name, 1, True] / per[name, args.jobs, True]:.2f}x")
        main_cpu, all_cpu = (x / args.students for x in cpu["course", 1, True])
        print(f"CPU per student (course, serial run): {all_cpu:.1f} s in all (workers, kernels, judges and the main "
              f"process, read off /proc/stat), of which {main_cpu:.1f} s in the main process, which alone writes the "
              "class gradebook (the serial part)")

        def model(students, cores):  # CPU-bound: the cores share the CPU time; the main process cannot be shared
            return students * max(all_cpu / cores, main_cpu)

        print(f"  model: with --jobs {args.jobs} on {os.cpu_count()} cores here {model(1, min(args.jobs, os.cpu_count())):.1f} s "
              f"a student; measured {per['course', args.jobs, True]:.1f} s")
        for students, cores in ((100, 2), (500, 8), (500, 32)):
            print(f"  model: {students} students on {cores} cores with --jobs {cores}: about "
                  f"{model(students, cores) / 60:.0f} min")
        print("\npeak resident memory (MB), serial run with feedback:")
        for name in ("course", "floor"):
            peak = memory[name, 1, True]
            print(f"  {name:6s} main process {peak['grader']:6.0f}, a grading worker {peak['worker']:6.0f}, "
                  f"a kernel {peak['kernel']:6.0f} (most of it shared with its zygote), "
                  f"the kernels' zygote {peak['zygote']:6.0f}")
        if args.memory_students:
            marks, peak = memory_class(scratch, args.memory_students)
            first, last = marks[:5], marks[-5:]
            print(f"  {args.memory_students} students, one worker: its memory after the first five "
                  f"{statistics.mean(first):.0f} MB, after the last five {statistics.mean(last):.0f} MB; "
                  f"largest kernel {peak['kernel']:.0f} MB, largest kernels' zygote {peak['zygote']:.0f} MB")
        print("\nwhere a student's time goes (one student graded in this process, feedback included; "
              "seconds per notebook):")
        breakdown = {name: profile_student(root, "student-001") for name, root in (("floor", floor), ("course", course))}
        names = [stage for stage, _ in stages.STAGES] + [stages.OTHER]
        print(f"  {'':58s} {'floor':>7s} {'course':>7s}")
        for stage in names:
            print(f"  {stage:58s} " + " ".join(f"{breakdown[n][0].get(stage, 0.0) / notebooks:7.3f}"
                                               for n in ("floor", "course")))
        print(f"  {'all (wall, under the profiler)':58s} " + " ".join(f"{breakdown[n][1] / notebooks:7.3f}"
                                                                    for n in ("floor", "course")))
        print("\nautograde time of each notebook (median over students, serial run; floor alongside):")
        course_rows = [r for rows in results["course", 1, False][1].values() for r in rows]
        floor_rows = [r for rows in results["floor", 1, False][1].values() for r in rows]
        for assignment in coursedir.assignments(course):
            for path in coursedir.source_notebooks(course, assignment):
                mine = statistics.median(r.seconds for r in course_rows if r.notebook == path.stem)
                base = statistics.median(r.seconds for r in floor_rows if r.notebook == path.stem)
                print(f"  {assignment}/{path.stem:28s} {mine:5.1f} s   (trivial: {base:4.1f} s)")


if __name__ == "__main__":
    main()
