"""The symbolic checks' shared step: grading an answer that builds on earlier answers (A1's
formulas on mu_B and sigma2_B, A4's derivatives on the ones before them), so that a mistake costs
the task it is in and a later task only says that it builds on it.

The answers come in as functions of no arguments (`lambda: sigma2_B`), read when the check needs
them, so that a name whose cell raised is reported with the earlier answer it builds on.
"""
import itertools

import sympy as sp

from course.symbolic import CheckFailed, check

_MISSING = object()


def _read(answer, missing=(NameError,)):
    """answer() (the student's value), or _MISSING when it raises one of `missing`: NameError when
    the cell that assigns it raised an error or did not run. Anything else (the grader's refusal of
    a reply it cannot read, BadReply) goes on to be the test's verdict."""
    try:
        return answer()
    except missing:
        return _MISSING


def graded(name, answer, formula, mistakes, upstream, **options):
    """Check an answer that builds on earlier answers, so that only its own mistakes count.

    Inputs:
    - name: the answer's name, e.g. "sigma2_B"; answer: a function of no arguments returning it
    - formula: f(*upstream values) -> the expected expression
    - mistakes: f(*upstream values) -> {description: expression} of the known mistakes
    - upstream: [(name, function returning the student's answer, its reference, the task that
      grades it)], the earlier answers this one may be typed with
    - options: keyword arguments of course.symbolic.check (shorthands, constants)
    The answer is compared with formula(*references). Where an upstream answer is wrong (its own
    check fails), it is also compared with the formula applied to the student's own upstream
    answers, and with those answers replaced by the references inside it. Returns the answer as
    it passed (with the references in, when that is how). Raises CheckFailed: the answer's own
    mistake, with a note naming the wrong upstream answers; or that it is not defined.
    """
    __tracebackhide__ = True
    refs = [ref for _, _, ref, _ in upstream]
    own = [_read(read, missing=Exception) for _, read, _, _ in upstream]  # unreadable: its own test says why
    wrong = set()
    for (n, _, ref, _), value in zip(upstream, own):
        try:
            check(n, value, ref, **options)
        except Exception:  # noqa: BLE001 (missing, malformed or wrong: its own test says which)
            wrong.add(n)
    named = " and ".join(f"your {n} ({task})" for n, _, _, task in upstream if n in wrong)
    marks = "its own test marks" if len(wrong) == 1 else "their own tests mark"
    value = _read(answer)
    if value is _MISSING:
        raise CheckFailed(f"{name} is not defined: the cell that assigns it raised an error or did not run."
                          + (f" It builds on {named}, which {marks} wrong: fix that first." if wrong else ""))
    try:
        check(name, value, formula(*refs), mistakes=mistakes(*refs), **options)
        return value
    except CheckFailed as e:
        if not wrong:
            raise
        failures = [(e, False)]
    choices = [[ref] + ([theirs] if n in wrong and theirs is not _MISSING else [])
               for (n, _, ref, _), theirs in zip(upstream, own)]
    for combo in list(itertools.product(*choices))[1:]:
        try:
            expected = formula(*combo)
            if isinstance(value, sp.Expr) and sp.expand(value - expected) == 0:
                return value  # the formula itself, applied to the student's own upstream answers
            check(name, value, expected, mistakes=mistakes(*combo), **options)
            return value
        except CheckFailed as e:
            failures.append((e, True))
        except Exception:  # noqa: BLE001 (an upstream answer that cannot be used here)
            continue
    swap = {theirs: ref for (n, _, ref, _), theirs in zip(upstream, own) if n in wrong and isinstance(theirs, sp.Basic)}
    if isinstance(value, sp.Basic) and swap and value.xreplace(swap) != value:
        try:
            check(name, value.xreplace(swap), formula(*refs), **options)
            return value.xreplace(swap)
        except Exception:  # noqa: BLE001 (not its upstream answers used as they are: graded as it is)
            pass
    e, built_on_theirs = next((f for f in failures[::-1] if f[0].mistake), failures[-1])
    one = len(wrong) == 1
    note = (f"  Your {name} is compared here with the formula applied to {named}, which {marks} wrong:"
            f" only the mistakes of {name} itself count here." if built_on_theirs else
            f"  Note: {named} {'is' if one else 'are'} wrong as well, and graded by {'its' if one else 'their'} "
            "own test, not here.")
    raise CheckFailed(f"{e}\n{note}", e.mistake)
