"""B5 speed: the two trainings of the experiment, the explorer's slider step, and the grading run.

    .venv/bin/python benchmarks/bench_b5.py

Targets: both trainings together within 10 s on a 2-core laptop; a slider step (new bar heights and a
re-rendered image) within 50 ms in the kernel; the notebook's grading run a few seconds.
Runs the reference solution of source/part_b/b5_covariate_shift.ipynb.
"""
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
os.environ.pop("NBGRADER_EXECUTION", None)

import nbrun  # noqa: E402  (sets the Agg backend)

NOTEBOOK = "part_b/b5_covariate_shift.ipynb"


def timed(f, *args):
    start = time.perf_counter()
    value = f(*args)
    return value, time.perf_counter() - start


def reference_namespace():
    """Run the notebook's setup and solution cells (not the experiment itself)."""
    namespace = {"__name__": "__main__"}
    for cell in nbrun.load(NOTEBOOK).cells:
        m = nbrun.meta(cell)
        if cell.cell_type == "code" and (m.get("solution") or m.get("grade_id") in ("b5-setup", "b5-checks", "b5-bn")):
            exec(compile(cell.source, "<cell>", "exec"), namespace)
    return namespace


def main():
    ns = reference_namespace()
    print(f"B5 benchmark: {os.cpu_count()} cores; {ns['EPOCHS']} epochs, recorded every {ns['RECORD_EVERY']}, "
          f"{ns['DEPTH']} hidden layers of {ns['HIDDEN']} {ns['ACTIVATION']} units\n")

    sizes = (64,) + (ns["HIDDEN"],) * ns["DEPTH"] + (10,)
    times = {}
    histories = {}
    for key, batchnorm in (("plain", None), ("bn", ns["BN"])):
        net = ns["MLP"](sizes, ns["ACTIVATION"], batchnorm=batchnorm, seed=ns["SEED"], weight_scale=ns["WEIGHT_SCALE"])
        histories[key], times[key] = timed(ns["train_and_record"], net, ns["DATA"])
    total = times["plain"] + times["bn"]
    print("training (30 epochs, with recording)")
    print(f"  without BN          {times['plain']:6.2f} s")
    print(f"  with BN             {times['bn']:6.2f} s")
    print(f"  both                {total:6.2f} s   (target <= 10 s: {'ok' if total <= 10 else 'TOO SLOW'})")

    explorer, build = timed(ns["visualize_covariate_shift"], histories["plain"], histories["bn"])
    steps = []
    for _ in range(3):
        for epoch in explorer.slider.options[1:] + explorer.slider.options[:1]:
            _, t = timed(setattr, explorer.slider, "value", epoch[1])
            steps.append(1000 * t)
    layer_changes = []
    for layer in (0, 1, 2, 3, 4):
        _, t = timed(setattr, explorer.layer_picker, "value", layer)
        layer_changes.append(1000 * t)
    median, worst = statistics.median(steps), max(steps)
    print("\nexplorer")
    print(f"  build (counts + first draw)   {1000 * build:6.1f} ms")
    print(f"  slider step, median           {median:6.1f} ms   (target <= 50 ms: {'ok' if median <= 50 else 'TOO SLOW'})")
    print(f"  slider step, slowest of {len(steps):3d}   {worst:6.1f} ms")
    print(f"  layer change (full redraw)    {statistics.median(layer_changes):6.1f} ms")

    result, t = timed(nbrun.run, nbrun.load(NOTEBOOK))
    print("\nnotebook, reference solution")
    print(f"  grading run (NBGRADER_EXECUTION), forked   {t:6.2f} s   score {result.score:g}/{result.max_score:g}")


if __name__ == "__main__":
    main()
