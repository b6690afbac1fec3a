"""The data set the notebooks train on: 8x8 images of handwritten digits, shipped with the course (no download).

The images are the test set of "Optical Recognition of Handwritten Digits" from the UCI Machine Learning
Repository, by E. Alpaydin and C. Kaynak (1998), https://doi.org/10.24432/C50P49, licensed under CC BY 4.0:
1797 images of 8x8 pixels, each pixel the number of ink dots (0..16) in a 4x4 block of a 32x32 bitmap.
They are stored unchanged in `digits.npz` next to this module (X: uint8 (1797, 64), y: uint8 (1797,)),
in the order of the UCI file.
"""
import os
from collections import namedtuple

import numpy as np

Split = namedtuple("Split", ["X_train", "y_train", "X_test", "y_test"])

_DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.npz")


def digits_raw():
    """The 8x8 digits as (X, y): X float64 (1797, 64) with pixel values 0..16, y int labels 0..9, shape (1797,).

    Row i of X is image i, its 8 rows of 8 pixels one after the other; the order is fixed (that of the UCI file).
    """
    with np.load(_DIGITS) as data:
        return data["X"].astype(np.float64), data["y"].astype(int)


def _stratified_split(y, test_fraction, seed):
    """Indices of a random train/test split that keeps the share of every class.

    The test set has ceil(test_fraction * N) examples; each class gets its share of them, rounded so that the
    shares add up (the classes with the largest remainders get one more).

    Inputs:
    - y: int labels, shape (N,)
    - test_fraction: share of the examples held out for testing, strictly between 0 and 1
    - seed: seed of the random choice and order

    Returns a tuple of:
    - train: int indices into y, shape (N - N_test,), in random order
    - test: int indices into y, shape (N_test,), in random order
    """
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    n_test = int(np.ceil(test_fraction * len(y)))
    quota = counts * (n_test / len(y))
    per_class = np.floor(quota).astype(int)
    largest_remainders = np.argsort(-(quota - per_class), kind="stable")
    per_class[largest_remainders[:n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label, k in zip(classes, per_class):
        members = rng.permutation(np.flatnonzero(y == label))
        test.append(members[:k])
        train.append(members[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def digits(test_fraction=0.2, seed=0):
    """The 8x8 handwritten digits (1797 images, 10 classes), standardised, with a held-out test set.

    The test set is drawn at random within each class, so that both sets have the same share of every
    digit. Each pixel is standardised with the mean and standard deviation of the *training* images only,
    so nothing about the test images leaks into training (pixels that are constant in the training
    set are only centred).

    Inputs:
    - test_fraction: share of the images held out for testing, stratified by class
    - seed: seed of the random split

    Returns a Split (a named tuple) of:
    - X_train: float64, shape (N_train, 64); N_train = 1437 for the default test_fraction
    - y_train: int, shape (N_train,), labels 0..9
    - X_test: float64, shape (N_test, 64); N_test = 360 for the default test_fraction
    - y_test: int, shape (N_test,)
    Raises ValueError if test_fraction is not strictly between 0 and 1.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction}")
    X, y = digits_raw()
    train, test = _stratified_split(y, test_fraction, seed)
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Split((X[train] - mean) / std, y[train], (X[test] - mean) / std, y[test])
