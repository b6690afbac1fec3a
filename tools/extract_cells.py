"""Write the source notebooks' code cells, and the hidden checks library beside them, to files
that tools reading Python files can see (notebook JSON they cannot):

    python tools/extract_cells.py /tmp/cells && duplicates --repo /tmp/cells

gives one file a cell, source/part_b/b2_backward/07-b2-test-hand.py, and a copy of grader/checks/.
"""
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def extract(target):
    target = Path(target)
    shutil.rmtree(target, ignore_errors=True)
    for path in sorted((ROOT / "source").glob("part_*/*.ipynb")):
        folder = target / "source" / path.parent.name / path.stem
        folder.mkdir(parents=True)
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and cell.source.strip():
                name = cell.metadata.get("nbgrader", {}).get("grade_id") or "cell"
                (folder / f"{index:02d}-{name}.py").write_text(cell.source + "\n")
    shutil.copytree(ROOT / "grader" / "checks", target / "grader" / "checks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/extract_cells.py FOLDER")
    print(extract(sys.argv[1]))
