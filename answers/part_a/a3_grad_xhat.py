"""Answers to A3 (dL/dx_hat_i as a SymPy expression) beside the reference solution."""
from answers import Answer

CELL = "a3-dxhat"

ONE_TASK_PER_MISTAKE = True  # each test takes only its own answer

WRONG = [
    Answer("dL/dx_hat without gamma", {CELL: """
        dL_dxhat_i = dy[i]
        """}, says="a factor 1/gamma"),
    Answer("summed over the batch", {CELL: """
        dL_dxhat_i = gamma * Sum(dy[j], (j, 1, m))
        """}, says="only y_i depends on x_hat_i"),
    Answer("beta added", {CELL: """
        dL_dxhat_i = gamma * dy[i] + beta
        """}, says="extra term beta"),
    Answer("a float", {CELL: """
        dL_dxhat_i = 1.0
        """}, says="plain number"),
]

RIGHT = [
    Answer("written the other way round", {CELL: """
        dL_dxhat_i = dy[i] * gamma
        """}),
    Answer("as a derivative that is evaluated", {CELL: """
        dL_dxhat_i = sp.diff(dy[i] * (gamma * x_hat[i] + beta), x_hat[i])
        """}),
]
