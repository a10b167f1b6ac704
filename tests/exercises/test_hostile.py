"""Never a traceback, whatever is passed: every checker fed every kind of thing a learner may pass by mistake (and,
for a *write it* check, a function returning it) gives a verdict of its own, one that names what it received, never
the last-resort "could not read"."""

from __future__ import annotations

import numpy as np
import pytest

from keraslab.exercises import checkers, evaluate
from keraslab.exercises.checking import FAILED, NOT_ATTEMPTED, UNREADABLE

CONTEXT = {
    "losses.outlier": {"measured": 100.0, "mae_factor": 10.0},
    "gradient_descent.learning_rate": {"measured": "lower", "losses": {0.1: 0.5, 1.0: 0.3}},
    "gd_variants.sgd_vs_batch": {"measured": "lower", "costs": {"sgd": 0.1, "batch": 0.2}},
    "churn.threshold": {"measured": "up", "recalls": {0.5: 0.5, 0.3: 0.7}},
    "imbalance.undersampling_precision": {"measured": "down", "precision": {"baseline": 0.6, "undersample": 0.4}},
    "cnn.output_shape": {"measured": (12, 12, 16)},
    "dropout.inference": {"measured": "different"},
    "mnist.param_count": {"measured": 79510},
    "cifar10_ann.param_count": {"measured": 4083010},
    "cnn.conv_params": {"measured": 1792},
}
TABLE = (np.zeros((8, 3)), np.array([0, 1] * 4), np.zeros((4, 3)), np.array([0, 1] * 2))
for name in ("churn.network", "dropout.network", "imbalance.logistic"):
    CONTEXT[name] = {"data": TABLE}


def _raises(*args, **kwargs):
    raise RuntimeError("the learner's bug")


class _Broken:
    """An object whose every reading raises."""

    def __repr__(self):
        raise ValueError("no repr")

    def __array__(self, *args, **kwargs):
        raise ValueError("no array")

    def __iter__(self):
        raise ValueError("no iteration")

    def __len__(self):
        raise ValueError("no len")


def _keras_model():
    import keras

    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])


HOSTILE = {
    "a string": lambda: "hello",
    "None": lambda: None,
    "a number": lambda: 3,
    "a bool": lambda: True,
    "a class": lambda: dict,
    "a function that raises": lambda: _raises,
    "a Keras model": _keras_model,
    "NaN": lambda: float("nan"),
    "an empty array": lambda: np.array([]),
    "a huge array": lambda: np.zeros(10_000_000),
    "a generator": lambda: (i for i in range(3)),
    "an object that cannot be read": _Broken,
}


def _said(verdict) -> str:
    text = str(verdict)
    assert verdict.status in (FAILED, NOT_ATTEMPTED), text
    assert UNREADABLE not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("exercise", sorted(checkers()))
def test_every_checker_gives_a_verdict_of_its_own_whatever_it_is_given(exercise):
    context = CONTEXT.get(exercise, {})
    for what, make in HOSTILE.items():
        answer = make()
        text = _said(evaluate(exercise, answer, **context))
        if what == "None":
            assert "not attempted yet" in text, text


@pytest.mark.parametrize("exercise", sorted(e for e, c in checkers().items() if c.kind == "write it"))
def test_every_write_check_gives_a_verdict_whatever_the_function_returns(exercise):
    for what, make in HOSTILE.items():
        if what == "None":
            continue
        value = make()
        _said(evaluate(exercise, lambda *args, value=value, **kwargs: value))
    _said(evaluate(exercise, lambda: 0.0))  # a function that takes the wrong number of arguments


@pytest.mark.parametrize("exercise", sorted(e for e, c in checkers().items() if c.kind == "build it"))
def test_a_function_where_a_model_is_asked_is_named(exercise):
    text = _said(evaluate(exercise, lambda x: x, **CONTEXT.get(exercise, {})))
    assert "function" in text or "expected a" in text, text


@pytest.mark.parametrize("exercise", sorted(e for e, c in checkers().items() if c.kind == "write it"))
def test_a_keras_model_where_a_function_is_asked_is_named(exercise):
    text = _said(evaluate(exercise, _keras_model()))
    assert "received a Keras Sequential, not a function" in text, text
