"""A progress bar for grading a class: students done, notebooks per second, time left.

`course grade` on 300 students would print 300 lines; on a terminal it shows one live bar
instead (tqdm). When the output is not a terminal (a log file, CI, a pipe) the bar stays
quiet and the caller prints its usual line per student.
"""
import sys

BAR_FORMAT = ("{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} notebooks "
              "[{elapsed} elapsed, {remaining} left, {rate_noinv_fmt}]")


class GradingProgress:
    """A bar over `notebooks` notebooks of `students` students.

    update(notebooks): one more student graded, with that many notebooks. write(text): a line
    printed above the bar. `shown` is False when the bar is off (file not a terminal, or
    enabled=False); then update() and write() do nothing and print nothing.
    """

    def __init__(self, students, notebooks, enabled=None, file=None):
        self.students, self.done = students, 0
        self.file = file = file or sys.stdout
        if enabled is None:
            enabled = hasattr(file, "isatty") and file.isatty()
        self.shown = bool(enabled) and students > 0
        self.bar = None
        if self.shown:
            from tqdm import tqdm

            self.bar = tqdm(total=notebooks, desc=self._desc(), unit="notebook", file=file,
                            bar_format=BAR_FORMAT, dynamic_ncols=True, smoothing=0.1)

    def _desc(self):
        return f"graded {self.done}/{self.students} students"

    def update(self, notebooks):
        self.done += 1
        if self.bar is not None:
            self.bar.set_description_str(self._desc(), refresh=False)
            self.bar.update(notebooks)

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text, file=self.file)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
