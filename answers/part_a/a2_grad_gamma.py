"""Answers to A2 (dL/dgamma and dL/dbeta as SymPy expressions) beside the reference solution."""
from answers import Answer

CELL, BETA = "a2-dgamma", "a2-dbeta"

ONE_TASK_PER_MISTAKE = True  # each test takes only its own answer

WRONG = [
    Answer("dL/dgamma equal to the sum of dy (that is dL/dbeta)", {CELL: """
        dL_dgamma = Sum(dy[j], (j, 1, m))
        """}, says="dL/dbeta"),
    Answer("one sample's term, no sum", {CELL: """
        dL_dgamma = dy[i] * x_hat[i]
        """}, says="sum over the batch is missing"),
    Answer("gamma multiplied in", {CELL: """
        dL_dgamma = gamma * Sum(dy[j] * x_hat[j], (j, 1, m))
        """}, says="a factor gamma"),
    Answer("x instead of x_hat", {CELL: """
        dL_dgamma = Sum(dy[j] * x[j], (j, 1, m))
        """}, says="x_i is used instead of x_hat_i"),
    Answer("an unevaluated Derivative", {CELL: """
        dL_dgamma = sp.Derivative(Sum(dy[j] * (gamma * x_hat[j] + beta), (j, 1, m)), gamma)
        """}, says="unevaluated Derivative"),
    Answer("j outside the sum", {CELL: """
        dL_dgamma = dy[j] * x_hat[j]
        """}, says="j outside a sum"),
    Answer("dL/dbeta without the sum over the batch", {BETA: """
        dL_dbeta = dy[i]
        """}, says="beta is shared by all m outputs"),
    Answer("dL/dbeta with x_hat (the gradient of gamma)", {BETA: """
        dL_dbeta = Sum(dy[j] * x_hat[j], (j, 1, m))
        """}, says="that is dL/dgamma"),
    Answer("dL/dbeta with gamma multiplied in", {BETA: """
        dL_dbeta = gamma * Sum(dy[j], (j, 1, m))
        """}, says="gamma scales x_hat_i only"),
    Answer("dL/dbeta averaged over the batch", {BETA: """
        dL_dbeta = Sum(dy[j], (j, 1, m)) / m
        """}, says="averaged"),
    Answer("dL/dbeta as the count of outputs", {BETA: """
        dL_dbeta = m
        """}, says="drop the upstream gradients"),
    Answer("dL/dbeta as the plain number 1", {BETA: """
        dL_dbeta = 1
        """}, says="plain number"),
]

RIGHT = [
    Answer("dummy index i", {CELL: """
        dL_dgamma = Sum(dy[i] * x_hat[i], (i, 1, m))
        """}),
    Answer("written out from x", {CELL: """
        dL_dgamma = Sum(dy[j] * (x[j] - mu_B), (j, 1, m)) / sqrt(sigma2_B + eps)
        """}),
    Answer("fully expanded, no shorthands", {CELL: """
        dL_dgamma = Sum(dy[j] * (x[j] - Sum(x[i], (i, 1, m)) / m)
                        / sqrt(Sum((x[i] - Sum(x[j], (j, 1, m)) / m)**2, (i, 1, m)) / m + eps), (j, 1, m))
        """}),
    Answer("evaluated Derivative (doit)", {CELL: """
        dL_dgamma = sp.Derivative(Sum(dy[j] * (gamma * x_hat[j] + beta), (j, 1, m)), gamma).doit()
        """}),
    Answer("dL/dbeta with dummy index i", {BETA: """
        dL_dbeta = Sum(dy[i], (i, 1, m))
        """}),
    Answer("dL/dbeta through the chain rule, evaluated", {BETA: """
        dL_dbeta = sp.Derivative(Sum(dy[j] * (gamma * x_hat[j] + beta), (j, 1, m)), beta).doit()
        """}),
]
