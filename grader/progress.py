"""A progress bar for grading a class: students done, notebooks per second, time left.

`course grade` on 300 students would print 300 lines; on a terminal it shows one live bar
instead (tqdm). It moves a notebook at a time (begin(): a student's next notebook starts, so the
one before is done), so that grading one student (`--student X`) shows progress too. When the
output is not a terminal (a log file, CI, a pipe) the bar stays quiet and the caller prints its
usual line per student.
"""
import sys
import threading

BAR_FORMAT = ("{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} notebooks "
              "[{elapsed} elapsed, {remaining} left, {rate_noinv_fmt}]")


class GradingProgress:
    """A bar over `notebooks` notebooks of `students` students.

    begin(student, of): a notebook of `student` (who has `of` to grade) starts, so the one before
    it is done. done(student, notebooks): `student` is graded, all `notebooks` of theirs counted.
    update(notebooks): one more student graded, with that many notebooks not counted yet.
    write(text): a line printed above the bar. `shown` is False when the bar is off (file not a
    terminal, or enabled=False); then nothing is printed. begin() may be called from another
    thread than the others.
    """

    def __init__(self, students, notebooks, enabled=None, file=None):
        self.students, self.done_students = students, 0
        self.file = file = file or sys.stdout
        if enabled is None:
            enabled = hasattr(file, "isatty") and file.isatty()
        self.shown = bool(enabled) and students > 0
        self.bar = None
        self._lock = threading.Lock()
        self._begun, self._counted, self._finished = {}, {}, set()
        if self.shown:
            from tqdm import tqdm

            self.bar = tqdm(total=notebooks, desc=self._desc(), unit="notebook", file=file,
                            bar_format=BAR_FORMAT, dynamic_ncols=True, smoothing=0.1)

    def _desc(self):
        return f"graded {self.done_students}/{self.students} students"

    def begin(self, student, of):
        with self._lock:
            if student in self._finished:
                return
            self._begun[student] = begun = self._begun.get(student, 0) + 1
            # the first start finishes nothing; a student graded again (after their grading
            # process died) starts over, and is never counted past their last notebook
            if begun > 1 and self._counted.get(student, 0) < of - 1:
                self._counted[student] = self._counted.get(student, 0) + 1
                if self.bar is not None:
                    self.bar.update(1)

    def done(self, student, notebooks):
        with self._lock:
            self._finished.add(student)
            left = max(0, notebooks - self._counted.get(student, 0))
        self.update(left)

    def update(self, notebooks):
        with self._lock:
            self.done_students += 1
            if self.bar is not None:
                self.bar.set_description_str(self._desc(), refresh=False)
                self.bar.update(notebooks)

    def write(self, text):
        if self.bar is not None:
            with self._lock:
                self.bar.write(text, file=self.file)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
