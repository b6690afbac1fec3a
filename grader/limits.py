"""A cap on every output field grading writes into an autograded notebook (CapOutputs).

nbgrader's LimitOutput keeps 200 lines of a cell's printed output and 60 lines of a traceback,
but not their length: one print of a 10 MB string, an error whose message quotes a 10 MB answer,
or a 10 MB text/plain result passes it, and lands in the autograded notebook and in the HTML
feedback made from it (a 76 MB autograded notebook, a 38 MB feedback page). CapOutputs runs in
autograde right after LimitOutput and caps each field, then each cell's outputs, then the whole
notebook's, every cut marked "[... N more characters not shown]".

The caps are far above what the course's own notebooks print: run top to bottom with every
figure drawn, the largest stream output is 593 characters, the largest text/plain 319, text/latex
542, image/png (a figure, of a cell the grader skips) 171 thousand, one cell's outputs 171
thousand, one notebook's (B5) 317 thousand. Sizes are characters of the outputs' JSON, as saved.

Capping never changes a score. nbgrader scores a test cell by its first error, stderr or
execute_result output (nbgrader.utils.determine_grade): those keep their type and place and are
only shortened; an execute_result whose text is a number keeps that number (nbgrader reads it as
partial credit); notes are stdout, which nbgrader does not score. Once a cell or the notebook is
over its budget, the cell's other outputs are left out, but its first error and the first output
nbgrader scores it by are kept, shortened to MAX_SHORT characters.
"""
import json

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

MAX_TEXT = 20_000            # characters of one text: a stream's, a text/plain's, an error's name or message (judge.MAX_OUTPUT of a test's prints)
MAX_TRACEBACK_LINE = 5_000   # characters of one traceback entry (IPython's are a frame each, under 2 thousand)
MAX_PAYLOAD = 1_000_000      # characters of any other mimetype's payload (a PNG figure is under 200 thousand)
MAX_METADATA = 10_000        # characters of an output's metadata (an image's width and height)
MAX_CELL = 2_000_000         # characters of one cell's outputs
MAX_NOTEBOOK = 5_000_000     # characters of one notebook's outputs
MAX_SHORT = 2_000            # characters of each text of an output kept past its cell's or notebook's budget

CUT_TEXT = "text/plain"      # the only payload that is cut; any other (HTML, SVG, an image) cut would be broken


def note(n):
    """The mark of a cut: n characters left out."""
    return f"[... {n} more characters not shown]"


def _text(value):
    """A field that should hold text, as text: nbformat's list of lines joined, anything else a
    kernel sent as its JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return json.dumps(value, default=str)


def cut(value, limit):
    """The text of value if at most `limit` characters long, else its beginning and its end around
    a note (the end of an error's message names the mistake)."""
    text = _text(value)
    if len(text) <= limit:
        return text
    tail = limit // 4
    return text[:limit - tail] + f"\n{note(len(text) - limit)}\n" + (text[-tail:] if tail else "")


def result_text(value, limit):
    """An execute_result's text/plain cut to `limit` and read by nbgrader as the same partial
    credit (get_partial_grade): a number stays that number, written short; a text that is not
    one stays a text that is not one (a cut text carries its note); a list of several lines, full
    marks to nbgrader, is cut like a text."""
    if len(_text(value)) <= limit:
        return value
    single = value[0] if isinstance(value, list) and len(value) == 1 else value
    if isinstance(single, str):
        try:
            return repr(float(single))
        except ValueError:
            pass
    return cut(value, limit)


def _size(output):
    return len(json.dumps(output, ensure_ascii=False, default=str))


def _stdout(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text + "\n")


def _scored(output):
    """Whether nbgrader's determine_grade would score a test cell by this output."""
    kind = output.get("output_type")
    return kind in ("error", "execute_result") or (kind == "stream" and output.get("name") == "stderr")


class CapOutputs(NbGraderPreprocessor):
    """Cap every field of every output, then each cell's outputs and the notebook's; see the module."""

    max_text = Integer(MAX_TEXT, help="Characters kept of a stream's text, a text/plain payload, "
                                      "an error's name and message.").tag(config=True)
    max_traceback_line = Integer(MAX_TRACEBACK_LINE, help="Characters kept of each traceback line.").tag(config=True)
    max_payload = Integer(MAX_PAYLOAD, help="Characters of any other mimetype's payload (an image); a larger "
                                            "one is replaced by a note.").tag(config=True)
    max_metadata = Integer(MAX_METADATA, help="Characters of an output's metadata; larger is dropped.").tag(config=True)
    max_cell = Integer(MAX_CELL, help="Characters of one cell's outputs.").tag(config=True)
    max_notebook = Integer(MAX_NOTEBOOK, help="Characters of all the notebook's outputs.").tag(config=True)
    max_short = Integer(MAX_SHORT, help="Characters of each text of an output kept past its cell's or "
                                        "the notebook's budget (its first error, what it is scored by).").tag(config=True)

    def preprocess(self, nb, resources):
        left = self.max_notebook
        for cell in nb.cells:
            if cell.get("cell_type") != "code" or not cell.get("outputs"):
                continue
            outputs = [capped for output in cell.outputs for capped in self._cap(output)]
            cell.outputs, used = self._fit(outputs, min(self.max_cell, max(left, 0)))
            left -= used
        return nb, resources

    def _cap(self, output, text=None, line=None):
        """[output with each field capped, and a note for each payload left out]; [] for what is no
        output at all. text, line: the caps of its texts and traceback lines (default: the traits)."""
        text, line = text or self.max_text, line or self.max_traceback_line
        if not isinstance(output, dict):
            return []
        kind, notes = output.get("output_type"), []
        if kind == "stream":
            output["text"] = cut(output.get("text", ""), text)
        elif kind == "error":
            output["ename"] = cut(output.get("ename", ""), text)
            output["evalue"] = cut(output.get("evalue", ""), text)
            traceback = output.get("traceback") or []
            output["traceback"] = [cut(entry, line) for entry in (traceback if isinstance(traceback, list) else [traceback])]
        elif kind in ("display_data", "execute_result"):
            data = output.get("data") if isinstance(output.get("data"), dict) else {}
            for mimetype in list(data):
                if mimetype == CUT_TEXT:
                    data[mimetype] = (result_text if kind == "execute_result" else cut)(data[mimetype], text)
                elif (size := _size(data[mimetype])) > self.max_payload:
                    del data[mimetype]
                    notes.append(_stdout(f"[{mimetype} output of {size} characters not shown: the grader "
                                         f"keeps {self.max_payload}]"))
            output["data"] = data
            if _size(output.get("metadata", {})) > self.max_metadata:
                output["metadata"] = {}
            if not data and kind == "display_data":
                return notes
        return [output] + notes

    def _fit(self, outputs, budget):
        """(outputs kept of `outputs` in `budget` characters, characters they take). Past the budget
        only the first error and the first output nbgrader scores by are kept, shortened; a note
        where outputs were left out says how much."""
        kept, used, left_out, note_at = [], 0, 0, None
        scored = errored = False
        for output in outputs:
            size = _size(output)
            first = (_scored(output) and not scored) or (output.get("output_type") == "error" and not errored)
            scored, errored = scored or _scored(output), errored or output.get("output_type") == "error"
            if used + size > budget:
                note_at = len(kept) if note_at is None else note_at
                if not first:
                    left_out += size
                    continue
                output = self._shorten(output)
                left_out += max(size - _size(output), 0)
                size = _size(output)
            kept.append(output)
            used += size
        if left_out:
            mark = _stdout(f"{note(left_out)} (this cell's outputs are over the grader's limit)")
            kept.insert(note_at, mark)
            used += _size(mark)
        return kept, used

    def _shorten(self, output):
        """An output kept past the budget, each text at most max_short characters; an error keeps
        its name and message as its traceback (nbconvert shows the traceback), a result only its
        text/plain."""
        if output.get("output_type") == "error":
            output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        if output.get("output_type") == "execute_result":
            output["data"] = {k: v for k, v in output["data"].items() if k == CUT_TEXT}
            output["metadata"] = {}
        return self._cap(output, text=self.max_short, line=self.max_short)[0]
