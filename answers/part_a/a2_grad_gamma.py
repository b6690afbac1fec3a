"""Answers to A2 (dL/dgamma as a SymPy expression) beside the reference solution."""
from answers import Answer

CELL = "a2-dgamma"

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
]
