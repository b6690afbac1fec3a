"""Answers to A1 (the forward-pass formulas, typed as SymPy expressions) beside the reference solution."""
from answers import Answer

MU, VAR, XHAT, Y = "a1-mu", "a1-var", "a1-xhat", "a1-y"

# Each test grades its own formula on top of the student's earlier answers (or the references):
# one mistake costs one task.
ONE_TASK_PER_MISTAKE = True

WRONG = [
    Answer("variance divided by m - 1", {VAR: """
        sigma2_B = Sum((x[j] - mu_B)**2, (j, 1, m)) / (m - 1)
        """}, says="a factor m/(m - 1)"),
    Answer("no eps in the normalization", {XHAT: """
        x_hat_i = (x[i] - mu_B) / sqrt(sigma2_B)
        """}, says="does not depend on eps but should"),
    Answer("eps outside the square root", {XHAT: """
        x_hat_i = (x[i] - mu_B) / (sqrt(sigma2_B) + eps)
        """}, says="outside the square root"),
    Answer("y without beta", {Y: """
        y_i = gamma * x_hat_i
        """}, says="missing a term beta"),
    Answer("gamma and beta swapped", {Y: """
        y_i = beta * x_hat_i + gamma
        """}, says="swapped"),
    Answer("mean not divided by m", {MU: """
        mu_B = Sum(x[j], (j, 1, m))
        """}, says="not divided by m"),
    Answer("standard deviation instead of variance", {VAR: """
        sigma2_B = sqrt(Sum((x[j] - mu_B)**2, (j, 1, m)) / m)
        """}, says="standard deviation"),
    Answer("divides by the variance", {XHAT: """
        x_hat_i = (x[i] - mu_B) / (sigma2_B + eps)
        """}, says="instead of the standard deviation"),
    Answer("sum from 0 to m - 1 over x[j]", {MU: """
        mu_B = Sum(x[j], (j, 0, m - 1)) / m
        """}, says="run from 1 to m"),
    Answer("a string", {MU: """
        mu_B = "Sum(x[j], (j, 1, m)) / m"
        """}, says="is a string",
        # Kept at four tests: the string really breaks the later tasks. The cells of Tasks 2-4 type
        # their formulas with mu_B, as the notebook invites, and x[j] - "..." raises TypeError in the
        # student's kernel (SymPy never parses a string): sigma2_B, x_hat_i and y_i are not defined,
        # so there is no answer to grade, and each of those tests says that it builds on mu_B (Task 1).
        # Where the later answers exist without mu_B, a broken mu_B costs Task 1 only (the next answer).
        loses=("a1-test-mu", "a1-test-var", "a1-test-xhat", "a1-test-y")),
    Answer("mu_B's cell raises (a typo), the later formulas typed without mu_B", {
        MU: """
        mu_B = Sum(x[j], (j, 1, m)) / M
        """,
        VAR: """
        sigma2_B = Sum((x[j] - Sum(x[j], (j, 1, m)) / m)**2, (j, 1, m)) / m
        """,
        XHAT: """
        x_hat_i = (x[i] - Sum(x[j], (j, 1, m)) / m) / sqrt(sigma2_B + eps)
        """}, says="not defined", loses=("a1-test-mu",)),
    Answer("a float", {MU: """
        mu_B = 3.0
        """}, says="plain number"),
    Answer("an unknown symbol", {XHAT: """
        mu, sigma = sp.symbols("mu sigma")
        x_hat_i = (x[i] - mu) / sigma
        """}, says="does not define: mu, sigma"),
    Answer("None", {Y: """
        y_i = None
        """}, says="is None"),
    Answer("an equation instead of an expression", {Y: """
        y_i = sp.Eq(sp.Symbol("y"), gamma * x_hat_i + beta)
        """}, says="right-hand side"),
    Answer("the shorthand symbol itself", {MU: """
        mu_B = sp.Symbol("mu_B")
        """}, says="does not define"),
]

RIGHT = [
    Answer("dummy index i and 1/m inside the sum", {MU: """
        mu_B = Sum(x[i] / m, (i, 1, m))
        """}),
    Answer("variance as mean of squares minus square of mean", {VAR: """
        sigma2_B = Sum(x[j]**2, (j, 1, m)) / m - mu_B**2
        """}),
    Answer("everything written out, with a hand-made k and symbols", {
        MU: """
        k = sp.Symbol("k", integer=True)
        mu_B = Sum(x[k], (k, 1, m)) * m**-1
        """,
        XHAT: """
        x_hat_i = (x[i] - Sum(x[j], (j, 1, m)) / m) * (Sum((x[j] - Sum(x[j], (j, 1, m)) / m)**2, (j, 1, m)) / m + eps)**Rational(-1, 2)
        """}),
    Answer("y expanded", {Y: """
        y_i = gamma * x[i] / sqrt(sigma2_B + eps) - gamma * mu_B / sqrt(sigma2_B + eps) + beta
        """}),
    Answer("symbols re-created by hand with other assumptions", {Y: """
        g, b = sp.Symbol("gamma"), sp.Symbol("beta")
        y_i = b + g * x_hat_i
        """}),
]
