"""*Build it* checks: a Keras model checked for what the exercise asked (input, output, activation, loss, layers),
then trained briefly on seeded data to a stated score.

The learner's own model is trained (as the exercise says), for a fixed number of epochs on a fixed, seeded sample,
so that the score is the model's and not the luck of a draw.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from keraslab.exercises.checking import FAILED, NOT_ATTEMPTED, PASSED, Verdict, show, unavailable


@dataclass(frozen=True)
class Need:
    """A property the model must have, said as the learner reads it ("a Dropout layer of rate 0.5")."""

    says: str
    holds: Callable[[list], bool]  # the model's layers -> bool


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def loss_name(loss) -> str:
    """'sparse_categorical_crossentropy' for the string, the Keras class or the Keras function."""
    if isinstance(loss, str):
        return loss.lower()
    if isinstance(loss, dict | list | tuple):
        return "several losses"
    named = getattr(loss, "fn", None) or loss  # a Keras LossFunctionWrapper keeps the function
    name = getattr(named, "__name__", None) or type(named).__name__
    return _snake(name) if name[:1].isupper() else name


def activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return _snake(type(layer).__name__)  # an Activation or Softmax layer of its own
    return getattr(activation, "__name__", str(activation))


def _not_a_model(exercise: str, model) -> Verdict:
    if isinstance(model, type):
        message = f"received the class {model.__name__} itself, not a model: call it, {model.__name__}([...layers])"
    else:
        message = f"expected a Keras model, received {type(model).__name__} {show(model, 60)}"
    return Verdict(exercise, FAILED, message)


def _shapes(model, input_shape: tuple, outputs: int) -> tuple[str, str, str] | None:
    """(what is wrong, expected, received) about the model's input and output shapes, or None."""
    try:
        given_input = tuple(model.input_shape[1:])
        given_output = tuple(model.output_shape[1:])
    except (AttributeError, ValueError):
        return "the model has no input shape yet", f"keras.Input(shape={input_shape}) first", "a model not built"
    if given_input != tuple(input_shape):
        return (
            "the input has the wrong shape",
            f"(batch, {', '.join(map(str, input_shape))})",
            f"(batch, {', '.join(map(str, given_input))})",
        )
    if given_output != (outputs,):
        return "the output has the wrong shape", f"(batch, {outputs})", f"(batch, {', '.join(map(str, given_output))})"
    return None


def inspect(
    exercise: str,
    model,
    *,
    input_shape: tuple,
    outputs: int,
    activation: str,
    losses: Sequence[str],
    needs: Sequence[Need] = (),
    hint: str,
) -> Verdict | None:
    """The first way `model` differs from what was asked (a Verdict), or None when it is as asked."""
    import keras

    if model is None or model is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: build and compile the model, then run the cell")
    if not isinstance(model, keras.Model):
        return _not_a_model(exercise, model)

    def wrong(message: str, expected: str, received: str) -> Verdict:
        return Verdict(exercise, FAILED, message, (("expected", expected), ("received", received), ("hint", hint)))

    shapes = _shapes(model, input_shape, outputs)
    if shapes:
        return wrong(*shapes)
    last = activation_name(model.layers[-1])
    if last != activation:
        return wrong("the last layer's activation is not the one asked", activation, str(last))
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return wrong("the model is not compiled", "model.compile(optimizer=..., loss=...)", "no compile")
    given_loss = loss_name(model.loss)
    if given_loss not in losses:
        return wrong("the loss is not the one this task needs", " or ".join(losses), given_loss)
    for need in needs:
        if not need.holds(list(model.layers)):
            layers = ", ".join(f"{type(layer).__name__}" for layer in model.layers)
            return wrong(f"the model lacks {need.says}", need.says, layers)
    return None


def train_and_score(
    exercise: str,
    model,
    data: tuple,
    *,
    epochs: int,
    target: float,
    seed: int,
    batch_size: int = 32,
    score: str = "accuracy",
    what: str,
    hint: str,
) -> Verdict:
    """Train `model` on data = (x_train, y_train, x_test, y_test) for `epochs` (seeded) and compare its test score
    with `target`."""
    from keraslab.seeding import set_seed

    x_train, y_train, x_test, y_test = data
    set_seed(seed)
    try:
        model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
        proba = np.asarray(model.predict(x_test, batch_size=1024, verbose=0))
    except Exception as exc:  # the learner's model: its error is the verdict
        return Verdict(
            exercise,
            FAILED,
            f"training raised {type(exc).__name__}",
            (("error", str(exc).splitlines()[0] if str(exc) else ""), ("hint", hint)),
        )
    y_pred = proba.argmax(axis=1) if proba.shape[-1] > 1 else (proba.ravel() >= 0.5).astype(int)
    if score == "accuracy":
        value = float(np.mean(y_pred == y_test))
    else:  # F1 of class 1
        from sklearn.metrics import f1_score

        value = float(f1_score(y_test, y_pred, zero_division=0))
    message = f"test {score} {value:.3f} after {epochs} epoch(s) on {what} (the target: {target:.2f} or more)"
    if value >= target:
        return Verdict(exercise, PASSED, f"passed: as asked, and {message}")
    return Verdict(exercise, FAILED, f"as asked, but {message}", (("hint", hint),))


def image_data(name: str, *, train: int, test: int, seed: int, data_dir=None, flat: bool = False):
    """A seeded sample of an image data set, pixels in [0, 1], and what it is: ((x_train, y_train, x_test, y_test),
    description). Where `name` is not on this machine, the digits that ship with keraslab (mnist_5k, split 4,000 /
    1,000) stand in, as they do for a quick run of a lesson, and the description says so."""
    from keraslab import datasets
    from keraslab.errors import DataError

    about = {"mnist": "MNIST digits", "fashion_mnist": "Fashion-MNIST images"}.get(name, f"{name} images")
    source = name if datasets.is_available(name, data_dir) else "mnist_5k"
    try:
        if source == name:
            (x_train, y_train), (x_test, y_test) = datasets.load(name, scale=True, data_dir=data_dir, quiet=True)
        else:
            (x_train, y_train), (x_test, y_test) = datasets.load_split(source, seed=0, scale=True, data_dir=data_dir)
    except DataError as exc:
        raise unavailable(f"{exc} (keraslab data fetch {name})") from None
    train, test = min(train, len(y_train)), min(test, len(y_test))
    if source == name:
        what = f"{train:,} {about} for training, scored on {test:,} more"
    else:
        what = (
            f"{train:,} digits of mnist_5k for training, scored on {test:,} more (the digits that ship with keraslab, "
            f"standing in for the {about}, which are not on this machine: keraslab data fetch {name})"
        )
    rng = np.random.default_rng(seed)
    a = rng.permutation(len(y_train))[:train]
    b = rng.permutation(len(y_test))[:test]
    x_train, x_test = x_train[a], x_test[b]
    if flat:
        x_train, x_test = x_train.reshape(len(a), -1), x_test.reshape(len(b), -1)
    return (x_train, y_train[a], x_test, y_test[b]), what
