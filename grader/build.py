"""Build release/ and solution/ from source/ (nbgrader's generate_assignment and generate_solution)."""
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from grader.coursedir import assignments, course_root, make_api, require_success, working_directory


class StripHiddenTraces(NbGraderPreprocessor):
    """Reduce every error in a feedback notebook to its message.

    nbgrader puts hidden tests back before grading, so a traceback in the feedback would quote
    hidden test code; the student sees what failed and why, not how it was tested. (An nbgrader
    preprocessor: enabled by default, unlike nbconvert's.)
    """

    enabled = True  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


def release(root=None):
    """Generate the student version of every assignment into release/ and the solutions into
    solution/ (nbgrader generate_assignment and generate_solution). Returns the written paths."""
    from nbgrader.converters import GenerateSolution as SolutionConverter
    from nbgrader.utils import capture_log, temp_attrs

    root = Path(root or course_root())
    api = make_api(root)
    written = []
    with working_directory(root):
        for assignment in assignments(root):
            require_success(api.generate_assignment(assignment, force=True), f"generate_assignment {assignment}")
            with temp_attrs(api.coursedir, assignment_id=assignment):
                app = SolutionConverter(coursedir=api.coursedir, parent=api)
                app.force = True
                require_success(capture_log(app), f"generate_solution {assignment}")
            for folder in ("release", "solution"):
                written += sorted((root / folder / assignment).glob("*.ipynb"))
    for path in written:
        _normalise(path)
    return written


def _normalise(path):
    """Rewrite a generated notebook in nbformat's canonical layout so regenerating is byte-stable."""
    nb = nbformat.read(path, as_version=4)
    nbformat.write(nb, str(path))
