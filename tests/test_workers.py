"""The grading processes (grader.workers): one that dies costs only its task, and none can
signal the process that started them."""
import os
import signal

import pytest

from grader import sandbox
from grader.workers import Workers


def _nothing():
    pass


def _try_to_kill(task, report):
    """What a taken-over worker would do: signal the grading run's process, and look for it."""
    try:
        os.kill(task["main"], signal.SIGKILL)
        outcome = "signalled"
    except ProcessLookupError:
        outcome = "no such process"
    except PermissionError:
        outcome = "not permitted"
    visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    from grader import sandbox

    return outcome, visible, sandbox.sandbox_uid()


def _dies(task, report):
    report("where it dies")
    os._exit(3)


@pytest.mark.skipif(sandbox.available() is not None and not os.environ.get("CI"), reason=str(sandbox.available()))
def test_an_isolated_worker_cannot_signal_or_see_the_grading_run():
    main = os.getpid()
    with Workers(2, _nothing, (), _try_to_kill, isolate=True) as pool:
        assert pool.isolated, "bubblewrap could not give the workers a PID namespace of their own"
        for _ in range(2):
            pool.submit({"main": main})
        results = [result for task, result, died_at in pool.results()]
    assert len(results) == 2
    for kind, (outcome, visible, _) in results:
        assert kind == "done" and outcome == "no such process", outcome
        assert main not in visible and len(visible) <= 3, visible
    # every worker has pid 2 in its namespace: their kernels' user ids (and process limits) differ all the same
    assert results[0][1][2] != results[1][1][2], "two workers' kernels share a user id"
    assert os.getpid() == main  # still here


def test_a_worker_that_dies_costs_its_task_only_and_is_replaced():
    with Workers(1, _nothing, (), _dies, isolate=True) as pool:
        pool.submit({"n": 1})
        pool.submit({"n": 2})
        outcomes = [(task["n"], result, died_at) for task, result, died_at in pool.results()]
    assert outcomes == [(1, None, "where it dies"), (2, None, "where it dies")]
