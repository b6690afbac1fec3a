"""Numerical gradients by centered differences, and the relative error to compare them with.

The test cells use these to check a backward pass against its forward pass, the way cs231n's
`gradient_check.py` does. Exercise B3 asks you to write your own versions: read these after.
"""
import numpy as np


def numerical_gradient(f, x, dout, h=1e-5):
    """Centered-difference gradient of sum(f() * dout) with respect to the array x.

    Inputs:
    - f: function of no arguments that reads x (which is perturbed in place) and returns an
      array of the shape of dout
    - x: float64 array of any shape; every perturbed entry is restored before returning
    - dout: upstream gradient, same shape as f()
    - h: step; 1e-5 balances truncation error O(h^2) against round-off O(eps/h) in float64
    Returns an array of the shape of x.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(*x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.array(f(), dtype=np.float64, copy=True)
        x[index] = old - h
        minus = np.array(f(), dtype=np.float64, copy=True)
        x[index] = old
        grad[index] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def gradient_of(f, x, dout, h=1e-5):
    """numerical_gradient for an f that takes the array: the centered-difference gradient of
    sum(f(x) * dout) with respect to x (perturbed in place, every entry restored)."""
    return numerical_gradient(lambda: f(x), x, dout, h)


def rel_error(a, b):
    """Largest relative error max |a - b| / max(|a| + |b|, 1e-8) between two arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient_of(obj, name, f, dout, h=1e-5):
    """Centered-difference gradient of sum(f() * dout) with respect to the array attribute
    `obj.<name>` (a layer's gamma, say).

    Each perturbed value is set with setattr before f() is called, so this works whether the layer
    lives in this process or is one the grader reaches in the student's kernel. Afterwards
    `obj.<name>` holds a float64 copy of the original values. Returns an array of its shape.
    """
    value = np.array(getattr(obj, name), dtype=np.float64, copy=True)

    def with_value():
        setattr(obj, name, value)
        return f()

    try:
        return numerical_gradient(with_value, value, dout, h)
    finally:
        setattr(obj, name, value)
