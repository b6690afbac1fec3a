"""Data sets the notebooks train on; all of them ship with scikit-learn (no download)."""
import importlib.util
import os
from collections import namedtuple

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

Split = namedtuple("Split", ["X_train", "y_train", "X_test", "y_test"])


def digits_raw():
    """scikit-learn's 8x8 digits as (X, y): X float64 (1797, 64) with pixel values 0..16, y int labels.

    Read straight from the file scikit-learn ships, which is faster than `load_digits`.
    """
    spec = importlib.util.find_spec("sklearn")
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if os.path.exists(path):
        data = np.loadtxt(path, delimiter=",")
        return data[:, :-1], data[:, -1].astype(int)
    from sklearn.datasets import load_digits  # a future layout of scikit-learn's files

    return load_digits(return_X_y=True)


def digits(test_fraction=0.2, seed=0):
    """The 8x8 handwritten digits (1797 images, 10 classes), standardised, with a held-out test set.

    Each pixel is standardised with the mean and standard deviation of the *training* images only,
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
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return Split(scaler.transform(X_train), y_train, scaler.transform(X_test), y_test)
